package consumer

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/shared/events"
)

// Order knowledge: when a message may skip the stream's order check.
//
// The check asks the stream for the oldest pending message of the conversation: one round trip per message.
// A worker can often answer it from what it has seen. A partition consumer first-delivers messages in stream
// order, and every delivery, redeliveries too, takes the consumer's next sequence. So while one consume session
// sees consecutive consumer sequences (a run), no delivery of the partition went to anyone else: every message
// of the partition first delivered since the run began came here, in order, and either sits in the local
// per-conversation queue ahead of the later ones or has been handled. What was delivered before the run is
// covered by the partition's floor: the stream is a work queue, so a message older than the partition's oldest
// pending one is gone for good (acked or dead-lettered, its effect stored).
//
// A message skips the check when it is a first delivery within a run, the floor has reached the run's start,
// and no earlier message of its conversation that this worker handed back (a retry, a deferral) may still be
// pending. Anything else (a redelivery, a gap in the consumer sequence, a new session, a floor not caught up)
// asks the stream, as before. A lost ack leaves a handled message pending; its redelivery finds its effect
// stored, so the effects stay in order.

// partitionOrder is what this worker knows of one partition's stream; it outlives consume sessions (the floor
// is a fact of the stream).
type partitionOrder struct {
	part int
	// floor: every message of the partition with a stream sequence up to it is gone from the stream.
	floor atomic.Uint64
	// seen is the highest stream sequence delivered here.
	seen atomic.Uint64
}

// covers reports whether everything of the partition before stream sequence start is gone.
func (o *partitionOrder) covers(start uint64) bool {
	return start > 0 && o.floor.Load()+1 >= start
}

// raise moves the floor up to f (never down: gone is gone).
func (o *partitionOrder) raise(f uint64) { raiseTo(&o.floor, f) }

// raiseTo sets a to v unless it holds more already.
func raiseTo(a *atomic.Uint64, v uint64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// session follows one consume session's deliveries; its consume callback is its only user (serial).
type session struct {
	order    *partitionOrder
	lastCons uint64 // consumer sequence of the last delivery seen
	start    uint64 // stream sequence of the current run's first first-delivery; 0 before one
}

// observe records a delivery and returns the start of its run when the delivery is a first delivery within
// an unbroken run, 0 otherwise (the message must ask the stream).
func (s *session) observe(consSeq, streamSeq, delivered uint64) uint64 {
	if consSeq != s.lastCons+1 {
		s.start = 0 // a delivery went elsewhere (or this is the session's first): a new run begins here
	}
	s.lastCons = consSeq
	raiseTo(&s.order.seen, streamSeq)
	if delivered != 1 {
		return 0
	}
	if s.start == 0 {
		s.start = streamSeq
	}
	return s.start
}

// orderFor returns the order knowledge of partition p, creating it on first use.
func (r *Runner) orderFor(p int) *partitionOrder {
	r.omu.Lock()
	defer r.omu.Unlock()
	o := r.orders[p]
	if o == nil {
		o = &partitionOrder{part: p}
		r.orders[p] = o
	}
	return o
}

// known reports whether item may skip the stream's order check. Call it with r.dmu held.
func (r *Runner) known(item queued) bool {
	if item.order == nil || !item.order.covers(item.runStart) {
		return false
	}
	held, ok := r.held[item.msg.Subject()]
	return !ok || held <= item.order.floor.Load()
}

// hold records that a message of subj was handed back (or its ack may not have been sent): until the floor
// passes seq, or the stream says nothing older is pending, the conversation's next messages ask the stream.
func (r *Runner) hold(subj string, seq uint64) {
	r.dmu.Lock()
	defer r.dmu.Unlock()
	if seq > r.held[subj] {
		r.held[subj] = seq
	}
}

// release forgets subj's held message: the stream said nothing older than seq is pending.
func (r *Runner) release(subj string, seq uint64) {
	r.dmu.Lock()
	defer r.dmu.Unlock()
	if h, ok := r.held[subj]; ok && h < seq {
		delete(r.held, subj)
	}
}

// floorEvery is how often the partitions' floors are read while they may lag what was delivered.
const floorEvery = 250 * time.Millisecond

// kickFloors asks for the floors to be read as soon as the pace allows: a run began that the floor does not
// cover yet.
func (r *Runner) kickFloors() {
	select {
	case r.floorKick <- struct{}{}:
	default: // a read is due already
	}
}

// watchFloors keeps the partitions' floors near the stream: for each partition where something delivered here
// may be pending, it asks for the oldest pending message of the partition, until the runner stops
// reconciling. It reads at most once every floorEvery, whatever the kicks: under a backlog the get walks the
// partition's subjects, and reading on every new run would load the server with them. A kick only makes a
// read that is due happen at once. Held conversations are forgotten once the floor passes them.
func (r *Runner) watchFloors() {
	t := time.NewTicker(floorEvery)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-r.rctx.Done():
			return
		case <-t.C:
		case <-r.floorKick:
		}
		if wait := floorEvery - time.Since(last); wait > 0 {
			select {
			case <-r.rctx.Done():
				return
			case <-time.After(wait):
			}
		}
		last = time.Now()
		r.omu.Lock()
		orders := make([]*partitionOrder, 0, len(r.orders))
		for _, o := range r.orders {
			orders = append(orders, o)
		}
		r.omu.Unlock()
		floors := make(map[int]uint64, len(orders))
		for _, o := range orders {
			if o.floor.Load() < o.seen.Load() {
				r.readFloor(r.rctx, o)
			}
			floors[o.part] = o.floor.Load()
		}
		r.dmu.Lock()
		for subj, seq := range r.held {
			if p, ok := events.PartitionOf(subj); ok && seq <= floors[p] {
				delete(r.held, subj)
			}
		}
		r.dmu.Unlock()
	}
}

// readFloor asks the stream for partition o's oldest pending message and raises the floor below it. When none
// is pending, everything delivered here before the request is gone.
func (r *Runner) readFloor(ctx context.Context, o *partitionOrder) {
	seen := o.seen.Load() // before the request: what was delivered by then existed when the stream answered
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	head, err := r.stream.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(events.PartitionFilter(o.part)))
	switch {
	case err == nil:
		o.raise(head.Sequence - 1)
	case errors.Is(err, jetstream.ErrMsgNotFound):
		o.raise(seen)
	default:
		r.log.Debug("partition floor unavailable", "partition", o.part, "err", err)
	}
}
