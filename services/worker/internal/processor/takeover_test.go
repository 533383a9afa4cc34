package processor_test

import (
	"context"
	"slices"
	"testing"

	"github.com/smsconv/smsconv/services/worker/internal/processor"
	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/store"
)

// While an operator has the conversation, inbound messages are stored and counted but the flow neither runs
// nor answers (even a cached conversation sees the takeover); opt-out words still count. Handed back, the flow
// continues from the state it was in.
func TestTakenOverStoresWithoutReplying(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	k := store.Key{Our: our, User: user}
	if r := e.handle(t, inbound("t1", "hello", 0), false); r.Outcome != processor.Done {
		t.Fatalf("hello: %+v", r)
	}
	if err := e.store.SetTakenOver(ctx, k, true); err != nil {
		t.Fatal(err)
	}
	for i, text := range []string{"info", "reset", "stop"} {
		if r := e.handle(t, inbound("t"+string(rune('2'+i)), text, i+1), false); r.Outcome != processor.Done {
			t.Fatalf("%q while taken over: %+v", text, r)
		}
	}
	if got, want := e.texts(), []string{conversation.ReplyGreeting}; !slices.Equal(got, want) {
		t.Fatalf("sent while taken over: %q, want only the greeting from before", got)
	}
	c, err := e.store.Conversation(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if !c.TakenOver || c.State != conversation.StateGreeted || c.MessageCount != 4 || !c.OptedOut {
		t.Fatalf("while taken over: %+v, want taken over, still greeted, 4 messages counted, opted out by stop", c)
	}
	hist, err := e.store.History(ctx, k, 10)
	if err != nil || len(hist) != 5 {
		t.Fatalf("history %d messages (%v), want hello, its reply and the 3 stored messages", len(hist), err)
	}

	if err := e.store.SetTakenOver(ctx, k, false); err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetOptedOut(ctx, k, false); err != nil {
		t.Fatal(err)
	}
	if r := e.handle(t, inbound("t5", "info", 5), false); r.Outcome != processor.Done {
		t.Fatalf("info after hand-back: %+v", r)
	}
	if got := e.texts(); len(got) != 2 || got[1] != conversation.ReplyInfo {
		t.Fatalf("after hand-back: %q, want the flow's info reply", got)
	}
}
