// Package consumer feeds conversation work from NATS JetStream to the processor. It consumes the partitions
// this worker owns, runs each conversation's messages one at a time in stream order and different
// conversations concurrently, and turns the processor's outcome into ack, retry or dead letter.
//
// The queue is the only retry loop: a message is handled once per delivery (at most one Telnyx request),
// and a transient failure is handed back with NakWithDelay, with exponential backoff or Telnyx's
// Retry-After, whichever is longer.
//
// Order does not rest on partition ownership alone: before a message is processed, the consumer asks the
// stream for the oldest message still pending on the same conversation subject. The stream is a work
// queue, so an acked message is gone; if an older one is still there (held by a worker that died, or being
// retried), this one is deferred. Ownership moves and redeliveries therefore never reorder a conversation.
// In the steady state the answer is known without asking, from this worker's own unbroken deliveries and the
// partition's oldest pending message (order.go); any doubt asks the stream.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/smsconv/smsconv/services/worker/internal/metrics"
	"github.com/smsconv/smsconv/services/worker/internal/processor"
	"github.com/smsconv/smsconv/shared/deadletter"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/obs"
)

// Handler processes one message; *processor.Processor implements it.
type Handler interface {
	Handle(ctx context.Context, m events.Message, d processor.Delivery) processor.Result
}

// Options tune the consumer.
type Options struct {
	// MaxInFlight bounds the conversations processed at once.
	MaxInFlight int
	// MaxAttempts is how many HTTP requests sending a message's reply may fail transiently (Telnyx
	// 429/5xx, timeouts) before the message is dead-lettered. Redis outages and deferrals for order never
	// count: a message waits for Redis as long as it takes.
	MaxAttempts int
	// MaxBackoff caps retry delays (a longer Telnyx Retry-After is still honoured).
	MaxBackoff time.Duration
	// Metrics receives outcomes, retries, dead letters and consumer lag; a private registry when nil.
	Metrics *metrics.Metrics
}

// queued is a message with the AckWait of the consumer that delivered it, read from that consumer's info.
type queued struct {
	msg     jetstream.Msg
	ackWait time.Duration
	// touched is when the server last heard of the message from us (delivery or InProgress): a message
	// waiting behind its conversation's earlier ones is kept alive too, so a short AckWait redelivers only
	// what a dead worker held, never what a live one has yet to reach.
	touched time.Time
	// meta is the delivery's JetStream metadata (nil if it had none).
	meta *jetstream.MsgMetadata
	// order and runStart say whether the order check may be answered from the deliveries (order.go).
	order    *partitionOrder
	runStart uint64
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

	// mu guards desired and active and is never held across a NATS call: reconciliation (slow when
	// JetStream is) must not block Assign, and so the membership heartbeats that call it.
	mu      sync.Mutex
	desired map[int]bool
	active  map[int]jetstream.ConsumeContext

	// kick wakes the reconcile loop, the only goroutine that starts consumers; it ends with rctx.
	kick          chan struct{}
	rctx          context.Context
	stopReconcile context.CancelFunc
	reconciled    chan struct{}

	dmu    sync.Mutex
	queues map[string][]queued // per conversation subject; present while it is ready or being run
	held   map[string]uint64   // per conversation subject: the latest message handed back (order.go)
	// The conversations with work are run by a pool of at most MaxInFlight goroutines, started as needed and
	// kept, so a conversation's run does not grow a new stack through the whole handler each time. ready
	// holds the subjects waiting for one (FIFO); idle counts those waiting on more, which enqueue wakes.
	ready    []string
	idle     int
	runners  int
	poolDone bool
	more     *sync.Cond // on dmu

	// omu guards orders; it is never taken with dmu held.
	omu       sync.Mutex
	orders    map[int]*partitionOrder
	floorKick chan struct{}
	wg        sync.WaitGroup // one per conversation with work
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
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New(prometheus.NewRegistry())
	}
	work, cancel := context.WithCancel(context.Background())
	rctx, stopReconcile := context.WithCancel(work)
	r := &Runner{js: js, stream: s, h: h, o: o, log: log.With("component", "consumer"), work: work, cancel: cancel,
		desired: map[int]bool{}, active: map[int]jetstream.ConsumeContext{},
		kick: make(chan struct{}, 1), rctx: rctx, stopReconcile: stopReconcile, reconciled: make(chan struct{}),
		queues: map[string][]queued{}, held: map[string]uint64{}, orders: map[int]*partitionOrder{},
		floorKick: make(chan struct{}, 1)}
	r.more = sync.NewCond(&r.dmu)
	go r.reconcileLoop()
	go r.keepQueuedAlive()
	go r.watchFloors()
	return r, nil
}

// Assign sets the partitions this worker should consume. It returns at once: the consumers are started
// and stopped by the reconcile loop.
func (r *Runner) Assign(owned []int) {
	r.mu.Lock()
	r.desired = make(map[int]bool, len(owned))
	for _, p := range owned {
		r.desired[p] = true
	}
	r.mu.Unlock()
	r.wake()
}

func (r *Runner) wake() {
	select {
	case r.kick <- struct{}{}:
	default: // a reconcile is due already; it will see the latest assignment
	}
}

func (r *Runner) reconcileLoop() {
	defer close(r.reconciled)
	for {
		select {
		case <-r.rctx.Done():
			return
		case <-r.kick:
			r.reconcile()
		}
	}
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
			r.wake()
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

// reconcile starts the consumers of desired partitions and drains those of released ones. The NATS calls
// happen without r.mu; only the reconcile loop runs this, so two calls never start the same partition.
func (r *Runner) reconcile() {
	r.mu.Lock()
	var release []jetstream.ConsumeContext
	for p, cc := range r.active {
		if !r.desired[p] {
			release = append(release, cc)
			delete(r.active, p)
			r.o.Metrics.DropConsumer(events.PartitionConsumer(p))
			r.log.Info("partition released", "partition", p)
		}
	}
	var start []int
	for p := range r.desired {
		if _, ok := r.active[p]; !ok {
			start = append(start, p)
		}
	}
	r.mu.Unlock()
	for _, cc := range release {
		cc.Drain() // buffered messages still reach the handler; new ones go to the new owner
	}
	for _, p := range start {
		if r.rctx.Err() != nil {
			return
		}
		cc, err := r.consume(p)
		if err != nil {
			r.log.Warn("partition consumer unavailable; will retry", "partition", p, "err", err)
			continue
		}
		r.mu.Lock()
		keep := r.desired[p] && !r.stopping.Load()
		if keep {
			r.active[p] = cc
		}
		r.mu.Unlock()
		if !keep {
			cc.Drain() // released (or shutting down) while it was starting
			continue
		}
		r.log.Info("partition consuming", "partition", p)
	}
}

// consume starts consuming partition p, with the AckWait its consumer was created with.
func (r *Runner) consume(p int) (jetstream.ConsumeContext, error) {
	ctx, cancel := context.WithTimeout(r.rctx, 5*time.Second)
	c, err := r.js.Consumer(ctx, events.StreamConversations, events.PartitionConsumer(p))
	cancel()
	if err != nil {
		return nil, err
	}
	ackWait := c.CachedInfo().Config.AckWait
	sess := &session{order: r.orderFor(p)}
	cc, err := c.Consume(func(msg jetstream.Msg) {
		item := queued{msg: msg, ackWait: ackWait, touched: time.Now(), order: sess.order}
		if meta, err := msg.Metadata(); err == nil {
			item.meta = meta
			item.runStart = sess.observe(meta.Sequence.Consumer, meta.Sequence.Stream, meta.NumDelivered)
			if item.runStart == meta.Sequence.Stream && !sess.order.covers(item.runStart) {
				r.kickFloors() // this delivery began a run
			}
		}
		r.enqueue(item)
	},
		jetstream.PullMaxMessages(500),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !errors.Is(err, jetstream.ErrNoHeartbeat) {
				r.log.Debug("consume", "partition", p, "err", err)
			}
		}))
	if err != nil {
		return nil, fmt.Errorf("consume: %w", err)
	}
	return cc, nil
}

// enqueue appends q to its conversation's queue and starts the conversation's goroutine if it has none.
func (r *Runner) enqueue(item queued) {
	subj := item.msg.Subject()
	r.dmu.Lock()
	q, running := r.queues[subj]
	r.queues[subj] = append(q, item)
	if !running {
		r.wg.Add(1)
		r.ready = append(r.ready, subj)
		switch {
		case r.idle > 0 && !r.poolDone:
			r.idle-- // this one is spoken for; a second enqueue wakes another
			r.more.Signal()
		case r.runners < r.o.MaxInFlight:
			r.runners++
			go r.runReady()
		}
		// Otherwise every runner is busy: the first to finish takes it. After Stop a runner is started for
		// a late delivery, hands it back and ends.
	}
	r.dmu.Unlock()
}

// runReady is one runner of the pool: it runs the ready conversations one after another, and waits for more
// until the pool closes (Stop).
func (r *Runner) runReady() {
	r.dmu.Lock()
	for {
		for len(r.ready) == 0 && !r.poolDone {
			r.idle++
			r.more.Wait()
		}
		if len(r.ready) == 0 {
			r.runners--
			r.dmu.Unlock()
			return
		}
		subj := r.ready[0]
		r.ready[0] = ""
		r.ready = r.ready[1:]
		r.dmu.Unlock()
		r.runConversation(subj)
		r.dmu.Lock()
	}
}

// closePool ends the runners once they are idle.
func (r *Runner) closePool() {
	r.dmu.Lock()
	r.poolDone = true
	r.dmu.Unlock()
	r.more.Broadcast()
}

// runConversation handles subj's queued messages in order until its queue is empty.
func (r *Runner) runConversation(subj string) {
	defer r.wg.Done()
	for {
		r.dmu.Lock()
		q := r.queues[subj]
		if len(q) == 0 {
			delete(r.queues, subj)
			r.dmu.Unlock()
			return
		}
		item := q[0]
		q[0] = queued{}
		r.queues[subj] = q[1:]
		r.dmu.Unlock()
		gone := false
		if r.stopping.Load() {
			// Shutting down: hand queued work straight back so another worker takes it now.
			_ = item.msg.Nak()
		} else {
			gone = r.process(item)
		}
		if !gone {
			seq := ^uint64(0) // no metadata: only the stream can say when it is gone
			if item.meta != nil {
				seq = item.meta.Sequence.Stream
			}
			r.hold(subj, seq)
		}
	}
}

// process handles one delivery: the order check, one Handle, then ack, dead letter or a delayed Nak. It
// reports whether the message left the stream (acked or dead-lettered, as far as this worker knows).
func (r *Runner) process(item queued) (gone bool) {
	msg, meta := item.msg, item.meta
	if meta == nil {
		r.log.Error("message without JetStream metadata")
		return false
	}
	start := time.Now()
	part, _ := events.PartitionOf(msg.Subject())
	// Continue the ingress's trace: this span is a child of the webhook's.
	ctx, span := obs.Tracer().Start(obs.ExtractNATS(r.work, msg.Headers()), "process",
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
			attribute.Int("partition", part), attribute.Int64("stream_seq", int64(meta.Sequence.Stream)),
			attribute.Int64("attempt", int64(meta.NumDelivered))))
	outcome := metrics.OutcomeDone
	defer func() {
		span.SetAttributes(attribute.String("outcome", outcome))
		span.End()
		r.o.Metrics.ObserveProcessed(outcome, time.Since(start))
	}()
	log := obs.WithTrace(ctx, r.log).With("partition", part, "stream_seq", meta.Sequence.Stream, "attempt", meta.NumDelivered)
	m, err := events.Decode(msg.Data())
	if err != nil {
		outcome = metrics.OutcomeDeadLetter
		return r.deadLetter(log, msg, meta, deadletter.ClassUndecodable, "undecodable message: "+err.Error())
	}
	log = log.With("msg_id", m.ID, "event_id", m.EventID, "kind", m.Kind)
	span.SetAttributes(attribute.String("msg_id", m.ID), attribute.String("event_id", m.EventID))

	if ok, deferred := r.inOrder(ctx, log, item); !ok {
		outcome = metrics.OutcomeRetry
		if deferred {
			outcome = metrics.OutcomeDeferred
		}
		return false
	}

	stop := r.keepAlive(msg, item.ackWait)
	defer stop()
	res := r.h.Handle(ctx, m, processor.Delivery{Replay: deadletter.IsReplay(msg.Headers()), Redelivered: meta.NumDelivered > 1})
	switch res.Outcome {
	case processor.Done:
		return r.ack(log, msg)
	case processor.DeadLetter:
		outcome = metrics.OutcomeDeadLetter
		obs.RecordError(span, res.Err)
		return r.deadLetter(log, msg, meta, deadletter.ClassPermanent, res.Reason)
	}
	outcome = metrics.OutcomeRetry
	r.o.Metrics.Retry(res.Cause)
	if res.Cause == processor.CauseRedis {
		r.o.Metrics.RedisError("process")
	}
	if r.o.MaxAttempts > 0 && res.Cause == processor.CauseTelnyx && res.SendFailures >= r.o.MaxAttempts {
		outcome = metrics.OutcomeDeadLetter
		obs.RecordError(span, res.Err)
		return r.deadLetter(log, msg, meta, deadletter.ClassExhausted, fmt.Sprintf("retries exhausted after %d failed sends: %s", res.SendFailures, res.Reason))
	}
	if r.stopping.Load() || r.work.Err() != nil {
		_ = msg.Nak() // shutting down: let another worker retry it now
		return false
	}
	if res.Cause == processor.CauseCapacity {
		// Waiting for sending capacity is not a failure: the limiter reserved this message a slot, and the
		// queue hands it back then. It holds its conversation (the order check defers younger messages) and
		// no worker goroutine waits for it.
		log.Debug("waiting for sending capacity", "reason", res.Reason, "delay", res.RetryAfter)
		_ = msg.NakWithDelay(max(res.RetryAfter, time.Millisecond))
		return false
	}
	delay := max(r.backoff(max(res.SendFailures, 1), retryBase), res.RetryAfter)
	log.Warn("transient failure; will retry", "reason", res.Reason, "err", res.Err, "delay", delay)
	_ = msg.NakWithDelay(delay)
	return false
}

// inOrder is the order check: it reports whether item is the oldest pending message of its conversation,
// from the deliveries when they tell (order.go) and otherwise from the stream. When it is not, the message has
// been handed back: deferred (an older one is pending) or retried (the stream did not answer).
func (r *Runner) inOrder(ctx context.Context, log *slog.Logger, item queued) (ok, deferred bool) {
	msg, meta := item.msg, item.meta
	r.dmu.Lock()
	known := r.known(item)
	r.dmu.Unlock()
	if known {
		r.o.Metrics.OrderCheck(metrics.OrderFromDeliveries)
		return true, false
	}
	r.o.Metrics.OrderCheck(metrics.OrderFromStream)
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	head, err := r.stream.GetMsg(hctx, 1, jetstream.WithGetMsgSubject(msg.Subject()))
	cancel()
	switch {
	case err == nil && head.Sequence < meta.Sequence.Stream:
		log.Debug("an older message of this conversation is pending; deferring", "head_seq", head.Sequence)
		// A short, constant delay: the older message may be done any moment, and an escalating delay
		// would leave this conversation waiting long after it is.
		_ = msg.NakWithDelay(deferDelay())
		return false, true
	case err != nil && !errors.Is(err, jetstream.ErrMsgNotFound):
		log.Warn("order check failed; retrying later", "err", err)
		r.o.Metrics.Retry("order_check")
		_ = msg.NakWithDelay(r.backoff(int(meta.NumDelivered), 500*time.Millisecond))
		return false, false
	}
	r.release(msg.Subject(), meta.Sequence.Stream)
	return true, false
}

// ack acknowledges a message whose effect is stored, and reports whether the ack was sent. It waits for the
// server's confirmation only when the next message of the same conversation is queued here already and will
// ask the stream for its order: the stream must find this one gone, or that one would be deferred. Otherwise
// the ack is sent without waiting (one round trip fewer): a lost ack only means a redelivery, which finds the
// effect stored and acks again.
func (r *Runner) ack(log *slog.Logger, msg jetstream.Msg) bool {
	r.dmu.Lock()
	q := r.queues[msg.Subject()]
	wait := len(q) > 0 && !r.known(q[0])
	r.dmu.Unlock()
	if !wait {
		if err := msg.Ack(); err != nil {
			log.Warn("ack failed; the message will be redelivered and deduplicated", "err", err)
			return false
		}
		return true
	}
	ctx, cancel := context.WithTimeout(r.work, 5*time.Second)
	defer cancel()
	if err := msg.DoubleAck(ctx); err != nil {
		log.Warn("ack failed; the message will be redelivered and deduplicated", "err", err)
		return false
	}
	return true
}

// retryBase is the first retry delay of a transient failure (jittered down to half); it doubles with each
// failed send. Short, because a failing message holds back the rest of its conversation.
const retryBase = 100 * time.Millisecond

// deadLetter keeps msg in the dead-letter stream with the reason, then removes it from the work queue. It
// reports whether the removal was sent.
func (r *Runner) deadLetter(log *slog.Logger, msg jetstream.Msg, meta *jetstream.MsgMetadata, class, reason string) bool {
	ctx, cancel := context.WithTimeout(r.work, 5*time.Second)
	defer cancel()
	err := deadletter.Publish(ctx, r.js, deadletter.Entry{Data: msg.Data(), Subject: msg.Subject(),
		StreamSeq: meta.Sequence.Stream, Attempts: meta.NumDelivered, Class: class, Reason: reason})
	if err != nil {
		log.Warn("dead-letter publish failed; will retry", "err", err)
		_ = msg.NakWithDelay(time.Second)
		return false
	}
	r.o.Metrics.DeadLetter(class)
	log.Warn("message dead-lettered", "class", class, "reason", reason)
	if err := msg.TermWithReason(reason); err != nil {
		log.Warn("term after dead-letter failed", "err", err)
		return false
	}
	return true
}

// keepAlive tells the server the message is still being worked on, so a slow send is not redelivered.
func (r *Runner) keepAlive(msg jetstream.Msg, ackWait time.Duration) func() {
	every := ackWait / 3
	if every <= 0 {
		every = 10 * time.Second
	}
	// A timer, not a goroutine with a ticker: most messages are done long before the first tick.
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(every, func() {
		_ = msg.InProgress()
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			t.Reset(every)
		}
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// queuedTouchEvery is how often the queued messages are looked at for a keep-alive: a small fraction of the
// shortest AckWait allowed (3 s).
const queuedTouchEvery = 250 * time.Millisecond

// keepQueuedAlive sends InProgress for every queued message not touched for a third of its AckWait, until the
// runner stops reconciling. The messages are picked under the lock and told outside it (no NATS call under a
// mutex).
func (r *Runner) keepQueuedAlive() {
	t := time.NewTicker(queuedTouchEvery)
	defer t.Stop()
	var due []jetstream.Msg
	for {
		select {
		case <-r.rctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		due = due[:0]
		r.dmu.Lock()
		for _, q := range r.queues {
			for i := range q {
				if q[i].msg != nil && now.Sub(q[i].touched) >= q[i].ackWait/3 {
					q[i].touched = now
					due = append(due, q[i].msg)
				}
			}
		}
		r.dmu.Unlock()
		for _, m := range due {
			_ = m.InProgress()
		}
	}
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
	r.stopReconcile()
	<-r.reconciled // no consumer starts after this
	r.mu.Lock()
	active := r.active
	r.active = map[int]jetstream.ConsumeContext{}
	r.mu.Unlock()
	var closed []<-chan struct{}
	for _, cc := range active {
		cc.Drain() // messages already buffered reach enqueue, which hands them back (Nak) at once
		closed = append(closed, cc.Closed())
	}
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
	defer r.closePool()
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
