package events_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/natstest"
)

func setup(t *testing.T, o events.StreamOptions) (jetstream.JetStream, context.Context) {
	t.Helper()
	_, js := natstest.Start(t).Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	if err := events.EnsureStreams(ctx, js, o); err != nil {
		t.Fatal(err)
	}
	if err := events.EnsureConsumers(ctx, js, o); err != nil {
		t.Fatal(err)
	}
	return js, ctx
}

func TestEnsureStreamsIdempotentAndPartitioned(t *testing.T) {
	o := events.DefaultStreamOptions()
	o.Partitions = 4
	js, ctx := setup(t, o)
	if err := events.EnsureStreams(ctx, js, o); err != nil {
		t.Fatalf("second EnsureStreams: %v", err)
	}
	o2 := o
	o2.Partitions = 8
	if err := events.EnsureStreams(ctx, js, o2); !errors.Is(err, events.ErrPartitionMismatch) {
		t.Fatalf("ingress changing partitions: err = %v, want ErrPartitionMismatch", err)
	}
	if err := events.EnsureConsumers(ctx, js, o2); !errors.Is(err, events.ErrPartitionMismatch) {
		t.Fatalf("worker changing partitions: err = %v, want ErrPartitionMismatch", err)
	}

	subj := events.ConversationSubject("+15550001111", "+12125551234")
	for i := range 3 {
		if _, err := js.Publish(ctx, subj, []byte{byte('a' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := js.Stream(ctx, events.StreamConversations)
	first, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := events.PartitionOf(first.Subject)
	if !ok || p < 0 || p >= 4 {
		t.Fatalf("stored subject %q has no partition in 0..3", first.Subject)
	}
	// The same conversation always lands in the same partition, consumed by that partition's consumer.
	c, err := js.Consumer(ctx, events.StreamConversations, events.PartitionConsumer(p))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(3, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []jetstream.Msg
	for m := range batch.Messages() {
		got = append(got, m)
	}
	if len(got) != 3 || got[0].Subject() != first.Subject || got[2].Subject() != first.Subject {
		t.Fatalf("partition %d delivered %d messages", p, len(got))
	}

	// Head check: the oldest pending message on the conversation subject is the first until it is acked;
	// a terminated message leaves the work queue too.
	head := func() uint64 {
		m, err := s.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(first.Subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return m.Sequence
	}
	if h := head(); h != 1 {
		t.Fatalf("head = %d, want 1", h)
	}
	if err := got[0].DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	if h := head(); h != 2 {
		t.Fatalf("head after ack = %d, want 2", h)
	}
	if err := got[1].TermWithReason("test"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for head() != 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if h := head(); h != 3 {
		t.Fatalf("head after term = %d, want 3", h)
	}
	if err := got[2].DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	if h := head(); h != 0 {
		t.Fatalf("head after all acked = %d, want none", h)
	}
}

func TestPublishDedupAndDiscardNew(t *testing.T) {
	o := events.DefaultStreamOptions()
	o.Partitions = 2
	o.MaxMsgs = 2
	js, ctx := setup(t, o)
	subj := events.ConversationSubject("+15550001111", "+12125551234")
	pub := func(id string) (*jetstream.PubAck, error) {
		return js.Publish(ctx, subj, []byte(id), jetstream.WithMsgID(id))
	}
	if a, err := pub("e1"); err != nil || a.Duplicate {
		t.Fatalf("first publish: %v %+v", err, a)
	}
	if a, err := pub("e1"); err != nil || !a.Duplicate {
		t.Fatalf("duplicate publish: %v %+v", err, a)
	}
	if _, err := pub("e2"); err != nil {
		t.Fatal(err)
	}
	if _, err := pub("e3"); err == nil {
		t.Fatal("publish past MaxMsgs succeeded; want the stream to refuse")
	}
}

// TestEachHalfHasOneOwner: the ingress's EnsureStreams never changes a consumer (the worker's AckWait
// stays) and the worker's EnsureConsumers never changes a stream (the ingress's limits stay).
func TestEachHalfHasOneOwner(t *testing.T) {
	o := events.DefaultStreamOptions()
	o.Partitions, o.AckWait, o.MaxMsgs = 2, 5*time.Second, 500
	js, ctx := setup(t, o)

	ingress := events.DefaultStreamOptions() // AckWait left at its 30 s default
	ingress.Partitions, ingress.MaxMsgs = 2, 500
	if err := events.EnsureStreams(ctx, js, ingress); err != nil {
		t.Fatal(err)
	}
	worker := events.DefaultStreamOptions() // MaxMsgs left at its default
	worker.Partitions, worker.AckWait = 2, 5*time.Second
	if err := events.EnsureConsumers(ctx, js, worker); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{events.PartitionConsumer(1), events.ReceiptsConsumer} {
		stream := events.StreamConversations
		if name == events.ReceiptsConsumer {
			stream = events.StreamEvents
		}
		c, err := js.Consumer(ctx, stream, name)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.CachedInfo().Config.AckWait; got != 5*time.Second {
			t.Errorf("%s AckWait after both started = %s, want the worker's 5s", name, got)
		}
	}
	s, err := js.Stream(ctx, events.StreamConversations)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.MaxMsgs; got != 500 {
		t.Fatalf("MaxMsgs after both started = %d, want the ingress's 500", got)
	}
}

// TestWorkerNeverCreatesStreams: before the ingress has run, the worker's half finds no stream and says so
// (its caller retries), creating none; once the streams exist it creates its consumers.
func TestWorkerNeverCreatesStreams(t *testing.T) {
	_, js := natstest.Start(t).Connect(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	o := events.DefaultStreamOptions()
	o.Partitions = 2
	if err := events.EnsureConsumers(ctx, js, o); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("EnsureConsumers before the streams exist: %v, want ErrStreamNotFound", err)
	}
	names := js.StreamNames(ctx)
	for name := range names.Name() {
		t.Fatalf("stream %s exists before the ingress ran: the worker must not create streams", name)
	}
	if err := events.EnsureStreams(ctx, js, o); err != nil {
		t.Fatal(err)
	}
	if err := events.EnsureConsumers(ctx, js, o); err != nil {
		t.Fatalf("EnsureConsumers once the streams exist: %v", err)
	}
	if _, err := js.Consumer(ctx, events.StreamConversations, events.PartitionConsumer(1)); err != nil {
		t.Fatalf("partition consumer: %v", err)
	}
}
