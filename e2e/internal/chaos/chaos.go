package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/stack"
)

// ErrViolation is returned (wrapped, with the list) by Run when a guarantee was broken.
var ErrViolation = errors.New("chaos: guarantees violated")

// raceMarker is what the race detector prints at the start of each report.
const raceMarker = "WARNING: DATA RACE"

// Run starts a stack from bins, drives the conversations while injecting the faults of o, checks the
// outcome, and writes progress and the report to out. It returns the report and, when any guarantee was
// broken, an error wrapping ErrViolation; other errors mean the run itself could not be made.
func Run(ctx context.Context, bins stack.Binaries, o Options, out io.Writer) (Report, error) {
	if err := o.validate(); err != nil {
		return Report{}, err
	}
	began := time.Now()
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "smsconv-chaos-")
		if err != nil {
			return Report{}, fmt.Errorf("chaos dir: %w", err)
		}
		dir = d
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(out, "[%6.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
	}
	r := Report{Options: o, LogDir: dir}
	servers := "nats, redis"
	if o.Cluster {
		servers = "a 3-server NATS cluster (R3), a 6-node Redis Cluster"
	}
	logf("starting %s, sandbox, ingress and %d workers in %s", servers, o.Workers, dir)
	s, err := stack.Start(ctx, bins, stack.Options{Workers: o.Workers, Partitions: o.Partitions, AckWait: o.AckWait, Dir: dir, Cluster: o.Cluster})
	if err != nil {
		return r, fmt.Errorf("start stack: %w", err)
	}
	closed := false
	defer func() {
		if !closed {
			s.Close()
		}
	}()
	c := s.Client()
	if err := c.Faults(ctx, map[string]any{"failure_rate": o.FailureRate, "status": 500, "latency": o.Latency.String()}); err != nil {
		return r, fmt.Errorf("sandbox faults: %w", err)
	}

	r.Conversations = o.Conversations
	t0 := time.Now().UTC().Truncate(time.Minute)
	convs := Plan("r"+strconv.FormatInt(o.Seed, 10), o.Conversations, o.MessagesPerConversation, o.Status, t0)
	for _, cv := range convs {
		r.InboundPlanned += len(cv.Messages)
	}

	mon := newMonitor(s, out, began)
	monCtx, stopMon := context.WithCancel(ctx)
	defer stopMon()
	go mon.run(monCtx)

	// The whole run is bounded: traffic and faults over Duration, then the drain.
	runCtx, cancel := context.WithTimeout(ctx, o.Duration+2*o.DrainTimeout+time.Minute)
	defer cancel()
	start := time.Now()
	inj := &injector{s: s, c: c, o: o, rng: rand.New(rand.NewPCG(uint64(o.Seed), 0xfa017)), out: out, start: start}
	var faults sync.WaitGroup
	faults.Add(1)
	go func() { defer faults.Done(); inj.run(runCtx) }()
	tr := newTraffic()
	drv := &driver{c: c, our: s.OurNumber, o: o, t: tr, seed: uint64(o.Seed)}
	logf("driving %d conversations over %s", o.Conversations, o.Duration)
	drv.run(runCtx, convs)
	faults.Wait()
	r.DriveSeconds = time.Since(start).Seconds()
	logf("traffic done: %d of %d inbound accepted, %d webhook 503s", tr.accepted.Load(), r.InboundPlanned, tr.unavailable.Load())

	accepted := tr.acceptedIDs()
	drainStart := time.Now()
	drainCtx, drainCancel := context.WithTimeout(runCtx, o.DrainTimeout)
	defer drainCancel()
	w := &waiter{c: c, out: logf, want: wantedKeys(convs, accepted)}
	w.wait(drainCtx)

	// Dead letters before any replay: the run's record of what failed and why.
	dead, err := c.DeadLetters(runCtx)
	if err != nil {
		return r, fmt.Errorf("dead letters: %w", err)
	}
	counts, problems := inj.finish(runCtx)
	r.Faults, r.FaultProblems = counts, problems
	r.DeadLetters = len(dead)
	r.DeadLetterReasons = map[string]int{}
	permanentOK := counts.PermanentFailures
	deadIDs := map[string]bool{}
	exempt := map[string]bool{}
	kept := map[uint64]bool{} // unexpected dead letters, left in the stream for the operator
	for _, d := range dead {
		r.DeadLetterReasons[d.Class+": "+shorten(d.Reason, 80)]++
		if d.Message != nil {
			deadIDs[d.Message.ID] = true
		}
		if d.Class == "permanent" && permanentOK > 0 && d.Message != nil {
			// An injected permanent failure: expected. Replay it, as an operator would once the cause is
			// fixed; its reply then arrives after the conversation moved on, by design.
			permanentOK--
			if err := c.ReplayDeadLetter(runCtx, d.ID); err != nil {
				return r, err
			}
			r.Replayed++
			exempt[d.Message.ID] = true
			continue
		}
		r.UnexpectedDeadLetters++
		kept[d.ID] = true
	}
	if r.Replayed > 0 {
		logf("replayed %d dead letters", r.Replayed)
		replayCtx, replayCancel := context.WithTimeout(runCtx, o.DrainTimeout)
		w.wait(replayCtx)
		replayCancel()
	}
	// The counts below are negative checks too (no duplicate, nothing extra): take them once the queue is idle,
	// every message handled and acked, not merely after the last expected reply.
	logf("waiting until every queued message is handled")
	idleCtx, idleCancel := context.WithTimeout(runCtx, o.DrainTimeout)
	err = s.WaitIdle(idleCtx)
	idleCancel()
	if err != nil {
		return r, err
	}
	r.DrainSeconds = time.Since(drainStart).Seconds()
	if o.Settle > 0 {
		logf("settling %s to catch late duplicates", o.Settle)
		select {
		case <-runCtx.Done():
		case <-time.After(o.Settle):
		}
	}

	delivered, err := c.Delivered(runCtx, "")
	if err != nil {
		return r, fmt.Errorf("delivered messages: %w", err)
	}
	left, err := c.DeadLetters(runCtx)
	if err != nil {
		return r, fmt.Errorf("dead letters: %w", err)
	}
	for _, d := range left {
		// Anything else is a replay that failed again or a message dead-lettered after the first listing.
		if !kept[d.ID] {
			r.DeadLettersLeft++
			if d.Message != nil {
				deadIDs[d.Message.ID] = true
			}
			r.DeadLetterReasons["after replay: "+d.Class+": "+shorten(d.Reason, 80)]++
		}
	}
	listed, err := c.Conversations(runCtx)
	if err != nil {
		return r, fmt.Errorf("conversations: %w", err)
	}
	if r.UnknownOutcome, err = unknownOutcomes(runCtx, c, wantedKeys(convs, accepted)); err != nil {
		return r, err
	}

	r.Findings = Evaluate(convs, accepted, delivered, exempt)
	r.ReplyLatency = replyLatency(convs, tr.acceptedAt(), delivered, exempt)
	for _, id := range r.MissingIDs {
		if deadIDs[id] {
			r.MissingDeadLettered++
		}
	}
	var stateExamples []string
	r.StateMismatches, stateExamples = StateMismatches(convs, accepted, listed)
	r.Examples = append(r.Examples, stateExamples...)
	r.InboundAccepted = int(tr.accepted.Load())
	r.WebhookPosts = int(tr.posts.Load())
	r.Webhook503 = int(tr.unavailable.Load())
	r.WebhookUnanswered = int(tr.errors.Load())
	r.WebhookRejected = int(tr.rejected.Load())
	if v, ok := tr.lastRejection.Load().(string); ok {
		r.LastRejection = v
	}
	r.DuplicatesPosted = int(tr.dupPosts.Load())
	r.DuplicatesAtIngest = int(tr.dupAnswered.Load())

	// Processes: none may have died by itself; each must stop cleanly; no race reports.
	stopMon()
	mon.sweep()
	r.UnexpectedExits = mon.exits()
	running := append([]*stack.Proc{s.Ingress}, s.LiveWorkers()...)
	s.Close()
	closed = true
	for _, p := range running {
		if err := p.ExitErr(); err != nil {
			r.UncleanShutdowns = append(r.UncleanShutdowns, fmt.Sprintf("%s: %v", p.Name, err))
		}
	}
	for _, p := range s.Procs() {
		r.DataRaces += p.CountInLog(raceMarker)
	}
	r.WallSeconds = time.Since(began).Seconds()
	r.Violations = r.violations()
	r.Print(out)
	if len(r.Violations) > 0 {
		return r, fmt.Errorf("%w: %s", ErrViolation, strings.Join(r.Violations, "; "))
	}
	return r, nil
}

// wantedKeys maps the reply key owed to each accepted inbound message to that message's id.
func wantedKeys(convs []Conversation, accepted map[string]bool) map[string]string {
	out := map[string]string{}
	for _, c := range convs {
		for _, m := range c.Messages {
			if accepted[m.MsgID] {
				out[m.ReplyKey] = m.MsgID
			}
		}
	}
	return out
}

// waiter polls the phones' inboxes until every owed reply arrived, or every missing one is dead-lettered
// (it will not come without a replay), or ctx ends.
type waiter struct {
	c    *stack.Client
	out  func(format string, args ...any)
	want map[string]string
}

func (w *waiter) wait(ctx context.Context) {
	lastLog := time.Now()
	var lastDLQ time.Time
	var missing []string
	for {
		delivered, err := w.c.Delivered(ctx, "")
		if err == nil {
			have := make(map[string]bool, len(delivered))
			for _, d := range delivered {
				have[d.IdempotencyKey] = true
			}
			missing = missing[:0]
			for key, id := range w.want {
				if !have[key] {
					missing = append(missing, id)
				}
			}
			if len(missing) == 0 {
				w.out("all %d replies arrived", len(w.want))
				return
			}
			if time.Since(lastDLQ) > 2*time.Second {
				lastDLQ = time.Now()
				if w.allDeadLettered(ctx, missing) {
					w.out("%d replies missing, all dead-lettered", len(missing))
					return
				}
			}
			if time.Since(lastLog) > 5*time.Second {
				lastLog = time.Now()
				w.out("waiting: %d of %d replies arrived", len(w.want)-len(missing), len(w.want))
			}
		}
		select {
		case <-ctx.Done():
			sort.Strings(missing)
			w.out("gave up waiting for %d replies (to %s): %v", len(missing), strings.Join(missing[:min(len(missing), 5)], ", "), ctx.Err())
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (w *waiter) allDeadLettered(ctx context.Context, missing []string) bool {
	dead, err := w.c.DeadLetters(ctx)
	if err != nil {
		return false
	}
	ids := map[string]bool{}
	for _, d := range dead {
		if d.Message != nil {
			ids[d.Message.ID] = true
		}
	}
	for _, id := range missing {
		if !ids[id] {
			return false
		}
	}
	return true
}

// monitor notices processes that exit without being told to.
type monitor struct {
	s     *stack.Stack
	out   io.Writer
	began time.Time

	mu    sync.Mutex
	seen  map[*stack.Proc]int // start count at which an exit was recorded
	found []string
}

func newMonitor(s *stack.Stack, out io.Writer, began time.Time) *monitor {
	return &monitor{s: s, out: out, began: began, seen: map[*stack.Proc]int{}}
}

func (m *monitor) run(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.sweep()
		}
	}
}

func (m *monitor) sweep() {
	for _, p := range m.s.Procs() {
		if !p.ExitedByItself() {
			continue
		}
		m.mu.Lock()
		if m.seen[p] != p.Starts() {
			m.seen[p] = p.Starts()
			msg := fmt.Sprintf("%s (%v)", p.Name, p.ExitErr())
			m.found = append(m.found, msg)
			fmt.Fprintf(m.out, "[%6.1fs] PROBLEM: %s exited by itself; log tail:\n%s\n", time.Since(m.began).Seconds(), msg, p.Tail(2000))
		}
		m.mu.Unlock()
	}
}

func (m *monitor) exits() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.found...)
}

// unknownOutcomes counts the owed replies whose records say a send of theirs went through the unknown-outcome
// window.
func unknownOutcomes(ctx context.Context, c *stack.Client, want map[string]string) (int, error) {
	n := 0
	for key := range want {
		m, found, err := c.Message(ctx, key)
		if err != nil {
			return n, fmt.Errorf("reply %s: %w", key, err)
		}
		if found && m.UnknownOutcomeAt != nil {
			n++
		}
	}
	return n, nil
}
