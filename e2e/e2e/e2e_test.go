//go:build e2e

// Package e2e tests the whole system as real processes: nats-server, redis-server, the sandbox as Telnyx,
// the ingress and workers, driven through signed webhooks and the admin API.
package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/stack"
	"github.com/smsconv/smsconv/shared/conversation"
)

var bins stack.Binaries

func TestMain(m *testing.M) { stack.TestMain(m, &bins) }

func start(t *testing.T, o stack.Options) (*stack.Stack, *stack.Client) {
	t.Helper()
	s := stack.StartT(t, bins, o)
	return s, s.Client()
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestSeedDialogEndToEnd(t *testing.T) {
	s, c := start(t, stack.Options{Workers: 2})
	ctx := ctxT(t, time.Minute)
	user := "+12125551234"
	t0 := time.Date(2026, 6, 18, 12, 0, 0, 0, time.UTC)
	unknown := "You said: 'What's up?'\n\nI didn't understand that command. Type 'help' to see available options."
	turns := []struct{ text, want string }{
		{"hello", conversation.ReplyGreeting},
		{"help", conversation.ReplyHelp},
		{"INFO", conversation.ReplyInfo},
		{"status", "Conversation started: 2026-06-18 12:00\nMessages exchanged: 4\nCurrent state: informed"},
		{"reset", conversation.ReplyReset},
		{"status", "Conversation started: 2026-06-18 12:04\nMessages exchanged: 2\nCurrent state: reset"},
		{" Stop ", conversation.ReplyStop}, // the opt-out confirmation, sent once
		{"What's up?", ""},                 // opted out: stored, not answered
		{"start", conversation.ReplyGreeting},
		{"What's up?", unknown},
	}
	// Sent as a burst, as fast as the ingress takes them: the replies must still come back in order.
	for i, turn := range turns {
		body := stack.Inbound(fmt.Sprintf("evt-%d", i), fmt.Sprintf("msg-%d", i), user, s.OurNumber, turn.text, t0.Add(time.Duration(i)*time.Minute))
		status, raw, err := c.PostWebhook(ctx, body)
		if err != nil || status != 200 || !strings.Contains(string(raw), `"queued"`) {
			t.Fatalf("webhook %d: %d %s %v", i, status, raw, err)
		}
	}
	var want []string
	for _, turn := range turns {
		if turn.want != "" {
			want = append(want, turn.want)
		}
	}
	if _, err := c.WaitDelivered(ctx, user, len(want)); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitIdle(ctx); err != nil { // every message handled: a duplicate would be here now
		t.Fatal(err)
	}
	got, _ := c.Delivered(ctx, user)
	if len(got) != len(want) {
		t.Fatalf("user received %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Text != want[i] {
			t.Errorf("reply %d:\n got %q\nwant %q", i, got[i].Text, want[i])
		}
		if got[i].From != s.OurNumber {
			t.Errorf("reply %d sent from %s, want the number the user texted", i, got[i].From)
		}
	}

	var list []map[string]any
	if status, _, err := c.Admin(ctx, "GET", "/conversations", nil, &list); err != nil || status != 200 || len(list) != 1 {
		t.Fatalf("GET /conversations: %d %v %v", status, list, err)
	}
	if list[0]["phone_number"] != user || list[0]["state"] != "greeted" || list[0]["message_count"] != float64(6) || list[0]["opted_out"] != false {
		t.Fatalf("conversation listed as %v", list[0])
	}
	var one struct {
		Messages []struct{ Direction, Text, Status, TelnyxID string }
	}
	if status, _, err := c.Admin(ctx, "GET", "/conversations/"+user, nil, &one); err != nil || status != 200 {
		t.Fatalf("GET /conversations/{phone}: %d %v", status, err)
	}
	if len(one.Messages) != 2*len(turns) {
		t.Fatalf("history has %d messages, want %d", len(one.Messages), 2*len(turns))
	}
	last := one.Messages[len(one.Messages)-1]
	if last.Direction != "outbound" || last.Text != unknown || last.Status != "queued" {
		t.Fatalf("last history entry %+v", last)
	}
	if blocked := one.Messages[15]; blocked.Status != "blocked" || blocked.Text != unknown {
		t.Fatalf("the reply while opted out is recorded as %+v, want blocked", blocked)
	}
}

func TestRedeliveredWebhookGetsOneReply(t *testing.T) {
	s, c := start(t, stack.Options{Workers: 2})
	ctx := ctxT(t, time.Minute)
	user := "+12125550111"
	body := stack.Inbound("evt-dup", "msg-dup", user, s.OurNumber, "info", time.Now())
	for i := range 3 {
		status, raw, err := c.PostWebhook(ctx, body)
		if err != nil || status != 200 {
			t.Fatalf("delivery %d: %d %s %v", i, status, raw, err)
		}
	}
	// The same Telnyx message under a new event id (a replayed event) is deduplicated in Redis.
	again := stack.Inbound("evt-dup-2", "msg-dup", user, s.OurNumber, "info", time.Now())
	if status, _, err := c.PostWebhook(ctx, again); err != nil || status != 200 {
		t.Fatalf("re-sent event: %d %v", status, err)
	}
	// A different message after it proves the first is fully processed before we count.
	if status, _, err := c.PostWebhook(ctx, stack.Inbound("evt-next", "msg-next", user, s.OurNumber, "help", time.Now())); err != nil || status != 200 {
		t.Fatalf("next: %d %v", status, err)
	}
	if _, err := c.WaitDelivered(ctx, user, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitIdle(ctx); err != nil { // every delivery handled: a duplicate would be here now
		t.Fatal(err)
	}
	got, _ := c.Delivered(ctx, user)
	if len(got) != 2 || got[0].Text != conversation.ReplyInfo || got[1].Text != conversation.ReplyHelp {
		t.Fatalf("user received %d messages: %+v", len(got), got)
	}
}

func TestNATSOutageAnswers503AndLosesNothing(t *testing.T) {
	s, c := start(t, stack.Options{Workers: 1})
	ctx := ctxT(t, 2*time.Minute)
	user := "+12125550122"
	body := stack.Inbound("evt-outage", "msg-outage", user, s.OurNumber, "hello", time.Now())
	s.NATS.Kill()
	status, raw, err := c.PostWebhook(ctx, body)
	if err != nil || status != 503 || !strings.Contains(string(raw), "error") {
		t.Fatalf("with NATS down: %d %s %v; want 503 so Telnyx retries", status, raw, err)
	}
	if err := s.NATS.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Telnyx retries until it gets a 2xx.
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, raw, err = c.PostWebhook(ctx, body)
		if status == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if status != 200 {
		t.Fatalf("after NATS returned: %d %s %v", status, raw, err)
	}
	got, err := c.WaitDelivered(ctx, user, 1)
	if err != nil || got[0].Text != conversation.ReplyGreeting {
		t.Fatalf("reply after outage: %+v %v", got, err)
	}
}

func TestSendDeliversThroughWorker(t *testing.T) {
	s, c := start(t, stack.Options{Workers: 1})
	ctx := ctxT(t, time.Minute)
	var sent map[string]string
	status, _, err := c.Admin(ctx, "POST", "/sms/send", map[string]string{"to": "+12125550133", "message": "Your code is 1234"}, &sent)
	if err != nil || status != 202 || sent["status"] != "queued" || sent["from"] != s.OurNumber {
		t.Fatalf("POST /sms/send: %d %v %v", status, sent, err)
	}
	got, err := c.WaitDelivered(ctx, "+12125550133", 1)
	if err != nil || got[0].Text != "Your code is 1234" || got[0].IdempotencyKey != sent["id"] {
		t.Fatalf("delivered %+v %v", got, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var msg map[string]any
	for {
		if _, _, err := c.Admin(ctx, "GET", "/messages/"+sent["id"], nil, &msg); err == nil && msg["telnyx_id"] == got[0].ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /messages/{id} = %v, want the Telnyx id %s recorded", msg, got[0].ID)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var bad map[string]string
	if status, _, _ := c.Admin(ctx, "POST", "/sms/send", map[string]string{"to": "+1555", "message": "x"}, &bad); status != 422 {
		t.Fatalf("invalid number: %d %v", status, bad)
	}
}

func TestKilledWorkerLosesNothing(t *testing.T) {
	s, c := start(t, stack.Options{Workers: 2, AckWait: 3 * time.Second, SandboxEnv: []string{"SANDBOX_LATENCY=20ms"}})
	ctx := ctxT(t, 2*time.Minute)
	users := []string{"+12125550201", "+12125550202", "+12125550203", "+12125550204"}
	const per = 15
	for i := range per {
		for _, u := range users {
			body := stack.Inbound(fmt.Sprintf("e-%s-%d", u, i), fmt.Sprintf("m-%s-%d", u, i), u, s.OurNumber, fmt.Sprintf("m%02d", i), time.Now())
			if status, raw, err := c.PostWebhook(ctx, body); err != nil || status != 200 {
				t.Fatalf("webhook: %d %s %v", status, raw, err)
			}
		}
		if i == 3 {
			s.Workers[0].Kill()
		}
	}
	for _, u := range users {
		if _, err := c.WaitDelivered(ctx, u, per); err != nil {
			t.Fatal(err)
		}
	}
	// The killed worker's messages came back after AckWait and were handled: a duplicate would be here now.
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		got, _ := c.Delivered(ctx, u)
		if len(got) != per {
			t.Fatalf("%s received %d replies, want %d", u, len(got), per)
		}
		for i, m := range got {
			if want := fmt.Sprintf("You said: 'm%02d'", i); !strings.HasPrefix(m.Text, want) {
				t.Fatalf("%s reply %d = %q, want %q...", u, i, m.Text, want)
			}
		}
	}
}
