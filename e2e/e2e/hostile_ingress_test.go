//go:build e2e

package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/stack"
)

// inboundPayload is a signed-shape message.received with a raw payload.
func inboundPayload(eventID, payload string) []byte {
	return []byte(`{"data":{"event_type":"message.received","id":"` + eventID + `","occurred_at":"2026-06-18T12:00:00Z","payload":` + payload + `}}`)
}

// TestHostileInputAtTheIngress sends each class of hostile input through the real ingress, worker and fake
// Telnyx: the answer, and what Telnyx was asked to send (nothing, or a reply from the right number).
func TestHostileInputAtTheIngress(t *testing.T) {
	const ours2 = "+13125550101"
	numbers := "TELNYX_PHONE_NUMBER=+13125550100," + ours2
	s, c := start(t, stack.Options{Workers: 1, IngressEnv: []string{numbers}, WorkerEnv: []string{numbers}})
	ctx := ctxT(t, 2*time.Minute)
	long := strings.Repeat("7", 4000)
	webhooks := []struct {
		name, body, wantStatus string
		// replyTo, when set, is the user a reply must reach, from replyFrom; otherwise nothing is sent to silent.
		replyTo, replyFrom, silent string
	}{
		{"from one of our numbers", `{"id":"h1","from":{"phone_number":"` + ours2 + `"},"to":[{"phone_number":"` + s.OurNumber + `"}],"text":"hello"}`,
			"ignored", "", "", ours2},
		{"not addressed to our numbers", `{"id":"h2","from":{"phone_number":"+12125550171"},"to":[{"phone_number":"+12125550172"}],"text":"hello"}`,
			"ignored", "", "", "+12125550171"},
		{"sender of a few thousand bytes", `{"id":"h3","from":{"phone_number":"` + long + `"},"to":[{"phone_number":"` + s.OurNumber + `"}],"text":"hello"}`,
			"invalid", "", "", long},
		{"unparseable sender", `{"id":"h4","from":{"phone_number":"ABC"},"to":[{"phone_number":"` + s.OurNumber + `"}],"text":"hello"}`,
			"invalid", "", "", "ABC"},
		{"group MMS: ours in cc", `{"id":"h5","from":{"phone_number":"+12125550175"},"to":[{"phone_number":"+12125550176"}],"cc":[{"phone_number":"` + ours2 + `"}],"text":"hello"}`,
			"queued", "+12125550175", ours2, "+12125550176"},
		{"unnormalized sender", `{"id":"h6","from":{"phone_number":"1 (212) 555-0177"},"to":[{"phone_number":"` + s.OurNumber + `"}],"text":"hello"}`,
			"queued", "+12125550177", s.OurNumber, ""},
	}
	for i, w := range webhooks {
		status, raw, err := c.PostWebhook(ctx, inboundPayload("e-hostile-"+strconv.Itoa(i), w.body))
		var got map[string]string
		_ = json.Unmarshal(raw, &got)
		if err != nil || status != 200 || got["status"] != w.wantStatus {
			t.Fatalf("%s: answered %d %s %v, want 200 %q", w.name, status, raw, err, w.wantStatus)
		}
	}
	sends := []struct{ name, to, wantError string }{
		{"to our number", s.OurNumber, "one of our own numbers"},
		{"to premium-rate", "+19002345678", "premium-rate"},
	}
	for _, sd := range sends {
		var got map[string]string
		status, _, err := c.Admin(ctx, "POST", "/sms/send", map[string]string{"to": sd.to, "message": "x"}, &got)
		if err != nil || status != 422 || !strings.Contains(got["error"], sd.wantError) {
			t.Fatalf("send %s: %d %v %v", sd.name, status, got, err)
		}
	}
	// A sentinel message after all the others: once it is answered and the queues are idle, anything the
	// hostile input would have sent has been sent.
	sentinel := "+12125550179"
	if status, raw, err := c.PostWebhook(ctx, stack.Inbound("e-sentinel", "m-sentinel", sentinel, s.OurNumber, "hello", time.Now())); err != nil || status != 200 {
		t.Fatalf("sentinel: %d %s %v", status, raw, err)
	}
	if _, err := c.WaitDelivered(ctx, sentinel, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	all, err := c.Delivered(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range webhooks {
		var to []stack.Delivered
		for _, d := range all {
			if d.To == w.replyTo && w.replyTo != "" {
				to = append(to, d)
			}
			if w.silent != "" && d.To == w.silent {
				t.Errorf("%s: Telnyx was asked to send %q to %s", w.name, d.Text, d.To)
			}
		}
		if w.replyTo != "" && (len(to) != 1 || to[0].From != w.replyFrom) {
			t.Errorf("%s: sent %+v, want one reply to %s from %s", w.name, to, w.replyTo, w.replyFrom)
		}
	}
	if len(all) != 3 { // the two answered webhooks and the sentinel
		t.Errorf("Telnyx was asked to send %d messages, want 3: %+v", len(all), all)
	}
}
