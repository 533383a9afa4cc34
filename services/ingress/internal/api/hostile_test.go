package api_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/services/ingress/internal/api"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/phone"
)

const (
	ourOther  = "+15550001001" // our second number
	otherUser = "+12125559876"
)

// inboundBody is a signed-shape message.received with the given payload fields spliced in.
func inboundBody(eventID, payload string) []byte {
	return []byte(`{"data":{"event_type":"message.received","id":"` + eventID + `","occurred_at":"2024-05-14T20:00:00Z","payload":` + payload + `}}`)
}

// stored is the last message of a stream, nil when it is empty.
func (e *env) stored(stream string) *jetstream.RawStreamMsg {
	e.t.Helper()
	s := e.jsStream(e.t, stream)
	info, err := s.Info(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	if info.State.Msgs == 0 {
		return nil
	}
	raw, err := s.GetMsg(context.Background(), info.State.LastSeq)
	if err != nil {
		e.t.Fatal(err)
	}
	return raw
}

// TestHostileWebhooks sends each class of hostile but signed input through the real handler, NATS and Redis:
// each is answered 2xx (Telnyx redelivers anything else), kept where the README says, and never takes the
// connection down: a normal webhook is queued after every case.
func TestHostileWebhooks(t *testing.T) {
	long := strings.Repeat("9", 4000)
	tests := []struct {
		name       string
		body       []byte
		wantStatus string // the answer's status field
		wantReason string // part of the answer's reason (and of the kept event's header)
		// wantSubject is where it is kept: the stored subject (conv.* is partitioned, so only its prefix).
		wantSubject string
		check       func(t *testing.T, raw *jetstream.RawStreamMsg)
	}{
		{"from of a few thousand bytes", inboundBody("h1", `{"id":"m1","from":{"phone_number":"`+long+`"},"to":[{"phone_number":"`+ourNumber+`"}],"text":"x"}`),
			"invalid", "from.phone_number", events.SubjectInvalid, nil},
		{"to of a few thousand bytes", inboundBody("h2", `{"id":"m2","from":{"phone_number":"`+userNumber+`"},"to":[{"phone_number":"`+long+`"}],"text":"x"}`),
			"invalid", "to[0].phone_number", events.SubjectInvalid, nil},
		{"event_type of a few thousand bytes", []byte(`{"data":{"event_type":"` + strings.Repeat("a", 4000) + `","id":"h3","payload":{}}}`),
			"invalid", "event_type is 4000 bytes", events.SubjectInvalid, nil},
		{"event id of a few thousand bytes", []byte(`{"data":{"event_type":"message.received","id":"` + strings.Repeat("i", 4000) + `","payload":{}}}`),
			"invalid", "id is 4000 bytes", events.SubjectInvalid, nil},
		{"malformed JSON", []byte(`{"data":`), "invalid", "invalid JSON", events.SubjectInvalid, nil},
		{"no event type", []byte(`{"data":{"id":"h5"}}`), "invalid", "missing data.event_type", events.SubjectInvalid, nil},
		{"unparseable sender", inboundBody("h6", `{"id":"m6","from":{"phone_number":"ABC"},"to":[{"phone_number":"`+ourNumber+`"}],"text":"x"}`),
			"invalid", "from.phone_number", events.SubjectInvalid, nil},
		{"no sender", inboundBody("h7", `{"id":"m7","to":[{"phone_number":"`+ourNumber+`"}],"text":"x"}`),
			"invalid", "missing data.payload.from.phone_number", events.SubjectInvalid, nil},
		{"receipt without message id", []byte(`{"data":{"event_type":"message.finalized","id":"h8","payload":{"to":[{"phone_number":"+13125550123","status":"delivered"}]}}}`),
			"invalid", "missing data.payload.id", events.SubjectInvalid, nil},
		{"text over the bound", inboundBody("h9", `{"id":"m9","from":{"phone_number":"`+userNumber+`"},"to":[{"phone_number":"`+ourNumber+`"}],"text":"`+strings.Repeat(`\"`, 70<<10)+`"}`),
			"invalid", "text is", events.SubjectInvalid, nil},
		{"unknown event over the queue's message limit", []byte(`{"data":{"event_type":"link_clicked","id":"h10","payload":{"pad":"` + strings.Repeat("p", 1500<<10) + `"}}}`),
			"invalid", "over the queue's limit", events.SubjectInvalid, func(t *testing.T, raw *jetstream.RawStreamMsg) {
				if n, _ := strconv.Atoi(raw.Header.Get(events.HeaderTruncated)); n <= len(raw.Data) {
					t.Fatalf("kept %d bytes with %s %q: want the body cut and its full size", len(raw.Data), events.HeaderTruncated, raw.Header.Get(events.HeaderTruncated))
				}
			}},
		{"not addressed to our numbers", inboundBody("h11", `{"id":"m11","from":{"phone_number":"`+userNumber+`"},"to":[{"phone_number":"`+otherUser+`"}],"text":"x"}`),
			"ignored", "not addressed to our numbers", events.SubjectIgnored, decodesAs(otherUser, userNumber)},
		{"sent from one of our numbers", inboundBody("h12", `{"id":"m12","from":{"phone_number":"`+ourOther+`"},"to":[{"phone_number":"`+ourNumber+`"}],"text":"x"}`),
			"ignored", "sent from one of our numbers", events.SubjectIgnored, decodesAs(ourNumber, ourOther)},
		{"from equal to to", inboundBody("h13", `{"id":"m13","from":{"phone_number":"`+ourNumber+`"},"to":[{"phone_number":"`+ourNumber+`"}],"text":"x"}`),
			"ignored", "sent from one of our numbers", events.SubjectIgnored, decodesAs(ourNumber, ourNumber)},
		{"group MMS: ours is not to[0]", inboundBody("h14", `{"id":"m14","from":{"phone_number":"`+userNumber+`"},"to":[{"phone_number":"`+otherUser+`"}],"cc":[{"phone_number":"`+ourOther+`"}],"text":"x"}`),
			"queued", "", "conv.", decodesAs(ourOther, userNumber)},
		{"unnormalized sender", inboundBody("h15", `{"id":"m15","from":{"phone_number":"1 (212) 555-1234"},"to":[{"phone_number":"١٥٥٥٠٠٠١٠٠٠"}],"text":"x"}`),
			"queued", "", "conv.", decodesAs(ourNumber, userNumber)},
		{"received_at past year 9999", inboundBody("h16", `{"id":"m16","from":{"phone_number":"`+userNumber+`"},"to":[{"phone_number":"`+ourNumber+`"}],"text":"x","received_at":253402300800000}`),
			"queued", "", "conv.", decodesAs(ourNumber, userNumber)},
		{"top-level envelope", []byte(`{"record_type":"event","event_type":"message.received","id":"h17","payload":{"id":"m17","from":{"phone_number":"` + userNumber + `"},"to":[{"phone_number":"` + ourNumber + `"}],"text":"x"}}`),
			"queued", "", "conv.", decodesAs(ourNumber, userNumber)},
	}
	e := newEnv(t, func(d *api.Deps) {
		d.OurNumbers = phone.Numbers{ourNumber, ourOther}
		d.WebhookMaxBody = 2 << 20
	})
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got map[string]string
			resp := e.webhook(tc.body, time.Now(), &got)
			if resp.StatusCode != 200 || got["status"] != tc.wantStatus || !strings.Contains(got["reason"], tc.wantReason) {
				t.Fatalf("answered %d %v, want 200 %q with reason %q", resp.StatusCode, got, tc.wantStatus, tc.wantReason)
			}
			stream := events.StreamEvents
			if strings.HasPrefix(tc.wantSubject, "conv.") {
				stream = events.StreamConversations
			}
			raw := e.stored(stream)
			if raw == nil || !strings.HasPrefix(raw.Subject, tc.wantSubject) {
				t.Fatalf("kept %+v, want subject %s", raw, tc.wantSubject)
			}
			if reason := raw.Header.Get(events.HeaderReason); !strings.Contains(reason, tc.wantReason) || (tc.wantReason == "") != (reason == "") {
				t.Fatalf("kept with reason %q, want %q", reason, tc.wantReason)
			}
			if tc.check != nil {
				tc.check(t, raw)
			}
			// The connection survived: an ordinary webhook is still queued.
			ok := inboundBody("ok-"+strconv.Itoa(i), `{"id":"ok-`+strconv.Itoa(i)+`","from":{"phone_number":"`+userNumber+`"},"to":[{"phone_number":"`+ourNumber+`"}],"text":"hi"}`)
			if resp := e.webhook(ok, time.Now(), &got); resp.StatusCode != 200 || got["status"] != "queued" {
				t.Fatalf("next webhook answered %d %v", resp.StatusCode, got)
			}
		})
	}
}

// decodesAs checks a kept inbound is a Message that decodes again, filed under our and user.
func decodesAs(our, user string) func(*testing.T, *jetstream.RawStreamMsg) {
	return func(t *testing.T, raw *jetstream.RawStreamMsg) {
		t.Helper()
		m, err := events.Decode(raw.Data)
		if err != nil {
			t.Fatalf("kept event does not decode: %v", err)
		}
		if m.OurNumber != our || m.UserNumber != user {
			t.Fatalf("filed under our %s user %s, want %s %s", m.OurNumber, m.UserNumber, our, user)
		}
	}
}

// TestHealthzWhenNATSClosedForGood: a publish over the server's control-line limit (what the ingress never
// sends any more) makes the server drop the client, and nats.go closes the connection for good; /healthz then
// says so, so a liveness probe restarts the process (which also exits by itself: app tests).
func TestHealthzWhenNATSClosedForGood(t *testing.T) {
	e := newEnv(t)
	var got map[string]string
	if resp := e.do("GET", "/healthz", nil, nil, &got); resp.StatusCode != 200 {
		t.Fatalf("healthz before: %d %v", resp.StatusCode, got)
	}
	closed := make(chan struct{})
	e.nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := e.nc.Publish("events."+strings.Repeat("x", 8<<10), []byte("x")); err != nil {
		t.Fatal(err)
	}
	<-closed
	if resp := e.do("GET", "/healthz", nil, nil, &got); resp.StatusCode != 503 || got["nats"] != "closed" {
		t.Fatalf("healthz with the connection closed: %d %v", resp.StatusCode, got)
	}
}

// TestSendRefusesHostileRequests: /sms/send refuses what would text ourselves, from a number not ours, cost
// more than a message, or that Telnyx would refuse; nothing is queued or recorded for a refused request.
func TestSendRefusesHostileRequests(t *testing.T) {
	e := newEnv(t, func(d *api.Deps) { d.OurNumbers = phone.Numbers{ourNumber, ourOther} })
	gsm11 := strings.Repeat("a", 153*10+1) // 11 GSM-7 parts, under 1,600 characters
	ucs11 := strings.Repeat("é€😀", 180)    // UCS-2: 11 parts
	tests := []struct {
		name, body, wantError string
	}{
		{"to our number", `{"to":"` + ourNumber + `","message":"x"}`, "to: one of our own numbers"},
		{"to our other number", `{"to":"` + ourOther + `","message":"x"}`, "to: one of our own numbers"},
		{"from not ours", `{"to":"` + userNumber + `","from":"` + otherUser + `","message":"x"}`, "from: not one of our numbers"},
		{"premium-rate", `{"to":"+19002345678","message":"x"}`, "to: a premium-rate number"},
		{"shared-cost", `{"to":"+33884012345","message":"x"}`, "to: a shared-cost number"},
		{"NUL only", `{"to":"` + userNumber + `","message":"\u0000\u0000"}`, "control character U+0000"},
		{"control character", `{"to":"` + userNumber + `","message":"hi\u0007"}`, "control character U+0007"},
		{"invisible only", `{"to":"` + userNumber + `","message":" \u200b\u00a0 "}`, "message: required"},
		{"11 GSM-7 segments", `{"to":"` + userNumber + `","message":"` + gsm11 + `"}`, "11 segments (gsm7), at most 10"},
		{"11 UCS-2 segments", `{"to":"` + userNumber + `","message":"` + ucs11 + `"}`, "11 segments (ucs2), at most 10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got map[string]string
			resp := e.do("POST", "/sms/send", []byte(tc.body), e.admin(), &got)
			if resp.StatusCode != 422 || !strings.Contains(got["error"], tc.wantError) {
				t.Fatalf("answered %d %v, want 422 %q", resp.StatusCode, got, tc.wantError)
			}
		})
	}
	if n := e.streamMsgs(events.StreamConversations); n != 0 {
		t.Fatalf("refused sends queued %d messages", n)
	}
	if n, err := e.redis.Client().DBSize(context.Background()).Result(); err != nil || n != 0 {
		t.Fatalf("refused sends left %d Redis keys (%v)", n, err)
	}
	// From our other number, to a user, with 10 segments: sent.
	var got map[string]string
	body := `{"to":"` + userNumber + `","from":"` + ourOther + `","message":"` + strings.Repeat("a", 1530) + `"}`
	if resp := e.do("POST", "/sms/send", []byte(body), e.admin(), &got); resp.StatusCode != 202 || got["from"] != ourOther {
		t.Fatalf("send from our other number: %d %v", resp.StatusCode, got)
	}
	if _, m := e.lastConversationMsg(); m.OurNumber != ourOther || m.UserNumber != userNumber {
		t.Fatalf("queued %+v", m)
	}
}
