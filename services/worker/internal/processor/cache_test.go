package processor_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/smsconv/smsconv/services/worker/internal/processor"
	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/store"
)

// roundTrips counts commands and pipelines sent to Redis: each is one network round trip.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		// EVALSHA that fails with NOSCRIPT is retried as EVAL by go-redis: count what the steady state costs.
		if !strings.EqualFold(cmd.Name(), "eval") {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// countRoundTrips gives e's processor a store whose Redis round trips are counted.
func countRoundTrips(tb testing.TB, e *env) *roundTrips {
	tb.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: e.redis.Addr})
	tb.Cleanup(func() { _ = rdb.Close() })
	hook := &roundTrips{}
	rdb.AddHook(hook)
	e.p.Store = store.New(rdb, store.Options{Prefix: "rt"})
	return hook
}

func TestRedisRoundTripsPerMessage(t *testing.T) {
	e := newEnv(t)
	hook := countRoundTrips(t, e)
	handle := func(m events.Message) int64 {
		t.Helper()
		before := hook.n.Load()
		if r := e.handle(t, m, false); r.Outcome != processor.Done {
			t.Fatalf("%q: %v %v", m.Text, r.Outcome, r.Err)
		}
		return hook.n.Load() - before
	}
	handle(inbound("warm", "hello", 0)) // dials, says HELLO and loads the script
	for i, text := range []string{"hello", "info", "help", "status"} {
		// The commit (which records the reply as sending), then the send's outcome: a new conversation
		// commits without a load, and a cached one against the cache.
		m := inbound("m"+string(rune('1'+i)), text, i)
		m.UserNumber = "+13125550111"
		if got := handle(m); got != 2 {
			t.Errorf("message %d (%q): %d Redis round trips, want 2", i+1, text, got)
		}
	}
	// A conversation that exists but is not in this worker's cache (another worker's, or before a restart):
	// the blind commit is refused by the version check and returns the stored state, then the commit from
	// it and the outcome.
	e.p.Cache = processor.NewCache(100)
	m := inbound("m9", "info", 9)
	m.UserNumber = "+13125550111"
	if got := handle(m); got != 3 {
		t.Errorf("uncached existing conversation: %d Redis round trips, want 3", got)
	}
	if c, err := e.p.Store.Conversation(context.Background(), store.Key{Our: our, User: m.UserNumber}); err != nil || c.MessageCount != 5 {
		t.Errorf("after 5 messages: %+v, %v; want a message count of 5", c, err)
	}
	if got, want := e.texts()[len(e.texts())-1], conversation.Seed.Step(conversation.New(t0), conversation.Inbound{Text: "info"}, t0).Reply; got != want {
		t.Errorf("reply to the uncached conversation's info = %q, want %q", got, want)
	}
}

func TestStaleCacheIsCaughtByTheVersionCheck(t *testing.T) {
	e := newEnv(t)
	// A second worker on the same Redis and Telnyx, with its own cache: the conversation moves between
	// them, as it does when partitions move.
	other := &processor.Processor{Store: e.p.Store, Dialog: conversation.Seed, Sender: e.p.Sender,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Cache: processor.NewCache(100)}
	procs := []*processor.Processor{e.p, other, e.p, e.p, other, e.p}
	for i, p := range procs {
		m := inbound("m"+string(rune('a'+i)), "help", i)
		if r := p.Handle(context.Background(), m, processor.Delivery{}); r.Outcome != processor.Done {
			t.Fatalf("message %d: %v %v", i, r.Outcome, r.Err)
		}
	}
	c, _ := e.store.Conversation(context.Background(), store.Key{Our: our, User: user})
	if c.MessageCount != len(procs) {
		t.Fatalf("count %d after %d messages: a stale cache lost an update", c.MessageCount, len(procs))
	}
	// An opt-out recorded by one worker is not undone by the other's cached state.
	if err := e.store.SetOptedOut(context.Background(), store.Key{Our: our, User: user}, true); err != nil {
		t.Fatal(err)
	}
	if r := e.p.Handle(context.Background(), inbound("mz", "info", 9), processor.Delivery{}); r.Outcome != processor.Done {
		t.Fatal(r.Err)
	}
	c, _ = e.store.Conversation(context.Background(), store.Key{Our: our, User: user})
	if !c.OptedOut {
		t.Fatal("a cached conversation wrote its old opt-out state back")
	}
}

// TestRetryAfterCommitGoesStraightToTheSend: a message whose commit succeeded but whose send failed comes
// back as a redelivery; it reads what is stored (conversation, message and pending reply in one round
// trip), records the send as leaving, sends, and records the outcome: three round trips, no dialog, no second
// commit.
func TestRetryAfterCommitGoesStraightToTheSend(t *testing.T) {
	tests := []struct {
		name  string
		retry func(e *env, m events.Message) processor.Result
		want  int64
	}{
		{"redelivered by the queue", func(e *env, m events.Message) processor.Result { return e.redeliver(t, m) }, 3},
		// Handed over as new (the queue did not say) with the conversation cached: the commit answers
		// "dup" and the reload brings the reply with it.
		{"delivered as new, cached", func(e *env, m events.Message) processor.Result { return e.handle(t, m, false) }, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			hook := countRoundTrips(t, e)
			e.fake.FailNext(1, 500, "10007")
			m := inbound("m1", "hello", 0)
			if r := e.handle(t, m, false); r.Outcome != processor.Retry || r.SendFailures != 1 {
				t.Fatalf("first delivery with Telnyx failing: %v (%d failures), want retry", r.Outcome, r.SendFailures)
			}
			before := hook.n.Load()
			if r := tc.retry(e, m); r.Outcome != processor.Done {
				t.Fatalf("retry: %v %v", r.Outcome, r.Err)
			}
			if got := hook.n.Load() - before; got != tc.want {
				t.Errorf("retry after a successful commit: %d Redis round trips, want %d", got, tc.want)
			}
			t.Logf("%s: %d Redis round trips", tc.name, hook.n.Load()-before)
			c, err := e.p.Store.Conversation(context.Background(), store.Key{Our: our, User: user})
			if err != nil || c.MessageCount != 1 {
				t.Fatalf("conversation %+v %v: the retry must not run the dialog again", c, err)
			}
			if got := e.texts(); len(got) != 1 || got[0] != conversation.ReplyGreeting {
				t.Fatalf("replies %q, want the greeting once", got)
			}
		})
	}
}
