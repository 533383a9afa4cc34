package receipts_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/smsconv/smsconv/services/worker/internal/receipts"
	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/natstest"
	"github.com/smsconv/smsconv/shared/redistest"
	"github.com/smsconv/smsconv/shared/store"
)

func TestMapStatus(t *testing.T) {
	for in, want := range map[string]string{"queued": "queued", "sending": "queued", "sent": "sent",
		"delivery_unconfirmed": "sent", "delivered": "delivered", "expired": "failed", "sending_failed": "failed",
		"delivery_failed": "failed"} {
		if got, ok := receipts.MapStatus(in); !ok || got != want {
			t.Errorf("MapStatus(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := receipts.MapStatus("teleported"); ok {
		t.Error("unknown status mapped")
	}
}

func TestReceiptsOutOfOrderDuplicateAndEarly(t *testing.T) {
	_, js := natstest.Start(t).Connect(t)
	rs := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := events.DefaultStreamOptions()
	o.Partitions = 1
	natstest.Topology(t, js, o)
	st := store.New(rs.Client(), store.Options{Prefix: "t"})
	k := store.Key{Our: "+12125550100", User: "+13125550123"}
	t0 := time.Now().UTC()
	// Two replies waiting for receipts.
	for _, id := range []string{"r1", "r2"} {
		_, err := st.Apply(ctx, store.Commit{Key: k, ExpectVersion: map[string]int64{"r1": 0, "r2": 1}[id], Conversation: conversation.New(t0),
			Message: store.Message{ID: "in-" + id, Direction: store.DirectionInbound, CreatedAt: t0},
			Reply:   &store.Message{ID: id, Direction: store.DirectionOutbound, Our: k.Our, User: k.User, Text: "x", Status: store.StatusPending, CreatedAt: t0}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := st.UpdateMessage(ctx, "r1", store.Update{Status: store.StatusQueued, TelnyxID: "tx-1"}); err != nil {
		t.Fatal(err)
	}
	publish := func(typ, telnyxID, status string) {
		r := events.Receipt{EventType: typ, TelnyxID: telnyxID, Status: status, OccurredAt: time.Now().UTC()}
		if status == "delivery_failed" {
			r.ErrorCode, r.ErrorTitle = "40008", "Undeliverable"
		}
		if _, err := js.Publish(ctx, events.EventSubject(typ), r.Encode()); err != nil {
			t.Fatal(err)
		}
	}
	// r1: finalized overtakes sent, and sent arrives twice.
	publish("message.finalized", "tx-1", "delivered")
	publish("message.sent", "tx-1", "sent")
	publish("message.sent", "tx-1", "sent")
	// r2: its receipt arrives before the worker stored its Telnyx id.
	publish("message.finalized", "tx-2", "delivery_failed")
	// Not a receipt: must not be consumed by the receipts consumer.
	if _, err := js.Publish(ctx, events.EventSubject("number.ported"), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}

	c := &receipts.Consumer{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := c.Start(ctx, js); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	time.Sleep(300 * time.Millisecond)
	if err := st.UpdateMessage(ctx, "r2", store.Update{Status: store.StatusQueued, TelnyxID: "tx-2"}); err != nil {
		t.Fatal(err)
	}
	waitStatus := func(id, want string) store.Message {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			m, err := st.GetMessage(ctx, id)
			if err == nil && m.Status == want {
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s status %q, want %q", id, m.Status, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitStatus("r1", "delivered")
	if m := waitStatus("r2", "failed"); m.ErrorCode != "40008" || m.ErrorTitle != "Undeliverable" {
		t.Fatalf("failed receipt lost its error: %+v", m)
	}
	// Every receipt handled (none pending or unacknowledged), so the late "sent" has been applied or refused.
	rc, err := js.Consumer(ctx, events.StreamEvents, events.ReceiptsConsumer)
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := rc.Info(ctx)
		if err != nil {
			t.Fatalf("receipts consumer never idle: %v", err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m, _ := st.GetMessage(ctx, "r1"); m.Status != "delivered" {
		t.Fatalf("a late sent receipt moved r1 back to %q", m.Status)
	}
}
