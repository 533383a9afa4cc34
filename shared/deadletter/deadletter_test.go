package deadletter_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/deadletter"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/natstest"
)

func TestPublishListReplay(t *testing.T) {
	_, js := natstest.Start(t).Connect(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	o := events.DefaultStreamOptions()
	o.Partitions = 2
	if err := events.EnsureStreams(ctx, js, o); err != nil {
		t.Fatal(err)
	}

	m := events.Message{Kind: events.KindInbound, ID: "m1", OurNumber: "+12125550100", UserNumber: "+13125550123", Text: "info"}
	at := time.Date(2026, 6, 18, 12, 0, 0, 0, time.UTC)
	entry := deadletter.Entry{Data: m.Encode(), Subject: "conv.1.x.y", StreamSeq: 42, Attempts: 3,
		Class: deadletter.ClassExhausted, Reason: "retries exhausted", At: at}
	// The same message dead-lettered twice (a crash between publish and term) is kept once.
	for range 2 {
		if err := deadletter.Publish(ctx, js, entry); err != nil {
			t.Fatal(err)
		}
	}
	if err := deadletter.Publish(ctx, js, deadletter.Entry{Data: []byte("{not json"), StreamSeq: 43,
		Class: deadletter.ClassUndecodable, Reason: "undecodable"}); err != nil {
		t.Fatal(err)
	}

	list, err := deadletter.List(ctx, js, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("%d dead letters, want 2: %+v", len(list), list)
	}
	first, bad := list[0], list[1]
	if first.Class != deadletter.ClassExhausted || first.Reason != "retries exhausted" || first.Attempts != 3 ||
		!first.DeadLetteredAt.Equal(at) || first.Message == nil || first.Message.ID != "m1" {
		t.Fatalf("first dead letter %+v", first)
	}
	if bad.Message != nil || string(bad.Raw) != "{not json" {
		t.Fatalf("undecodable dead letter %+v, want its raw body", bad)
	}
	if page, err := deadletter.List(ctx, js, first.ID, 10); err != nil || len(page) != 1 || page[0].ID != bad.ID {
		t.Fatalf("page after %d: %+v %v", first.ID, page, err)
	}

	if _, err := deadletter.Replay(ctx, js, 999); !errors.Is(err, deadletter.ErrNotFound) {
		t.Fatalf("replay unknown: %v, want ErrNotFound", err)
	}
	if _, err := deadletter.Replay(ctx, js, bad.ID); !errors.Is(err, deadletter.ErrNotReplayable) {
		t.Fatalf("replay undecodable: %v, want ErrNotReplayable", err)
	}
	back, err := deadletter.Replay(ctx, js, first.ID)
	if err != nil || back.ID != "m1" {
		t.Fatalf("replay: %+v %v", back, err)
	}
	st, err := js.Stream(ctx, events.StreamConversations)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := events.Decode(raw.Data); err != nil || got.ID != "m1" || !deadletter.IsReplay(raw.Header) {
		t.Fatalf("replayed message %+v %v, header %v", got, err, raw.Header)
	}
	if list, err := deadletter.List(ctx, js, 0, 10); err != nil || len(list) != 1 || list[0].ID != bad.ID {
		t.Fatalf("after replay: %+v %v, want only the undecodable one left", list, err)
	}
}
