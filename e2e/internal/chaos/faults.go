package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/stack"
	"github.com/smsconv/smsconv/shared/events"
)

// FaultCounts says which faults a run actually injected.
type FaultCounts struct {
	WorkerKills      int `json:"worker_kills"`
	WorkerRestarts   int `json:"worker_restarts"`
	GracefulStops    int `json:"graceful_stops"`
	RedisRestarts    int `json:"redis_restarts"`
	NATSRestarts     int `json:"nats_restarts"`
	RateLimitBursts  int `json:"rate_limit_bursts"`
	LostAnswerBursts int `json:"lost_answer_bursts"`
	// PermanentFailures is how many permanent send failures were consumed by sends.
	PermanentFailures int `json:"permanent_failures"`
	// NATSDown503 says whether the ingress answered the probe webhook with 503 while NATS was down.
	NATSDown503 bool `json:"nats_down_503"`
}

// injector runs the fault schedule against a stack.
type injector struct {
	s     *stack.Stack
	c     *stack.Client
	o     Options
	rng   *rand.Rand
	out   io.Writer
	start time.Time

	mu       sync.Mutex
	counts   FaultCounts
	problems []string // faults that went wrong in a way that is a violation (a worker that did not come back)

	permanentSet bool        // the last fail_next armed was the permanent failures
	stopped      *stack.Proc // the worker stopped gracefully, until it is started again
}

type fault struct {
	at time.Duration
	// every is the period of a repeated fault: one that is late by a whole period (another fault held the
	// schedule) is skipped rather than fired in a catch-up burst.
	every time.Duration
	name  string
	do    func(ctx context.Context)
}

func (in *injector) logf(format string, args ...any) {
	fmt.Fprintf(in.out, "[%6.1fs] %s\n", time.Since(in.start).Seconds(), fmt.Sprintf(format, args...))
}

func (in *injector) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	in.logf("PROBLEM: %s", msg)
	in.mu.Lock()
	in.problems = append(in.problems, msg)
	in.mu.Unlock()
}

func (in *injector) count(f func(c *FaultCounts)) {
	in.mu.Lock()
	f(&in.counts)
	in.mu.Unlock()
}

// schedule lays the faults out over the run: kills and sandbox bursts at their intervals, the single
// faults at fixed fractions of Duration so they overlap with traffic and not with each other.
func (in *injector) schedule() []fault {
	o := in.o
	var fs []fault
	every := func(d time.Duration, name string, do func(context.Context)) {
		if d <= 0 {
			return
		}
		for t := d; t < o.Duration; t += d {
			fs = append(fs, fault{at: t, every: d, name: name, do: do})
		}
	}
	frac := func(f float64) time.Duration { return time.Duration(f * float64(o.Duration)) }
	every(o.KillEvery, "kill", in.killWorker)
	every(o.RateLimitEvery, "429", in.rateLimit)
	every(o.LostAnswerEvery, "lost answers", in.lostAnswers)
	if o.GracefulStop {
		fs = append(fs, fault{at: frac(0.25), name: "graceful stop", do: in.gracefulStop},
			fault{at: frac(0.35), name: "start the stopped worker", do: in.restartStopped})
	}
	if o.RestartRedis {
		fs = append(fs, fault{at: frac(0.45), name: "redis restart", do: in.restartRedis})
	}
	if o.PermanentFailures > 0 {
		// Just before the NATS restart, so that some of them are dead-lettered while NATS is going down:
		// a dead letter must survive its publish failing.
		fs = append(fs, fault{at: frac(0.6), name: "permanent failures", do: in.permanent})
	}
	if o.RestartNATS {
		fs = append(fs, fault{at: frac(0.65), name: "nats restart", do: in.restartNATS})
		if o.Cluster {
			// Then another node: the leader elected after the first loss.
			fs = append(fs, fault{at: frac(0.8), name: "nats restart", do: in.restartNATS})
		}
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].at < fs[j].at })
	return fs
}

// run injects the faults in order, one at a time (a late one runs late rather than on top of another).
func (in *injector) run(ctx context.Context) {
	for _, f := range in.schedule() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(in.start.Add(f.at))):
		}
		if f.every > 0 && time.Since(in.start.Add(f.at)) > f.every {
			continue
		}
		f.do(ctx)
	}
}

func (in *injector) pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// killWorker SIGKILLs a random live worker and brings one back: alternately the same process identity
// (as a supervisor restarts it) and a new worker (as an orchestrator replaces it).
func (in *injector) killWorker(ctx context.Context) {
	live := in.s.LiveWorkers()
	if len(live) == 0 {
		return
	}
	w := live[in.rng.IntN(len(live))]
	w.Kill()
	in.count(func(c *FaultCounts) { c.WorkerKills++ })
	in.pause(ctx, time.Duration(in.rng.Int64N(int64(time.Second))))
	in.mu.Lock()
	n := in.counts.WorkerKills
	in.mu.Unlock()
	if n%2 == 1 {
		if err := w.Start(ctx); err != nil {
			in.problem("restart %s after kill: %v", w.Name, err)
			return
		}
		in.logf("killed %s (SIGKILL) and restarted it", w.Name)
	} else {
		nw, err := in.s.AddWorker(ctx)
		if err != nil {
			in.problem("start a worker to replace %s: %v", w.Name, err)
			return
		}
		in.logf("killed %s (SIGKILL), replaced by %s", w.Name, nw.Name)
	}
	in.count(func(c *FaultCounts) { c.WorkerRestarts++ })
}

// gracefulStop stops a worker with SIGTERM: it must drain its in-flight work and exit 0.
func (in *injector) gracefulStop(ctx context.Context) {
	live := in.s.LiveWorkers()
	if len(live) == 0 {
		return
	}
	w := live[in.rng.IntN(len(live))]
	t := time.Now()
	w.Stop(30 * time.Second)
	in.count(func(c *FaultCounts) { c.GracefulStops++ })
	if err := w.ExitErr(); err != nil {
		in.problem("%s did not exit cleanly on SIGTERM (after %s): %v", w.Name, time.Since(t).Round(time.Millisecond), err)
	} else {
		in.logf("stopped %s with SIGTERM in %s", w.Name, time.Since(t).Round(time.Millisecond))
	}
	in.stopped = w
}

// restartStopped starts the gracefully stopped worker again (a scale-down followed by a scale-up).
func (in *injector) restartStopped(ctx context.Context) {
	w := in.stopped
	if w == nil {
		return
	}
	in.stopped = nil
	if err := w.Start(ctx); err != nil {
		in.problem("start %s after graceful stop: %v", w.Name, err)
		return
	}
	in.count(func(c *FaultCounts) { c.WorkerRestarts++ })
	in.logf("started %s again", w.Name)
}

// restartRedis crashes Redis (SIGKILL) and starts it again on the same AOF: with appendfsync always every
// acknowledged write survives.
func (in *injector) restartRedis(ctx context.Context) {
	if in.o.Cluster {
		in.killRedisMaster(ctx)
		return
	}
	in.s.Redis.Kill()
	in.pause(ctx, in.o.Downtime)
	if err := in.s.Redis.Start(ctx); err != nil {
		in.problem("restart redis: %v", err)
		return
	}
	in.count(func(c *FaultCounts) { c.RedisRestarts++ })
	in.logf("redis killed (SIGKILL) and restarted after %s", in.o.Downtime)
}

// restartNATS crashes NATS, checks that the ingress answers 503 meanwhile (so Telnyx retries), and starts
// it again on the same store.
func (in *injector) restartNATS(ctx context.Context) {
	if in.o.Cluster {
		in.stopStreamLeader(ctx)
		return
	}
	in.s.NATS.Kill()
	down := time.Now()
	in.pause(ctx, 300*time.Millisecond)
	status, raw, err := in.c.PostWebhook(ctx, probeEvent(fmt.Sprintf("probe-%d", in.o.Seed)))
	switch {
	case err == nil && status == http.StatusServiceUnavailable:
		in.count(func(c *FaultCounts) { c.NATSDown503 = true })
	case err == nil && status == http.StatusOK:
		in.problem("the ingress accepted a webhook while NATS was down: %s", raw)
	default:
		in.problem("with NATS down the ingress answered %d %.200s (%v), want 503", status, raw, err)
	}
	in.pause(ctx, in.o.Downtime-time.Since(down))
	if err := in.s.NATS.Start(ctx); err != nil {
		in.problem("restart nats: %v", err)
		return
	}
	in.count(func(c *FaultCounts) { c.NATSRestarts++ })
	in.logf("nats killed (SIGKILL) and restarted after %s; ingress answered 503 meanwhile: %v", time.Since(down).Round(time.Millisecond), status == http.StatusServiceUnavailable)
}

// killRedisMaster SIGKILLs a Redis Cluster master (its replica takes over its slots) and starts it again
// after Downtime; it rejoins as a replica.
func (in *injector) killRedisMaster(ctx context.Context) {
	m, err := in.s.RedisMaster(ctx)
	if err != nil {
		in.problem("find a redis master: %v", err)
		return
	}
	m.Kill()
	in.pause(ctx, in.o.Downtime)
	if err := m.Start(ctx); err != nil {
		in.problem("restart redis node %s: %v", m.Name, err)
		return
	}
	if err := in.s.WaitRedisClusterHealthy(ctx, time.Minute); err != nil {
		in.problem("redis cluster after %s came back: %v", m.Name, err)
		return
	}
	in.count(func(c *FaultCounts) { c.RedisRestarts++ })
	in.logf("redis master %s killed (SIGKILL), restarted after %s and back as a replica", m.Name, in.o.Downtime)
}

// stopStreamLeader SIGKILLs the NATS server leading the conversation stream, checks that the ingress still
// stores webhooks (two servers are a quorum), and starts the server again after Downtime.
func (in *injector) stopStreamLeader(ctx context.Context) {
	leader, err := in.s.NATSStreamLeader(ctx, events.StreamConversations)
	if err != nil {
		in.problem("find the stream leader: %v", err)
		return
	}
	leader.Kill()
	down := time.Now()
	// A webhook during the election (seconds: JetStream's Raft election timeouts) may be answered 503, and
	// Telnyx retries it; once the two servers left have elected a leader it must be stored. The node stays
	// down until then (at most storedWithin), so the run shows the quorum serving alone.
	const storedWithin = 30 * time.Second
	var status int
	for time.Since(down) < storedWithin && ctx.Err() == nil {
		var err error
		status, _, err = in.c.PostWebhook(ctx, probeEvent(fmt.Sprintf("probe-%d-%s-%d", in.o.Seed, leader.Name, time.Now().UnixNano())))
		if err == nil && status == http.StatusOK {
			break
		}
		in.pause(ctx, 100*time.Millisecond)
	}
	if status != http.StatusOK {
		in.problem("with the stream leader %s down the ingress answered %d for %s, want 200 once the two servers left elect a leader", leader.Name, status, storedWithin)
	}
	stored := "never"
	if status == http.StatusOK {
		stored = time.Since(down).Round(time.Millisecond).String()
	}
	in.pause(ctx, in.o.Downtime-time.Since(down))
	if err := leader.Start(ctx); err != nil {
		in.problem("restart nats node %s: %v", leader.Name, err)
		return
	}
	in.count(func(c *FaultCounts) { c.NATSRestarts++ })
	in.logf("nats: %s, the conversation stream's leader, killed (SIGKILL) and restarted after %s; a probe event (SMS_EVENTS) stored without it %s after the kill",
		leader.Name, time.Since(down).Round(time.Millisecond), stored)
}

// probeEvent is a signed-able webhook of a type no consumer acts on: the ingress must still store it
// before answering 2xx, so with NATS down it must answer 503.
func probeEvent(id string) []byte {
	b, _ := json.Marshal(map[string]any{
		"data": map[string]any{"event_type": "chaos.probe", "id": id, "record_type": "event",
			"occurred_at": time.Now().UTC().Format(time.RFC3339Nano), "payload": map[string]any{}},
		"meta": map[string]any{"attempt": 1},
	})
	return b
}

// setFailNext arms the sandbox's fail_next once the previous burst is used up (one counter serves 429s and
// permanent failures alike, so a new burst must not overwrite an unconsumed one).
func (in *injector) setFailNext(ctx context.Context, body map[string]any) bool {
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, err := in.c.FaultState(ctx)
		if err == nil && f.FailNext == 0 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		in.pause(ctx, 100*time.Millisecond)
	}
	if err := in.c.Faults(ctx, body); err != nil {
		in.problem("sandbox faults %v: %v", body, err)
		return false
	}
	return true
}

func (in *injector) rateLimit(ctx context.Context) {
	if in.setFailNext(ctx, map[string]any{"fail_next": in.o.RateLimitBurst, "status": 429, "code": "10011"}) {
		in.mu.Lock()
		if in.permanentSet {
			// setFailNext waited for the permanent failures to be used up.
			in.counts.PermanentFailures = in.o.PermanentFailures
			in.permanentSet = false
		}
		in.counts.RateLimitBursts++
		in.mu.Unlock()
		in.logf("sandbox: next %d sends answer 429 (10011)", in.o.RateLimitBurst)
	}
}

func (in *injector) lostAnswers(ctx context.Context) {
	if err := in.c.Faults(ctx, map[string]any{"fail_after_send": in.o.LostAnswerBurst, "status": 500}); err != nil {
		in.problem("sandbox lost answers: %v", err)
		return
	}
	in.count(func(c *FaultCounts) { c.LostAnswerBursts++ })
	in.logf("sandbox: next %d sends are sent but answered 500", in.o.LostAnswerBurst)
}

func (in *injector) permanent(ctx context.Context) {
	if in.setFailNext(ctx, map[string]any{"fail_next": in.o.PermanentFailures, "status": 422, "code": "40310"}) {
		in.mu.Lock()
		in.permanentSet = true
		in.mu.Unlock()
		in.logf("sandbox: next %d sends fail permanently (422, 40310)", in.o.PermanentFailures)
	}
}

// finish records how many permanent failures were consumed, and returns the counts and problems.
func (in *injector) finish(ctx context.Context) (FaultCounts, []string) {
	in.mu.Lock()
	set := in.permanentSet
	in.mu.Unlock()
	if set {
		left := in.o.PermanentFailures
		if f, err := in.c.FaultState(ctx); err == nil {
			left = f.FailNext
		}
		// Unused ones must not hit the replays that follow.
		if err := in.c.Faults(ctx, map[string]any{"fail_next": 0}); err != nil {
			in.problem("sandbox: clear fail_next: %v", err)
		}
		in.count(func(c *FaultCounts) { c.PermanentFailures = in.o.PermanentFailures - left })
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.counts, append([]string(nil), in.problems...)
}
