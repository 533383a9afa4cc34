// Package consumer feeds conversation work from NATS JetStream to the processor. It consumes the partitions
// this worker owns, runs each conversation's messages one at a time in stream order and different
// conversations concurrently, and turns the processor's outcome into ack, retry or dead letter.
//
// Order does not rest on partition ownership alone: before a message is processed, the consumer asks the
// stream for the oldest message still pending on the same conversation subject. The stream is a work
// queue, so an acked message is gone; if an older one is still there (held by a worker that died, or being
// retried), this one is deferred. Ownership moves and redeliveries therefore never reorder a conversation.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/smsconv/smsconv/services/worker/internal/processor"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/obs"
)

// Handler processes one message; *processor.Processor implements it.
type Handler interface {
	Handle(ctx context.Context, m events.Message, replay bool) processor.Result
}

// Options tune the consumer.
type Options struct {
	// MaxInFlight bounds the conversations processed at once.
	MaxInFlight int
	// MaxAttempts is how many sends of a message's reply may fail transiently (Telnyx 429/5xx, timeouts)
	// before the message is dead-lettered. Redis outages and deferrals for order never count: a message
	// waits for Redis as long as it takes.
	MaxAttempts int
	// RetryInPlace is how many attempts a delivery makes (with backoff, holding its conversation) before it
	// is handed back to the stream with a delay.
	RetryInPlace int
	// AckWait must match the consumers' AckWait; in-flight messages are kept alive at a third of it.
	AckWait time.Duration
	// MaxBackoff caps retry delays.
	MaxBackoff time.Duration
	// Metrics receives outcomes, retries, dead letters and consumer lag; a private registry when nil.
	Metrics *obs.WorkerMetrics
}

// Runner consumes the owned partitions.
type Runner struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	h      Handler
	o      Options
	log    *slog.Logger

	work     context.Context // processing context, cancelled only when shutdown runs out of time
	cancel   context.CancelFunc
	stopping atomic.Bool

	mu      sync.Mutex
	desired map[int]bool
	active  map[int]jetstream.ConsumeContext

	dmu    sync.Mutex
	queues map[string][]jetstream.Msg // per conversation subject; present while a goroutine runs it
	sem    chan struct{}
	wg     sync.WaitGroup
}

// New returns a Runner for the conversation stream.
func New(ctx context.Context, js jetstream.JetStream, h Handler, o Options, log *slog.Logger) (*Runner, error) {
	s, err := js.Stream(ctx, events.StreamConversations)
	if err != nil {
		return nil, err
	}
	if o.MaxInFlight < 1 {
		o.MaxInFlight = 256
	}
	if o.RetryInPlace < 1 {
		o.RetryInPlace = 3
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Metrics == nil {
		o.Metrics = obs.NewWorkerMetrics(prometheus.NewRegistry())
	}
	work, cancel := context.WithCancel(context.Background())
	return &Runner{js: js, stream: s, h: h, o: o, log: log.With("component", "consumer"), work: work, cancel: cancel,
		desired: map[int]bool{}, active: map[int]jetstream.ConsumeContext{},
		queues: map[string][]jetstream.Msg{}, sem: make(chan struct{}, o.MaxInFlight)}, nil
}

// Assign sets the partitions this worker should consume.
func (r *Runner) Assign(owned []int) {
	r.mu.Lock()
	r.desired = make(map[int]bool, len(owned))
	for _, p := range owned {
		r.desired[p] = true
	}
	r.mu.Unlock()
	r.reconcile()
}

// Run retries consumer starts that failed (NATS down) and reports the pending messages of the owned
// partitions, until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.reconcile()
			r.reportLag(ctx)
		}
	}
}

// reportLag publishes each owned partition consumer's pending count (messages not yet delivered).
func (r *Runner) reportLag(ctx context.Context) {
	for _, p := range r.Active() {
		ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := r.js.Consumer(ictx, events.StreamConversations, events.PartitionConsumer(p))
		if err == nil {
			var info *jetstream.ConsumerInfo
			if info, err = c.Info(ictx); err == nil {
				r.o.Metrics.SetConsumerPending(events.PartitionConsumer(p), info.NumPending)
			}
		}
		cancel()
	}
}

func (r *Runner) reconcile() {
	if r.stopping.Load() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, cc := range r.active {
		if !r.desired[p] {
			cc.Drain() // buffered messages still reach the handler; new ones go to the new owner
			delete(r.active, p)
			r.o.Metrics.DropConsumer(events.PartitionConsumer(p))
			r.log.Info("partition released", "partition", p)
		}
	}
	for p := range r.desired {
		if _, ok := r.active[p]; ok {
			continue
		}
		ctx, cancel := context.WithTimeout(r.work, 5*time.Second)
		c, err := r.js.Consumer(ctx, events.StreamConversations, events.PartitionConsumer(p))
		cancel()
		if err != nil {
			r.log.Warn("partition consumer unavailable; will retry", "partition", p, "err", err)
			continue
		}
		cc, err := c.Consume(r.enqueue,
			jetstream.PullMaxMessages(500),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				if !errors.Is(err, jetstream.ErrNoHeartbeat) {
					r.log.Debug("consume", "partition", p, "err", err)
				}
			}))
		if err != nil {
			r.log.Warn("consume partition failed; will retry", "partition", p, "err", err)
			continue
		}
		r.active[p] = cc
		r.log.Info("partition consuming", "partition", p)
	}
}

// enqueue appends msg to its conversation's queue and starts the conversation's goroutine if it has none.
func (r *Runner) enqueue(msg jetstream.Msg) {
	subj := msg.Subject()
	r.dmu.Lock()
	q, running := r.queues[subj]
	r.queues[subj] = append(q, msg)
	if !running {
		r.wg.Add(1)
		go r.runConversation(subj)
	}
	r.dmu.Unlock()
}

func (r *Runner) runConversation(subj string) {
	defer r.wg.Done()
	r.sem <- struct{}{}
	defer func() { <-r.sem }()
	for {
		r.dmu.Lock()
		q := r.queues[subj]
		if len(q) == 0 {
			delete(r.queues, subj)
			r.dmu.Unlock()
			return
		}
		msg := q[0]
		q[0] = nil
		r.queues[subj] = q[1:]
		r.dmu.Unlock()
		if r.stopping.Load() {
			// Shutting down: hand queued work straight back so another worker takes it now.
			_ = msg.Nak()
			continue
		}
		r.process(msg)
	}
}

func (r *Runner) process(msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		r.log.Error("message without JetStream metadata", "err", err)
		return
	}
	start := time.Now()
	part, _ := events.PartitionOf(msg.Subject())
	// Continue the ingress's trace: this span is a child of the webhook's.
	ctx, span := obs.Tracer().Start(obs.ExtractNATS(r.work, msg.Headers()), "process",
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
			attribute.Int("partition", part), attribute.Int64("stream_seq", int64(meta.Sequence.Stream)),
			attribute.Int64("attempt", int64(meta.NumDelivered))))
	outcome := obs.OutcomeDone
	defer func() {
		span.SetAttributes(attribute.String("outcome", outcome))
		span.End()
		r.o.Metrics.ObserveProcessed(outcome, time.Since(start))
	}()
	log := obs.WithTrace(ctx, r.log).With("partition", part, "stream_seq", meta.Sequence.Stream, "attempt", meta.NumDelivered)
	m, err := events.Decode(msg.Data())
	if err != nil {
		outcome = obs.OutcomeDeadLetter
		r.deadLetter(log, msg, meta, "undecodable", "undecodable message: "+err.Error())
		return
	}
	log = log.With("msg_id", m.ID, "event_id", m.EventID, "kind", m.Kind)
	span.SetAttributes(attribute.String("msg_id", m.ID), attribute.String("event_id", m.EventID))

	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	head, err := r.stream.GetMsg(hctx, 1, jetstream.WithGetMsgSubject(msg.Subject()))
	cancel()
	switch {
	case err == nil && head.Sequence < meta.Sequence.Stream:
		log.Debug("an older message of this conversation is pending; deferring", "head_seq", head.Sequence)
		outcome = "deferred"
		// A short, constant delay: the older message may be done any moment, and an escalating delay
		// would leave this conversation waiting long after it is.
		_ = msg.NakWithDelay(deferDelay())
		return
	case err != nil && !errors.Is(err, jetstream.ErrMsgNotFound):
		log.Warn("order check failed; retrying later", "err", err)
		outcome = obs.OutcomeRetry
		r.o.Metrics.Retry("order_check")
		_ = msg.NakWithDelay(r.backoff(int(meta.NumDelivered), 500*time.Millisecond))
		return
	}

	stop := r.keepAlive(msg)
	defer stop()
	replay := msg.Headers().Get(events.HeaderReplay) != ""
	for attempt := 1; ; attempt++ {
		res := r.h.Handle(ctx, m, replay)
		switch res.Outcome {
		case processor.Done:
			actx, cancel := context.WithTimeout(r.work, 5*time.Second)
			if err := msg.DoubleAck(actx); err != nil {
				// The effect is stored; a redelivery finds it and only acks.
				log.Warn("ack failed; the message will be redelivered and deduplicated", "err", err)
			}
			cancel()
			return
		case processor.DeadLetter:
			outcome = obs.OutcomeDeadLetter
			obs.RecordError(span, res.Err)
			r.deadLetter(log, msg, meta, "permanent", res.Reason)
			return
		}
		outcome = obs.OutcomeRetry
		r.o.Metrics.Retry(res.Cause)
		if res.Cause == processor.CauseRedis {
			r.o.Metrics.RedisError("process")
		}
		if r.stopping.Load() || r.work.Err() != nil {
			_ = msg.Nak()
			return
		}
		if r.o.MaxAttempts > 0 && res.Cause == processor.CauseTelnyx && res.SendFailures >= r.o.MaxAttempts {
			outcome = obs.OutcomeDeadLetter
			obs.RecordError(span, res.Err)
			r.deadLetter(log, msg, meta, "exhausted", fmt.Sprintf("retries exhausted after %d failed sends: %s", res.SendFailures, res.Reason))
			return
		}
		if attempt < r.o.RetryInPlace {
			log.Debug("transient failure; retrying in place", "reason", res.Reason, "err", res.Err)
			select {
			case <-time.After(r.backoff(attempt, 100*time.Millisecond)):
			case <-r.work.Done():
			}
			continue
		}
		delay := r.backoff(max(res.SendFailures, 1), time.Second)
		log.Warn("transient failure; will retry", "reason", res.Reason, "err", res.Err, "delay", delay)
		_ = msg.NakWithDelay(delay)
		return
	}
}

// deadLetter keeps msg in the dead-letter stream with the reason, then removes it from the work queue.
func (r *Runner) deadLetter(log *slog.Logger, msg jetstream.Msg, meta *jetstream.MsgMetadata, class, reason string) {
	kind := "unknown"
	if m, err := events.Decode(msg.Data()); err == nil {
		kind = m.Kind
	}
	dl := nats.NewMsg(events.DeadLetterSubject(kind))
	dl.Data = msg.Data()
	dl.Header.Set(events.HeaderDLQReason, reason)
	dl.Header.Set(events.HeaderDLQClass, class)
	dl.Header.Set(events.HeaderDLQSubject, msg.Subject())
	dl.Header.Set(events.HeaderDLQSeq, strconv.FormatUint(meta.Sequence.Stream, 10))
	dl.Header.Set(events.HeaderDLQAttempts, strconv.FormatUint(meta.NumDelivered, 10))
	dl.Header.Set(events.HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	ctx, cancel := context.WithTimeout(r.work, 5*time.Second)
	defer cancel()
	// The id makes a retried dead-lettering (crash between publish and term) a duplicate, not a second entry.
	if _, err := r.js.PublishMsg(ctx, dl, jetstream.WithMsgID("dlq-"+strconv.FormatUint(meta.Sequence.Stream, 10))); err != nil {
		log.Warn("dead-letter publish failed; will retry", "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if err := msg.TermWithReason(reason); err != nil {
		log.Warn("term after dead-letter failed", "err", err)
	}
	r.o.Metrics.DeadLetter(class)
	log.Warn("message dead-lettered", "class", class, "reason", reason)
}

// keepAlive tells the server the message is still being worked on, so a slow send is not redelivered.
func (r *Runner) keepAlive(msg jetstream.Msg) func() {
	every := r.o.AckWait / 3
	if every <= 0 {
		every = 10 * time.Second
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	return func() { close(done) }
}

// deferDelay is 150-350 ms.
func deferDelay() time.Duration {
	return 150*time.Millisecond + rand.N(200*time.Millisecond) //nolint:gosec // jitter, not security
}

// backoff is exponential from base with full jitter, capped at MaxBackoff.
func (r *Runner) backoff(n int, base time.Duration) time.Duration {
	if n < 1 {
		n = 1
	}
	d := base << min(n-1, 16)
	if d > r.o.MaxBackoff || d <= 0 {
		d = r.o.MaxBackoff
	}
	return d/2 + rand.N(d/2+1) //nolint:gosec // jitter, not security
}

// Stop stops consuming, hands queued messages back, and waits for in-flight ones until ctx ends; then it
// cancels what is left (those messages are redelivered to other workers).
func (r *Runner) Stop(ctx context.Context) error {
	r.stopping.Store(true)
	r.mu.Lock()
	var closed []<-chan struct{}
	for p, cc := range r.active {
		cc.Drain() // messages already buffered reach enqueue, which hands them back (Nak) at once
		closed = append(closed, cc.Closed())
		delete(r.active, p)
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		for _, c := range closed {
			select {
			case <-c:
			case <-ctx.Done():
			}
		}
		r.wg.Wait()
		close(done)
	}()
	defer r.cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		r.cancel()
		<-done
		return ctx.Err()
	}
}

// Active returns the partitions being consumed (for logs and tests).
func (r *Runner) Active() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int, 0, len(r.active))
	for p := range r.active {
		out = append(out, p)
	}
	return out
}
