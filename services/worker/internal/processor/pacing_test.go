package processor_test

import (
	"context"
	"testing"
	"time"

	"github.com/smsconv/smsconv/services/worker/internal/processor"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/ids"
	"github.com/smsconv/smsconv/shared/sendrate"
	"github.com/smsconv/smsconv/shared/store"
)

// withLimiter gives e's processor a limiter for lim on e's Redis.
func withLimiter(e *env, lim sendrate.Limits) {
	e.p.Pacing.Limiter = sendrate.New(e.redis.Client(), "t", lim)
}

func inboundFrom(id, from, text string) events.Message {
	m := inbound(id, text, 0)
	m.UserNumber = from
	return m
}

func (e *env) reply(t *testing.T, inboundID string) store.Message {
	t.Helper()
	m, err := e.store.GetMessage(context.Background(), ids.Reply(inboundID, 1))
	if err != nil {
		t.Fatalf("reply to %s: %v", inboundID, err)
	}
	return m
}

// TestReplyWaitsForCapacity: past the number's rate a reply is handed back with the time its reserved slot
// comes, shows as waiting, and is sent when it comes back then; segments and encoding are stored.
func TestReplyWaitsForCapacity(t *testing.T) {
	e := newEnv(t)
	withLimiter(e, sendrate.Limits{PerNumber: 1})
	if r := e.handle(t, inboundFrom("a1", "+12125551001", "hello"), false); r.Outcome != processor.Done {
		t.Fatalf("first reply: %v %v", r.Outcome, r.Err)
	}
	second := inboundFrom("b1", "+12125551002", "hello")
	r := e.handle(t, second, false)
	if r.Outcome != processor.Retry || r.Cause != processor.CauseCapacity || r.SendFailures != 0 ||
		r.RetryAfter <= 0 || r.RetryAfter > time.Second {
		t.Fatalf("second reply: %v cause %q failures %d after %s; want a wait of up to 1s for capacity", r.Outcome, r.Cause, r.SendFailures, r.RetryAfter)
	}
	if m := e.reply(t, "b1"); m.Status != store.StatusWaiting {
		t.Fatalf("waiting reply shows %q", m.Status)
	}
	if n := e.fake.Requests(); n != 1 {
		t.Fatalf("%d requests, want 1: a waiting reply sends nothing", n)
	}
	time.Sleep(r.RetryAfter) // the queue's NakWithDelay
	if r := e.redeliver(t, second); r.Outcome != processor.Done {
		t.Fatalf("at its slot: %v %s %v", r.Outcome, r.Reason, r.Err)
	}
	m := e.reply(t, "b1")
	if m.Status != store.StatusQueued || m.Encoding != "gsm7" || m.Parts != 1 || m.SendAttempts != 1 {
		t.Fatalf("sent reply: %+v", m)
	}
}

// TestThrottlingAnswerSlowsTheScope: a 429 with 10011 is not a failed send: it holds the account for its
// Retry-After, and the message waits without another request until then.
func TestThrottlingAnswerSlowsTheScope(t *testing.T) {
	e := newEnv(t)
	withLimiter(e, sendrate.Limits{Account: 50})
	e.fake.FailNext(1, 429, "10011") // the fake's 429 says Retry-After: 1
	m := inbound("m1", "hello", 0)
	r := e.handle(t, m, false)
	if r.Outcome != processor.Retry || r.Cause != processor.CauseCapacity || r.SendFailures != 0 {
		t.Fatalf("429: %v cause %q failures %d; want a capacity wait, not a failure", r.Outcome, r.Cause, r.SendFailures)
	}
	if s := e.reply(t, "m1").Status; s != store.StatusWaiting {
		t.Fatalf("throttled reply shows %q, want waiting (Telnyx refused it: nothing is in doubt)", s)
	}
	r = e.redeliver(t, m)
	if r.Outcome != processor.Retry || r.Cause != processor.CauseCapacity || r.RetryAfter < 500*time.Millisecond {
		t.Fatalf("during the hold: %v cause %q after %s; want to wait out the hold", r.Outcome, r.Cause, r.RetryAfter)
	}
	if n := e.fake.Requests(); n != 1 {
		t.Fatalf("%d requests during the hold, want 1", n)
	}
	time.Sleep(r.RetryAfter)
	if r := e.redeliver(t, m); r.Outcome != processor.Done {
		t.Fatalf("after the hold: %v %s", r.Outcome, r.Reason)
	}
	if n := len(e.fake.Messages()); n != 1 {
		t.Fatalf("%d messages sent, want 1", n)
	}
}

// TestUnknownOutcome: a send whose answer is lost (Telnyx sent it, answered 500) leaves the reply sending;
// the next attempt resends with the same key (Telnyx replays, one text) or holds it for an operator.
func TestUnknownOutcome(t *testing.T) {
	tests := []struct {
		name       string
		hold       bool
		wantStatus string
		wantHeld   int
	}{
		{"resend with the same Idempotency-Key", false, store.StatusQueued, 0},
		{"hold for an operator", true, store.StatusUnknown, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.p.Pacing.HoldUnknown = tc.hold
			e.fake.FailNextAfterSend(1, 500, "10007")
			m := inbound("m1", "hello", 0)
			if r := e.handle(t, m, false); r.Outcome != processor.Retry || r.Cause != processor.CauseTelnyx {
				t.Fatalf("lost answer: %v %q", r.Outcome, r.Cause)
			}
			if s := e.reply(t, "m1").Status; s != store.StatusSending {
				t.Fatalf("after a lost answer the reply shows %q, want sending (outcome unknown)", s)
			}
			if r := e.redeliver(t, m); r.Outcome != processor.Done {
				t.Fatalf("retry: %v %s", r.Outcome, r.Reason)
			}
			if s := e.reply(t, "m1").Status; s != tc.wantStatus {
				t.Fatalf("status %q, want %q", s, tc.wantStatus)
			}
			held, err := e.store.Unknown(context.Background(), 10)
			if err != nil || len(held) != tc.wantHeld {
				t.Fatalf("Unknown = %d messages (%v), want %d", len(held), err, tc.wantHeld)
			}
			if n := len(e.fake.Messages()); n != 1 {
				t.Fatalf("the user got %d texts, want 1", n)
			}
			// Delivered once more (a duplicate), a held reply stays held and nothing is sent.
			if r := e.redeliver(t, m); r.Outcome != processor.Done {
				t.Fatalf("again: %v %s", r.Outcome, r.Reason)
			}
			wantRequests := 2
			if tc.hold {
				wantRequests = 1
			}
			if n := e.fake.Requests(); n != wantRequests {
				t.Fatalf("%d requests, want %d", n, wantRequests)
			}
		})
	}
}

// TestBulkWaitsBehindReplies: a queued /sms/send message is in the bulk lane: when replies have taken the
// number's capacity it waits, while a reply reserves the next slot.
func TestBulkWaitsBehindReplies(t *testing.T) {
	e := newEnv(t)
	withLimiter(e, sendrate.Limits{PerNumber: 2})
	for _, id := range []string{"a1", "b1"} {
		if r := e.handle(t, inboundFrom(id, "+1212555"+map[string]string{"a1": "1001", "b1": "1002"}[id], "hello"), false); r.Outcome != processor.Done {
			t.Fatalf("reply %s: %v", id, r.Outcome)
		}
	}
	snd := events.Message{Kind: events.KindSend, ID: "snd_x", OurNumber: our, UserNumber: "+12125551003", Text: "sale",
		ReceivedAt: t0, AcceptedAt: t0}
	if err := e.store.QueueSend(context.Background(), store.Message{ID: snd.ID, Our: our, User: snd.UserNumber, Text: snd.Text, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	r := e.handle(t, snd, false)
	if r.Outcome != processor.Retry || r.Cause != processor.CauseCapacity {
		t.Fatalf("bulk with the number's burst used by replies: %v %q", r.Outcome, r.Cause)
	}
	got, _ := e.store.GetMessage(context.Background(), snd.ID)
	if got.Status != store.StatusWaiting {
		t.Fatalf("bulk message shows %q", got.Status)
	}
}
