package consumer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsconv/smsconv/services/worker/internal/consumer"
	"github.com/smsconv/smsconv/services/worker/internal/metrics"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/obs"
	"github.com/smsconv/smsconv/shared/obs/obstest"
)

func orderChecks(t *testing.T, reg *prometheus.Registry) (stream, deliveries float64) {
	t.Helper()
	got := obstest.Series(t, reg)
	return got["smsconv_order_checks_total{source="+metrics.OrderFromStream+"}"],
		got["smsconv_order_checks_total{source="+metrics.OrderFromDeliveries+"}"]
}

// In the steady state a worker that gets every delivery of its partitions answers the order check itself:
// the conversations' replies stay in order and the stream is not asked once.
func TestOrderKnownFromUnbrokenDeliveries(t *testing.T) {
	e := newEnv(t)
	reg := obs.NewRegistry()
	e.start(consumer.Options{MaxInFlight: 8, Metrics: metrics.New(reg)})

	us := users(20)
	// Until the runner has read a partition's floor, its messages ask the stream. Probe each conversation
	// until its order check is known.
	replies := 0
	deadline := time.Now().Add(20 * time.Second)
	for _, u := range us {
		for i := 0; ; i++ {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no order check answered from the deliveries after %d probes", u, i)
			}
			_, known := orderChecks(t, reg)
			// Each probe's text differs: the reply loop guard would stop answering a repeated one.
			e.publish(u, fmt.Sprintf("%s-probe-%d", u, i), fmt.Sprintf("probe %d", i))
			replies++
			e.waitReplies(replies)
			if _, now := orderChecks(t, reg); now > known {
				break
			}
		}
	}
	e.waitIdle()

	stream0, known0 := orderChecks(t, reg)
	const per = 6
	for i := range per {
		for _, u := range us {
			e.publish(u, fmt.Sprintf("%s-%02d", u, i), fmt.Sprintf("m%02d", i))
		}
	}
	sent := e.waitReplies(replies + len(us)*per)
	checkOrder(t, sent[replies:], us, per)
	stream1, known1 := orderChecks(t, reg)
	if stream1 != stream0 || known1-known0 != float64(len(us)*per) {
		t.Fatalf("order checks: %v asked the stream, %v known from deliveries; want 0 and %d", stream1-stream0, known1-known0, len(us)*per)
	}
}

// A message whose conversation has an older message held by someone else (a worker that died with it, say)
// must wait for it, though it reaches a runner with nothing of its own pending.
func TestMessageBehindOneHeldElsewhereWaits(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := "+12125550001"
	e.publish(u, "x0", "m00")
	s, err := e.js.Stream(ctx, events.StreamConversations)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.GetMsg(ctx, 1, jetstream.WithGetMsgSubject("conv.>"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := events.PartitionOf(first.Subject)
	c, err := e.js.Consumer(ctx, events.StreamConversations, events.PartitionConsumer(p))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	held := <-batch.Messages()
	if held == nil {
		t.Fatal("the other client got nothing")
	}
	e.publish(u, "x1", "m01")

	reg := obs.NewRegistry()
	e.start(consumer.Options{Metrics: metrics.New(reg)})
	deadline := time.Now().Add(10 * time.Second)
	for obstest.Series(t, reg)["smsconv_messages_processed_total{outcome="+metrics.OutcomeDeferred+"}"] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("m01 was never deferred behind the held m00")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(e.fake.Messages()); n != 0 {
		t.Fatalf("%d replies sent while m00 is held elsewhere, want 0: %v", n, e.fake.Messages())
	}
	// The other client gives m00 back: the runner answers m00, then m01.
	if err := held.Nak(); err != nil {
		t.Fatal(err)
	}
	checkOrder(t, e.waitReplies(2), []string{u}, 2)
}
