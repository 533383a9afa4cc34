package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/services/ingress/internal/api"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/phone"
	"github.com/smsconv/smsconv/shared/telnyx"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
)

// fuzzSeeds are the cases of issue 12 and the documented envelope shapes.
func fuzzSeeds() []string {
	in := func(payload string) string {
		return `{"data":{"event_type":"message.received","id":"s-` + strings.Repeat("1", len(payload)%7) + `","payload":` + payload + `}}`
	}
	big := strings.Repeat("9", 5000)
	return []string{
		in(`{"id":"m","from":{"phone_number":"` + userNumber + `"},"to":[{"phone_number":"` + ourNumber + `"}],"text":"hi"}`),
		in(`{"id":"m","from":{"phone_number":"` + big + `"},"to":[{"phone_number":"` + ourNumber + `"}],"text":"hi"}`),
		in(`{"id":"m","from":{"phone_number":"` + userNumber + `"},"to":[{"phone_number":"` + big + `"}],"text":"hi"}`),
		`{"data":{"event_type":"` + strings.Repeat("e", 5000) + `","id":"x","payload":{}}}`,
		in(`{"id":"m","from":{"phone_number":"` + userNumber + `"},"to":[{"phone_number":"` + ourNumber + `"}],"received_at":253402300800}`),
		in(`{"id":"m","from":{"phone_number":"` + userNumber + `"},"to":[{"phone_number":"` + ourNumber + `"}],"text":"` + strings.Repeat(`\u0000`, 30000) + `"}`),
		in(`{"id":"m","from":{"phone_number":"` + ourNumber + `"},"to":[{"phone_number":"` + ourNumber + `"}],"text":"loop"}`),
		in(`{"id":"m","from":{"phone_number":"` + userNumber + `"},"to":[{"phone_number":"+13125550001"}],"cc":[{"phone_number":"` + ourNumber + `"}]}`),
		in(`{"id":"m","from":{"phone_number":"1 212 555 1234"},"to":["١٥٥٥٠٠٠١٠٠٠"],"text":"digits"}`),
		in(`{"id":"X.1","from":"` + userNumber + `","to":"` + ourNumber + `","text":"a"}`),
		in(`{"id":"X_1","from":"` + userNumber + `","to":"` + ourNumber + `","text":"b"}`),
		in(`{"id":"rpl_x","from":"` + userNumber + `","to":"` + ourNumber + `","media":[{"url":"https://m/1"}]}`),
		`{"record_type":"event","event_type":"message.received","id":"t","payload":{"id":"m","from":{"phone_number":"` + userNumber + `"},"to":[{"phone_number":"` + ourNumber + `"}]}}`,
		`{"data":{"record_type":"link_clicked","url":"https://x","to":"` + userNumber + `"}}`,
		`{"data":{"event_type":"message.finalized","id":"r","payload":{"id":"t1","to":[{"phone_number":"` + userNumber + `","status":"delivered"}],"errors":[{"code":"1","title":"t"}]}}}`,
		`{"data":{"event_type":"message.sent","id":"r2","payload":{"to":[{"status":"sent"}]}}}`,
		`{"data":`, `[]`, `null`, `{}`,
	}
}

// FuzzWebhook drives signed bodies through the real handler, NATS JetStream and Redis (verify, parse, encode,
// subject, publish). It fails on any 5xx (a poison event must be kept and answered 2xx, and NATS must never drop
// the connection over what the ingress sent), on a stored message NATS would not have taken from a well-behaved
// client, and on a stored event that cannot be decoded again. make test runs it for FUZZ_TIME.
func FuzzWebhook(f *testing.F) {
	seed, err := base64.StdEncoding.DecodeString(telnyx.DevSeed)
	if err != nil {
		f.Fatal(err)
	}
	signer, err := fakeapi.NewSigner(seed)
	if err != nil {
		f.Fatal(err)
	}
	e := newEnv(f, func(d *api.Deps) {
		d.Verifier = telnyx.NewVerifier([]ed25519.PublicKey{signer.PublicKey()}, 300*time.Second)
		d.OurNumbers = phone.Numbers{ourNumber, ourOther}
	})
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s))
	}
	convs, evs := e.jsStream(f, events.StreamConversations), e.jsStream(f, events.StreamEvents)
	f.Fuzz(func(t *testing.T, body []byte) {
		before := [2]uint64{lastSeq(t, convs), lastSeq(t, evs)}
		sig, ts := signer.Sign(body, time.Now())
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, e.url+"/webhooks/sms", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(telnyx.HeaderSignature, sig)
		req.Header.Set(telnyx.HeaderTimestamp, ts)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusUnauthorized {
			t.Fatalf("answered %d %s", resp.StatusCode, answer)
		}
		if !e.nc.IsConnected() {
			t.Fatalf("NATS connection lost after answering %d %s", resp.StatusCode, answer)
		}
		maxPayload := int(e.nc.MaxPayload())
		for i, s := range []jetstream.Stream{convs, evs} {
			for seq := before[i] + 1; seq <= lastSeq(t, s); seq++ {
				raw, err := s.GetMsg(context.Background(), seq)
				if err != nil {
					t.Fatal(err)
				}
				checkStored(t, raw, maxPayload)
			}
		}
	})
}

// checkStored fails unless raw is a message a well-behaved publisher sends and its reader can decode.
func checkStored(t *testing.T, raw *jetstream.RawStreamMsg, maxPayload int) {
	t.Helper()
	if len(raw.Subject) > 256 || strings.ContainsAny(raw.Subject, " \t\r\n*>") || strings.Contains(raw.Subject, "..") {
		t.Fatalf("stored under subject %q", raw.Subject)
	}
	size := len(raw.Data)
	for k, vs := range raw.Header {
		for _, v := range vs {
			size += len(k) + len(v) + 4
		}
	}
	if size > maxPayload {
		t.Fatalf("stored %d bytes, over MaxPayload %d", size, maxPayload)
	}
	switch {
	case strings.HasPrefix(raw.Subject, "conv."), raw.Subject == events.SubjectIgnored:
		if _, err := events.Decode(raw.Data); err != nil {
			t.Fatalf("%s: %v", raw.Subject, err)
		}
		if raw.Subject == events.SubjectIgnored && raw.Header.Get(events.HeaderReason) == "" {
			t.Fatal("ignored event without a reason")
		}
	case raw.Subject == events.SubjectInvalid:
		if raw.Header.Get(events.HeaderReason) == "" {
			t.Fatal("invalid event without a reason")
		}
	case raw.Subject == events.EventSubject(events.EventMessageSent), raw.Subject == events.EventSubject(events.EventMessageFinalized):
		if _, err := events.DecodeReceipt(raw.Data); err != nil {
			t.Fatalf("%s: %v", raw.Subject, err)
		}
	default: // another event type, kept as Telnyx sent it: it parsed once, so it parses again
		if _, err := telnyx.ParseWebhook(raw.Data); err != nil || !json.Valid(raw.Data) {
			t.Fatalf("%s: kept a body that does not parse again: %v", raw.Subject, err)
		}
	}
}

func (e *env) jsStream(tb testing.TB, name string) jetstream.Stream {
	tb.Helper()
	s, err := e.js.Stream(context.Background(), name)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func lastSeq(t *testing.T, s jetstream.Stream) uint64 {
	t.Helper()
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}
