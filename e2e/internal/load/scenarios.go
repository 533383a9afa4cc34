package load

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/stack"
)

// ingress measures the ingress alone: its worker is stopped, so accepted webhooks pile up in the stream and
// nothing else competes for the CPU. After each run the same load goes to the ingress's floor (naive.Verifier:
// the HTTP exchange and the signature check, nothing else), so the two compare within one run.
func (r *runner) ingress(ctx context.Context) error {
	e, err := r.start(ctx, stack.Options{Workers: 1})
	if err != nil {
		return fmt.Errorf("ingress scenario: %w", err)
	}
	defer e.close()
	for _, w := range e.s.LiveWorkers() {
		w.Stop(15 * time.Second)
	}
	// The verifier sends nothing; the Telnyx URL it is given is never called.
	ver, verURL, err := r.startNaive(ctx, e.s.Dir(), e.s.SandboxURL, procVerifier, "verifier")
	if err != nil {
		return fmt.Errorf("ingress scenario: %w", err)
	}
	defer ver.Stop(10 * time.Second)
	verGen := newGenerator(verURL + "/webhooks/sms")
	defer verGen.close()
	ingressCPU := func() cpuSnapshot { return snapshotCPU(e.s) }
	verCPU := func() cpuSnapshot { return snapshotProcs(map[string]*stack.Proc{procVerifier: ver}) }
	lowest := slices.Min(r.c.IngressRates)
	if err := r.warm(ctx, e, lowest, false); err != nil {
		return fmt.Errorf("ingress scenario: %w", err)
	}
	_ = r.webhookRun(ctx, e, verGen, procVerifier, verCPU, lowest, r.c.Warmup)
	for _, rate := range r.c.IngressRates {
		step := IngressStep{OfferedRPS: rate}
		for run := range r.c.Runs {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			res := r.webhookRun(ctx, e, e.gen, procIngress, ingressCPU, rate, r.c.Duration)
			r.c.Log.Info("ingress run", "offered", rate, "run", run+1, "accepted_per_s", res.AcceptedPerSec,
				"p99_ms", res.Latency.P99, "errors", res.Errors, "cpu_us_per_webhook", res.IngressCPUPerAcceptedUS)
			step.Runs = append(step.Runs, res)
			fl := r.webhookRun(ctx, e, verGen, procVerifier, verCPU, rate, r.c.Duration)
			r.c.Log.Info("ingress floor run", "offered", rate, "run", run+1, "accepted_per_s", fl.AcceptedPerSec,
				"errors", fl.Errors, "cpu_us_per_webhook", fl.IngressCPUPerAcceptedUS)
			step.FloorRuns = append(step.FloorRuns, fl)
		}
		step.Median, step.Floor = medianIngress(step.Runs), medianIngress(step.FloorRuns)
		r.rep.Ingress = append(r.rep.Ingress, step)
	}
	return nil
}

// webhookRun sends d worth of signed webhooks at rate through gen, to the ingress or to its floor, and
// charges the CPU of proc (from snapshot) to each accepted one.
func (r *runner) webhookRun(ctx context.Context, e *env, gen *generator, proc string, snapshot func() cpuSnapshot, rate float64, d time.Duration) IngressRun {
	reqs := prepare(e.client, r.tag(), count(rate, d), r.c.Users, e.s.OurNumber)
	cpu0 := snapshot()
	_, samples := gen.fire(ctx, reqs, rate)
	cpu1 := snapshot()

	res := IngressRun{Sent: len(samples), Statuses: map[string]int{}}
	var lat, done, lag []time.Duration
	for _, s := range samples {
		res.Statuses[statusName(s.status)]++
		lag = append(lag, s.sent-s.scheduled)
		if s.status != http.StatusOK {
			res.Errors++
			continue
		}
		res.Accepted++
		lat = append(lat, s.latency())
		done = append(done, s.done)
	}
	res.Latency = latencyOf(lat)
	res.AcceptedPerSec = round(windowRate(done, d), 1)
	res.GeneratorLagP99MS = latencyOf(lag).P99
	if res.Accepted > 0 {
		res.IngressCPUPerAcceptedUS = round(us(cpu1[proc]-cpu0[proc])/float64(res.Accepted), 1)
	}
	res.CPUPerMessageUS = perMessage(cpu0, cpu1, res.Accepted)
	res.OtherCores = otherCores(cpu0, cpu1)
	return res
}

// endToEnd measures webhook -> reply at the fake Telnyx with each worker count, on a fresh stack each.
func (r *runner) endToEnd(ctx context.Context) error {
	for _, w := range r.c.Workers {
		var pts []point
		for _, rate := range r.c.E2ERates {
			pts = append(pts, point{rate: rate, users: r.c.Users})
		}
		steps, err := r.e2eSeries(ctx, stack.Options{Workers: w}, pts)
		r.rep.EndToEnd = append(r.rep.EndToEnd, steps...)
		if err != nil {
			return fmt.Errorf("end-to-end scenario, %d workers: %w", w, err)
		}
	}
	return nil
}

// slow measures the fake Telnyx answering after SlowLatency, at one offered rate with more and more
// conversations: with per-conversation ordering, N conversations can have at most N sends in flight, so
// throughput should grow with N until something else limits it.
func (r *runner) slow(ctx context.Context) error {
	o := stack.Options{Workers: r.c.SlowWorkers, SandboxEnv: []string{"SANDBOX_LATENCY=" + r.c.SlowLatency.String()}}
	var pts []point
	for _, n := range r.c.SlowConversations {
		pts = append(pts, point{rate: r.c.SlowRate, users: n})
	}
	steps, err := r.e2eSeries(ctx, o, pts)
	for j := range steps {
		steps[j].ProviderLatencyMS = ms(r.c.SlowLatency)
	}
	r.rep.Slow = append(r.rep.Slow, steps...)
	if err != nil {
		return fmt.Errorf("slow-provider scenario: %w", err)
	}
	return nil
}

// point is one step of an end-to-end series: an offered rate over a number of conversations.
type point struct {
	rate  float64
	users int
}

// e2eSeries runs one end-to-end step per point (Runs times each) on one stack; a run whose messages did not
// drain in time gets a fresh stack for the next, so its backlog cannot skew what follows.
func (r *runner) e2eSeries(ctx context.Context, o stack.Options, pts []point) ([]E2EStep, error) {
	e, err := r.start(ctx, o)
	if err != nil {
		return nil, err
	}
	defer func() {
		if e != nil {
			e.close()
		}
	}()
	lowest := pts[0].rate
	for _, p := range pts {
		lowest = min(lowest, p.rate)
	}
	if err := r.warm(ctx, e, lowest, true); err != nil {
		return nil, err
	}
	var steps []E2EStep
	for _, p := range pts {
		rate, n := p.rate, p.users
		step := E2EStep{Workers: o.Workers, Conversations: n, OfferedRPS: rate}
		for run := range r.c.Runs {
			if ctx.Err() != nil {
				return steps, ctx.Err()
			}
			res, err := r.e2eRun(ctx, e, rate, n)
			if err != nil {
				return steps, err
			}
			r.c.Log.Info("end-to-end run", "workers", o.Workers, "conversations", n, "offered", rate, "run", run+1,
				"replies_per_s", res.RepliesPerSec, "p50_ms", res.Latency.P50, "p99_ms", res.Latency.P99,
				"missing", res.Missing, "drained", res.Drained)
			step.Runs = append(step.Runs, res)
			if !res.Drained {
				e.close()
				if e, err = r.start(ctx, o); err != nil {
					return steps, err
				}
			}
		}
		step.Median = medianE2E(step.Runs)
		steps = append(steps, step)
	}
	return steps, nil
}

func (r *runner) e2eRun(ctx context.Context, e *env, rate float64, users int) (E2ERun, error) {
	if err := resetSandbox(ctx, e.client, e.s.SandboxURL); err != nil {
		return E2ERun{}, err
	}
	reqs := prepare(e.client, r.tag(), count(rate, r.c.Duration), users, e.s.OurNumber)
	byKey := make(map[string]int, len(reqs))
	for i, q := range reqs {
		byKey[q.replyKey] = i
	}
	cpu0 := snapshotCPU(e.s)
	rs0, err := readRedisStats(ctx, e.rdb)
	if err != nil {
		return E2ERun{}, err
	}
	start, samples := e.gen.fire(ctx, reqs, rate)
	_, derr := waitDrained(ctx, e.js, r.c.DrainTimeout)
	cpu1 := snapshotCPU(e.s)
	rs1, err := readRedisStats(ctx, e.rdb)
	if err != nil {
		return E2ERun{}, err
	}
	delivered, err := e.client.Delivered(ctx, "")
	if err != nil {
		return E2ERun{}, err
	}

	res := E2ERun{Sent: len(samples), Drained: derr == nil, Statuses: map[string]int{}}
	var hook, lag []time.Duration
	for _, s := range samples {
		res.Statuses[statusName(s.status)]++
		lag = append(lag, s.sent-s.scheduled)
		if s.status == http.StatusOK {
			res.Accepted++
			hook = append(hook, s.latency())
		} else {
			res.Errors++
		}
	}
	seen := make([]bool, len(samples))
	var lat, at []time.Duration
	for _, d := range delivered {
		i, ok := byKey[d.IdempotencyKey]
		if !ok || i >= len(samples) {
			continue
		}
		if seen[i] {
			res.DuplicateReplies++
			continue
		}
		seen[i] = true
		res.Replies++
		due := start.Add(samples[i].scheduled)
		// Both clocks are this machine's wall clock: the sandbox stamps the reply when it accepts it.
		lat = append(lat, d.At.Sub(due))
		at = append(at, d.At.Sub(start))
	}
	res.Missing = res.Accepted - res.Replies
	res.Latency = latencyOf(lat)
	res.WebhookLatency = latencyOf(hook)
	res.GeneratorLagP99MS = latencyOf(lag).P99
	res.RepliesPerSec = round(windowRate(at, r.c.Duration), 1)
	if res.Replies > 0 {
		last := slices.Max(at)
		res.DrainSeconds = round((last - r.c.Duration).Seconds(), 2)
		res.WorkerCPUPerMsgUS = round(us(cpu1[procWorkers]-cpu0[procWorkers])/float64(res.Replies), 1)
	}
	res.CPUPerMessageUS = perMessage(cpu0, cpu1, res.Replies)
	res.OtherCores = otherCores(cpu0, cpu1)
	res.RedisRoundTripsPerMsg, res.RedisCommandsPerMsg, res.RedisCommands = redisPerMessage(rs0, rs1, res.Accepted)
	return res, nil
}

// warm sends Warmup worth of webhooks at rate, unmeasured, so connections, caches and conversations exist
// before the first measured run; with drain it waits for the replies and clears the sandbox.
func (r *runner) warm(ctx context.Context, e *env, rate float64, drain bool) error {
	reqs := prepare(e.client, r.tag(), count(rate, r.c.Warmup), r.c.Users, e.s.OurNumber)
	_, samples := e.gen.fire(ctx, reqs, rate)
	ok := 0
	for _, s := range samples {
		if s.status == http.StatusOK {
			ok++
		}
	}
	if ok == 0 {
		return fmt.Errorf("warm-up: none of %d webhooks accepted (ingress log: %s)", len(samples), e.s.Ingress.Tail(1000))
	}
	if !drain {
		return nil
	}
	if _, err := waitDrained(ctx, e.js, r.c.DrainTimeout); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	return resetSandbox(ctx, e.client, e.s.SandboxURL)
}

func statusName(code int) string {
	if code == 0 {
		return "transport_error"
	}
	return strconv.Itoa(code)
}
