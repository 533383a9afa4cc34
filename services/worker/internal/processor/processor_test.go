package processor_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/services/worker/internal/processor"
	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/ids"
	"github.com/smsconv/smsconv/shared/redistest"
	"github.com/smsconv/smsconv/shared/sms"
	"github.com/smsconv/smsconv/shared/store"
	"github.com/smsconv/smsconv/shared/telnyx"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
	"github.com/smsconv/smsconv/shared/telnyx/telnyxtest"
)

const (
	our  = "+15550001000"
	user = "+12125551234"
)

var t0 = time.Date(2026, 6, 18, 12, 0, 0, 0, time.UTC)

type env struct {
	p     *processor.Processor
	fake  *telnyxtest.Server
	store *store.Store
	redis *redistest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	rs := redistest.Start(t)
	fake := telnyxtest.NewServer(t, fakeapi.Options{APIKey: "key"})
	st := store.New(rs.Client(), store.Options{Prefix: "t"})
	client := telnyx.NewClient(telnyx.ClientOptions{BaseURL: fake.BaseURL(), APIKey: "key", Timeout: 2 * time.Second})
	p := &processor.Processor{Store: st, Dialog: conversation.Seed, Sender: client,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Cache: processor.NewCache(100)}
	return &env{p: p, fake: fake, store: st, redis: rs}
}

func inbound(id, text string, minute int) events.Message {
	at := t0.Add(time.Duration(minute) * time.Minute)
	return events.Message{Kind: events.KindInbound, ID: id, EventID: "evt-" + id, OurNumber: our, UserNumber: user,
		Text: text, ReceivedAt: at, AcceptedAt: at}
}

func (e *env) handle(t *testing.T, m events.Message, replay bool) processor.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return e.p.Handle(ctx, m, processor.Delivery{Replay: replay})
}

// redeliver handles m as the queue's redelivery of it.
func (e *env) redeliver(t *testing.T, m events.Message) processor.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return e.p.Handle(ctx, m, processor.Delivery{Redelivered: true})
}

func (e *env) texts() []string {
	var out []string
	for _, m := range e.fake.Messages() {
		out = append(out, m.Text)
	}
	return out
}

func TestSeedDialogThroughProcessor(t *testing.T) {
	e := newEnv(t)
	for i, text := range []string{"hello", "info", "status"} {
		if r := e.handle(t, inbound("m"+string(rune('1'+i)), text, i), false); r.Outcome != processor.Done {
			t.Fatalf("%q: %v %s %v", text, r.Outcome, r.Reason, r.Err)
		}
	}
	want := []string{conversation.ReplyGreeting, conversation.ReplyInfo,
		"Conversation started: 2026-06-18 12:00\nMessages exchanged: 3\nCurrent state: informed"}
	if got := e.texts(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("replies\n got %q\nwant %q", got, want)
	}
	sent := e.fake.Messages()[0]
	if sent.From != our || sent.To != user || sent.IdempotencyKey != ids.Reply("m1", 1) {
		t.Fatalf("reply sent as %+v", sent)
	}
	c, err := e.store.Conversation(context.Background(), store.Key{Our: our, User: user})
	if err != nil || c.State != "informed" || c.MessageCount != 3 {
		t.Fatalf("stored conversation %+v %v", c, err)
	}
	r, err := e.store.GetMessage(context.Background(), ids.Reply("m1", 1))
	if err != nil || r.Status != "queued" || r.TelnyxID != sent.ID {
		t.Fatalf("reply record %+v %v", r, err)
	}
}

func TestRedeliveryNeverTextsTwice(t *testing.T) {
	e := newEnv(t)
	m := inbound("m1", "hello", 0)
	for i := range 3 {
		if r := e.handle(t, m, false); r.Outcome != processor.Done {
			t.Fatalf("delivery %d: %v %v", i, r.Outcome, r.Err)
		}
	}
	if n := len(e.fake.Messages()); n != 1 || e.fake.Requests() != 1 {
		t.Fatalf("%d messages from %d requests, want 1 from 1", n, e.fake.Requests())
	}
	c, _ := e.store.Conversation(context.Background(), store.Key{Our: our, User: user})
	if c.MessageCount != 1 {
		t.Fatalf("count %d after redeliveries, want 1", c.MessageCount)
	}
}

func TestTransientSendFailureRetriesWithSameKey(t *testing.T) {
	e := newEnv(t)
	e.fake.FailNext(1, 500, "10007")
	m := inbound("m1", "hi", 0)
	if r := e.handle(t, m, false); r.Outcome != processor.Retry {
		t.Fatalf("with Telnyx failing: %v, want retry", r.Outcome)
	}
	if r := e.handle(t, m, false); r.Outcome != processor.Done {
		t.Fatalf("retry: %v %v", r.Outcome, r.Err)
	}
	if got := e.texts(); len(got) != 1 || got[0] != conversation.ReplyGreeting {
		t.Fatalf("replies %q", got)
	}
	c, _ := e.store.Conversation(context.Background(), store.Key{Our: our, User: user})
	if c.MessageCount != 1 {
		t.Fatalf("the retry applied the dialog again: count %d", c.MessageCount)
	}
}

func TestRateLimitedIsRetryableAndCounted(t *testing.T) {
	e := newEnv(t)
	e.fake.FailNext(2, 429, "10011")
	for want := 1; want <= 2; want++ {
		r := e.handle(t, inbound("m1", "hi", 0), false)
		if r.Outcome != processor.Retry || r.Cause != processor.CauseTelnyx || r.SendFailures != want {
			t.Fatalf("429: %v cause %q failures %d, want retry by telnyx with %d failures", r.Outcome, r.Cause, r.SendFailures, want)
		}
	}
	if r := e.handle(t, inbound("m1", "hi", 0), false); r.Outcome != processor.Done {
		t.Fatalf("after the 429s: %v", r.Outcome)
	}
}

func TestOptOutFrom40300(t *testing.T) {
	e := newEnv(t)
	e.fake.OptOut(user)
	if r := e.handle(t, inbound("m1", "hello", 0), false); r.Outcome != processor.Done {
		t.Fatalf("40300: %v %s, want done (never retried, never dead-lettered)", r.Outcome, r.Reason)
	}
	reqs := e.fake.Requests()
	rec, _ := e.store.GetMessage(context.Background(), ids.Reply("m1", 1))
	c, _ := e.store.Conversation(context.Background(), store.Key{Our: our, User: user})
	if rec.Status != store.StatusBlocked || rec.ErrorCode != "40300" || !c.OptedOut {
		t.Fatalf("reply %+v, opted out %v", rec, c.OptedOut)
	}
	// While opted out, replies are recorded but not sent.
	if r := e.handle(t, inbound("m2", "info", 1), false); r.Outcome != processor.Done || e.fake.Requests() != reqs {
		t.Fatalf("opted out: %v, %d requests (was %d)", r.Outcome, e.fake.Requests(), reqs)
	}
	// START opts back in (Telnyx unblocks too).
	e.fake.OptIn(user)
	if r := e.handle(t, inbound("m3", "start", 2), false); r.Outcome != processor.Done {
		t.Fatalf("start: %v", r.Outcome)
	}
	if got := e.texts(); len(got) != 1 || got[0] != conversation.ReplyGreeting {
		t.Fatalf("after opt-in replies %q", got)
	}
}

func TestPermanentFailureDeadLettersAndReplaySends(t *testing.T) {
	e := newEnv(t)
	e.fake.FailNext(1, 422, "10015")
	m := inbound("m1", "info", 0)
	r := e.handle(t, m, false)
	if r.Outcome != processor.DeadLetter || !strings.Contains(r.Reason, "telnyx rejected") {
		t.Fatalf("422: %v %q, want dead letter", r.Outcome, r.Reason)
	}
	rec, _ := e.store.GetMessage(context.Background(), ids.Reply("m1", 1))
	if rec.Status != store.StatusFailed || rec.ErrorCode != "10015" {
		t.Fatalf("reply record %+v", rec)
	}
	// A plain redelivery (the dead-lettering did not complete) does not resend a permanently failed reply:
	// it is dead-lettered again. A replay sends it.
	if r := e.handle(t, m, false); r.Outcome != processor.DeadLetter || len(e.fake.Messages()) != 0 || !strings.Contains(r.Reason, "10015") {
		t.Fatalf("redelivery: %v %q, %d sent", r.Outcome, r.Reason, len(e.fake.Messages()))
	}
	if r := e.handle(t, m, true); r.Outcome != processor.Done {
		t.Fatalf("replay: %v %v", r.Outcome, r.Err)
	}
	if got := e.texts(); len(got) != 1 || got[0] != conversation.ReplyInfo {
		t.Fatalf("after replay %q", got)
	}
}

func TestRedisDownIsRetry(t *testing.T) {
	e := newEnv(t)
	e.redis.Kill()
	if r := e.handle(t, inbound("m1", "hi", 0), false); r.Outcome != processor.Retry {
		t.Fatalf("Redis down: %v, want retry", r.Outcome)
	}
	if e.fake.Requests() != 0 {
		t.Fatal("sent a reply without storing the state first")
	}
}

func TestQueuedSend(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rec := store.Message{ID: "snd_1", Our: our, User: user, Text: "Your order shipped", CreatedAt: t0}
	if err := e.store.QueueSend(ctx, rec); err != nil {
		t.Fatal(err)
	}
	m := events.Message{Kind: events.KindSend, ID: "snd_1", OurNumber: our, UserNumber: user, Text: rec.Text, ReceivedAt: t0, AcceptedAt: t0}
	for range 2 {
		if r := e.handle(t, m, false); r.Outcome != processor.Done {
			t.Fatalf("send: %v %v", r.Outcome, r.Err)
		}
	}
	if got := e.fake.Messages(); len(got) != 1 || got[0].Text != rec.Text || got[0].IdempotencyKey != "snd_1" {
		t.Fatalf("sent %+v", got)
	}
	after, _ := e.store.GetMessage(ctx, "snd_1")
	if after.TelnyxID == "" {
		t.Fatalf("send record not updated: %+v", after)
	}
	hist, _ := e.store.History(ctx, store.Key{Our: our, User: user}, 10)
	if len(hist) != 1 || hist[0].ID != "snd_1" {
		t.Fatalf("history %+v", hist)
	}
}

func TestOptOutWordsAndHelp(t *testing.T) {
	e := newEnv(t)
	steps := []struct {
		text     string
		wantSent string // "" = nothing sent
		optedOut bool
	}{
		{"hello", conversation.ReplyGreeting, false},
		{" STOP ", conversation.ReplyStop, true}, // the opt-out confirmation goes out once
		{"hello", "", true},                      // nothing while opted out...
		{"Stop All", "", true},
		{"help", conversation.ReplyHelp, true}, // ...but help always answers
		{"unstop", "You said: 'unstop'\n\nI didn't understand that command. Type 'help' to see available options.", false},
		{"info", conversation.ReplyInfo, false},
	}
	for i, s := range steps {
		before := len(e.fake.Messages())
		if r := e.handle(t, inbound("m"+string(rune('a'+i)), s.text, i), false); r.Outcome != processor.Done {
			t.Fatalf("%q: %v %v", s.text, r.Outcome, r.Err)
		}
		msgs := e.fake.Messages()
		switch {
		case s.wantSent == "" && len(msgs) != before:
			t.Fatalf("%q: sent %q while opted out", s.text, msgs[len(msgs)-1].Text)
		case s.wantSent != "" && (len(msgs) != before+1 || msgs[len(msgs)-1].Text != s.wantSent):
			t.Fatalf("%q: sent %v, want %q", s.text, msgs[before:], s.wantSent)
		}
		c, _ := e.store.Conversation(context.Background(), store.Key{Our: our, User: user})
		if c.OptedOut != s.optedOut {
			t.Fatalf("%q: opted out = %v, want %v", s.text, c.OptedOut, s.optedOut)
		}
	}
	blocked, _ := e.store.GetMessage(context.Background(), ids.Reply("mc", 1))
	if blocked.Status != store.StatusBlocked || blocked.Text != conversation.ReplyGreeting {
		t.Fatalf("reply while opted out recorded as %+v, want blocked", blocked)
	}
}

func TestOptOutWhenTelnyxAutoResponded(t *testing.T) {
	e := newEnv(t)
	m := inbound("m1", "stop", 0)
	m.AutoresponseType = "stop"
	if r := e.handle(t, m, false); r.Outcome != processor.Done {
		t.Fatalf("%v", r.Outcome)
	}
	if n := e.fake.Requests(); n != 0 {
		t.Fatalf("%d sends; Telnyx already confirmed the opt-out, we must not text again", n)
	}
	rec, _ := e.store.GetMessage(context.Background(), ids.Reply("m1", 1))
	if rec.Status != store.StatusBlocked || !strings.Contains(rec.ErrorTitle, "auto-response") {
		t.Fatalf("reply recorded as %+v", rec)
	}
}

func TestReplyRateLimitStoresButDoesNotAnswer(t *testing.T) {
	e := newEnv(t)
	e.p.Store = store.New(e.redis.Client(), store.Options{Prefix: "rl", RepliesPerMinute: 2})
	for i := range 4 {
		m := inbound("m"+string(rune('1'+i)), "help", 0) // all in the same minute
		if r := e.handle(t, m, false); r.Outcome != processor.Done {
			t.Fatalf("message %d: %v", i, r.Outcome)
		}
	}
	if n := len(e.fake.Messages()); n != 2 {
		t.Fatalf("%d replies sent, want 2 (the limit)", n)
	}
	c, _ := e.p.Store.Conversation(context.Background(), store.Key{Our: our, User: user})
	if c.MessageCount != 4 || c.RateLimited != 2 {
		t.Fatalf("conversation %+v: all inbound stored and the unanswered counted", c)
	}
}

// The limit is a sliding window on our clock, not Telnyx's received_at: 60 messages in 10 s of our time
// across a minute boundary, carrying received_at a minute apart each, get 30 replies with a limit of 30.
func TestReplyLimitSlidesOnOurClock(t *testing.T) {
	e := newEnv(t)
	e.p.Store = store.New(e.redis.Client(), store.Options{Prefix: "rw", RepliesPerMinute: 30})
	now := time.Date(2026, 6, 18, 12, 0, 55, 0, time.UTC)
	e.p.Now = func() time.Time { return now }
	for i := range 60 {
		now = now.Add(10 * time.Second / 60)
		if r := e.handle(t, inbound(fmt.Sprintf("m%02d", i), fmt.Sprintf("text %d", i), i), false); r.Outcome != processor.Done {
			t.Fatalf("message %d: %v %v", i, r.Outcome, r.Err)
		}
	}
	if n := len(e.fake.Messages()); n != 30 {
		t.Fatalf("%d replies in 10 s across 12:01:00, want 30", n)
	}
	c, _ := e.p.Store.Conversation(context.Background(), store.Key{Our: our, User: user})
	if c.MessageCount != 60 || c.RateLimited != 30 {
		t.Fatalf("conversation %+v: all 60 stored, 30 counted as rate limited", c)
	}
	if rec, _ := e.p.Store.GetMessage(context.Background(), ids.Reply("m59", 1)); rec.Status != store.StatusSkipped || rec.ErrorCode != store.SkipRateLimited {
		t.Fatalf("the 60th reply recorded as %+v", rec)
	}
}

// longDialog answers every message with text, unbounded, as a careless flow might.
type longDialog struct{ text string }

func (d longDialog) Step(c conversation.Conversation, _ conversation.Inbound, now time.Time) conversation.Result {
	c.MessageCount++
	c.UpdatedAt = now
	return conversation.Result{Conversation: c, Reply: d.text, HasReply: true}
}

func (longDialog) Version() string { return "long-1" }

// Every outbound text is bounded by the processor however it was made: a reply from a dialog that does not
// bound its own, and a queued send. Telnyx (the fake refuses over 10 segments) accepts both, and what is
// stored is what was sent.
func TestEveryOutboundTextIsBounded(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		text string
		send bool
	}{
		{"reply of 5,000 GSM-7 characters", strings.Repeat("a", 5000), false},
		{"reply of 700 UCS-2 characters", strings.Repeat("ж", 700), false},
		{"queued send of 2,000 characters", strings.Repeat("b", 2000), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.p.Dialog = longDialog{text: tc.text}
			m, id := inbound("m1", "hi", 0), ids.Reply("m1", 1)
			if tc.send {
				id = "snd_1"
				if err := e.store.QueueSend(ctx, store.Message{ID: id, Our: our, User: user, Text: tc.text, CreatedAt: t0}); err != nil {
					t.Fatal(err)
				}
				m = events.Message{Kind: events.KindSend, ID: id, OurNumber: our, UserNumber: user, Text: tc.text, AcceptedAt: t0}
			}
			if r := e.handle(t, m, false); r.Outcome != processor.Done {
				t.Fatalf("%v %s %v", r.Outcome, r.Reason, r.Err)
			}
			sent := e.fake.Messages()
			if len(sent) != 1 || sms.Count(sent[0].Text).Parts > sms.MaxParts || !strings.HasSuffix(sent[0].Text, sms.Marker) {
				t.Fatalf("sent %d messages, the first of %d segments; want one of at most 10 ending in %q", len(sent), sms.Count(sent[0].Text).Parts, sms.Marker)
			}
			if rec, _ := e.store.GetMessage(ctx, id); rec.Text != sent[0].Text || rec.TelnyxID != sent[0].ID {
				t.Fatalf("record %+v differs from what was sent", rec)
			}
		})
	}
}
