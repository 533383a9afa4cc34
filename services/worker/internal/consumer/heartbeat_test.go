package consumer_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/services/worker/internal/consumer"
	"github.com/smsconv/smsconv/services/worker/internal/membership"
	"github.com/smsconv/smsconv/services/worker/internal/processor"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/natstest"
)

type doneHandler struct{}

func (doneHandler) Handle(context.Context, events.Message, processor.Delivery) processor.Result {
	return processor.Result{Outcome: processor.Done}
}

// slowJetStream is a JetStream whose API requests go through a relay that holds every consumer look-up
// until release is closed, as an overloaded or leaderless JetStream would. held receives each one held.
func slowJetStream(tb testing.TB, nc *nats.Conn) (js jetstream.JetStream, held <-chan string, release func()) {
	tb.Helper()
	h := make(chan string, 64)
	gate := make(chan struct{})
	sub, err := nc.Subscribe("slowjs.>", func(m *nats.Msg) {
		fwd := &nats.Msg{Subject: "$JS.API." + strings.TrimPrefix(m.Subject, "slowjs."), Reply: m.Reply, Data: m.Data, Header: m.Header}
		if strings.HasPrefix(fwd.Subject, "$JS.API.CONSUMER.INFO.") {
			go func() {
				h <- fwd.Subject
				<-gate
				_ = nc.PublishMsg(fwd)
			}()
			return
		}
		_ = nc.PublishMsg(fwd) // the server answers the original requester directly
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = sub.Unsubscribe() })
	js, err = jetstream.NewWithAPIPrefix(nc, "slowjs")
	if err != nil {
		tb.Fatal(err)
	}
	var closed bool
	return js, h, func() {
		if !closed {
			closed = true
			close(gate)
		}
	}
}

// TestReconcilingAgainstSlowJetStreamNeverStopsHeartbeats: while the consumer is stuck starting its 16
// partitions (each look-up held by JetStream), the worker's heartbeats keep going, so its peers do not
// declare it dead and take its partitions.
func TestReconcilingAgainstSlowJetStreamNeverStopsHeartbeats(t *testing.T) {
	nc, real := natstest.Start(t).Connect(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	o := events.DefaultStreamOptions()
	o.Partitions = 16
	natstest.Topology(t, real, o)

	js, held, release := slowJetStream(t, nc)
	defer release()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := consumer.New(ctx, js, doneHandler{}, consumer.Options{}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		release()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = r.Stop(sctx)
	})

	beats := make(chan *nats.Msg, 256)
	sub, err := nc.ChanSubscribe(membership.Subject, beats)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	g := membership.New(nc, "w1", o.Partitions, 20*time.Millisecond, log)
	gctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = g.Run(gctx, r.Assign) }()

	select {
	case <-held: // reconciliation has begun and is stuck on JetStream
	case <-ctx.Done():
		t.Fatal("the consumer never looked up a partition consumer")
	}
	for n := 0; n < 10; {
		select {
		case m := <-beats:
			if string(m.Data) == "hb w1" {
				n++
			}
		case <-ctx.Done():
			t.Fatalf("%d heartbeats while reconciliation was stuck, want 10", n)
		}
	}
	if got := len(r.Active()); got != 0 {
		t.Fatalf("%d partitions active while every look-up is held, want 0: the test did not hold reconciliation", got)
	}
	// Once JetStream answers, every partition is consumed.
	release()
	for len(r.Active()) < o.Partitions {
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d partitions active after JetStream answered", len(r.Active()), o.Partitions)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
