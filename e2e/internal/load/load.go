// Package load is the load harness behind `make bench`. It runs the whole system as real processes (the stack
// package) and measures four scenarios. The closed-loop scenario puts it beside two single-process reference
// servers (package naive: one on the standard library only, one on this project's code) and beside a floor,
// the stack's NATS and Redis alone doing one message's essential work (floor.go): a few clients each send a
// new user's signed "hello" and wait for the reply at a zero-latency fake Telnyx before sending the next, and
// the replies per second and CPU per reply of every process are compared, run after run. The other three
// offer open-loop load (pre-signed webhooks at a fixed
// rate from many simulated users, whatever the answers, each latency measured from the time the request was
// due): the ingress alone, the whole path from webhook to the reply at the fake Telnyx with 1, 2 and 4 workers,
// and a slow Telnyx (200 ms per send) with many conversations. It prints a table and writes JSON, a Markdown
// summary and an SVG plot of latency percentiles against offered rate.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/smsconv/smsconv/e2e/internal/stack"
)

// Scenario names.
const (
	ScenarioIngress = "ingress"
	ScenarioE2E     = "e2e"
	ScenarioSlow    = "slow"
	ScenarioClosed  = "closed"
)

// ErrConfig is returned for an unusable Config.
var ErrConfig = errors.New("invalid load configuration")

// Config says what to measure.
type Config struct {
	// Bins are the programs the stacks run (stack.Build).
	Bins stack.Binaries
	// Scenarios to run, among ScenarioIngress, ScenarioE2E and ScenarioSlow.
	Scenarios []string
	// IngressRates and E2ERates are the offered rates (webhooks per second) of the first two scenarios.
	IngressRates, E2ERates []float64
	// Workers are the worker counts of the end-to-end scenario.
	Workers []int
	// Users is the number of simulated users (one conversation each) in the first two scenarios.
	Users int
	// SlowRate is the offered rate of the slow-provider scenario, SlowConversations the numbers of
	// conversations it is run with, SlowLatency the fake Telnyx's delay and SlowWorkers the worker count.
	SlowRate          float64
	SlowConversations []int
	SlowLatency       time.Duration
	SlowWorkers       int
	// ClosedClients is the number of clients of the closed-loop scenario, each waiting for its reply before
	// sending the next new user's "hello"; ClosedWorkers the workers of the stack it measures.
	ClosedClients int
	ClosedWorkers int
	// Duration is the length of each measured run; Runs how often each is repeated (medians are reported).
	Duration time.Duration
	Runs     int
	// Warmup is sent at the lowest rate on each new stack before measuring, and not counted.
	Warmup time.Duration
	// DrainTimeout bounds the wait for the workers to finish a run's messages.
	DrainTimeout time.Duration
	// Partitions of the conversation stream.
	Partitions int
	// WorkerEnv is added to every worker's environment. By default it lifts the per-user reply limit
	// (REPLY_RATE_LIMIT=0) and the loop guard (REPLY_LOOP_REPEATS=0): a thousand users texting the same
	// five texts every few seconds would hit both (one stack's steps send each user about 50 of each text),
	// and a skipped reply is not what is being measured; and it turns off the send limits
	// (SEND_RATE_ACCOUNT=0), which would otherwise measure Telnyx's 50 segments a second rather than the
	// system's own speed.
	WorkerEnv []string
	// Short marks a quick run (recorded in the report).
	Short bool
	// Dir keeps the processes' logs; a temporary directory per stack when empty.
	Dir string
	// Log receives progress lines.
	Log *slog.Logger
}

// DefaultConfig is the full measurement, or with short a quick one that proves the harness works (a few
// seconds per scenario, small rates) for CI.
func DefaultConfig(short bool) Config {
	c := Config{
		Scenarios:    []string{ScenarioClosed, ScenarioIngress, ScenarioE2E, ScenarioSlow},
		IngressRates: []float64{1000, 2000, 4000, 6000, 8000},
		E2ERates:     []float64{500, 1000, 1500, 2000, 3000},
		Workers:      []int{1, 2, 4},
		Users:        1000,
		SlowRate:     2500, SlowConversations: []int{100, 1000, 10_000}, SlowLatency: 200 * time.Millisecond, SlowWorkers: 2,
		ClosedClients: 16, ClosedWorkers: 2,
		Duration: 10 * time.Second, Runs: 3, Warmup: 2 * time.Second, DrainTimeout: 90 * time.Second,
		Partitions: 8, WorkerEnv: []string{"REPLY_RATE_LIMIT=0", "REPLY_LOOP_REPEATS=0", "SEND_RATE_ACCOUNT=0"},
	}
	if short {
		c.Short = true
		c.IngressRates, c.E2ERates, c.Workers = []float64{100, 200}, []float64{50, 100}, []int{1, 2}
		c.Users = 50
		c.SlowRate, c.SlowConversations = 100, []int{200}
		c.ClosedClients = 4
		c.Duration, c.Runs, c.Warmup, c.DrainTimeout = 2*time.Second, 1, 500*time.Millisecond, 30*time.Second
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	for _, s := range c.Scenarios {
		if !slices.Contains([]string{ScenarioClosed, ScenarioIngress, ScenarioE2E, ScenarioSlow}, s) {
			errs = append(errs, fmt.Errorf("scenario %q: want closed, ingress, e2e or slow", s))
		}
	}
	if len(c.Scenarios) == 0 {
		errs = append(errs, errors.New("no scenario selected"))
	}
	for _, r := range slices.Concat(c.IngressRates, c.E2ERates, []float64{c.SlowRate}) {
		if r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) {
			errs = append(errs, fmt.Errorf("rate %v: want a positive number per second", r))
		}
	}
	for _, w := range append(slices.Clone(c.Workers), c.SlowWorkers, c.ClosedWorkers) {
		if w < 1 {
			errs = append(errs, fmt.Errorf("worker count %d: want at least 1", w))
		}
	}
	for _, n := range append(slices.Clone(c.SlowConversations), c.Users) {
		if n < 1 || n > 100_000 {
			errs = append(errs, fmt.Errorf("conversation count %d: want 1..100000", n))
		}
	}
	if c.ClosedClients < 1 || c.ClosedClients > 1000 {
		errs = append(errs, fmt.Errorf("closed-loop clients %d: want 1..1000", c.ClosedClients))
	}
	if c.Duration < 500*time.Millisecond {
		errs = append(errs, fmt.Errorf("duration %s: want at least 500ms", c.Duration))
	}
	if c.Runs < 1 {
		errs = append(errs, fmt.Errorf("runs %d: want at least 1", c.Runs))
	}
	if c.Bins.Ingress == "" {
		errs = append(errs, errors.New("binaries not built"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

func (c Config) has(s string) bool { return slices.Contains(c.Scenarios, s) }

// Run measures the selected scenarios and returns the report (also when a later scenario failed, with
// what was measured until then).
func Run(ctx context.Context, c Config) (*Report, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Warmup <= 0 {
		c.Warmup = time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = time.Minute
	}
	r := &runner{c: c, rep: &Report{Machine: machine(), StartedAt: time.Now().UTC(), Short: c.Short, Runs: c.Runs,
		DurationSeconds: c.Duration.Seconds(), Users: c.Users, Partitions: c.Partitions, WorkerEnv: c.WorkerEnv}}
	// Measured before any load, on the same body size the ingress verifies.
	r.rep.VerifyMicros = round(us(verifyCost(stack.Inbound("e", "m", UserNumber(0), "+13125550100", "hello", time.Now()))), 2)
	c.Log.Info("ed25519.Verify measured", "us", r.rep.VerifyMicros)

	var err error
	if c.has(ScenarioClosed) {
		err = errors.Join(err, r.closedLoop(ctx))
	}
	if c.has(ScenarioIngress) && ctx.Err() == nil {
		err = errors.Join(err, r.ingress(ctx))
	}
	if c.has(ScenarioE2E) && ctx.Err() == nil {
		err = errors.Join(err, r.endToEnd(ctx))
	}
	if c.has(ScenarioSlow) && ctx.Err() == nil {
		err = errors.Join(err, r.slow(ctx))
	}
	r.rep.FinishedAt = time.Now().UTC()
	r.rep.Machine.LoadAvgEnd = loadAvg()
	r.rep.Targets = targets(r.rep)
	return r.rep, err
}

type runner struct {
	c   Config
	rep *Report
	seq int
	// users counts the closed-loop scenario's users, each new.
	users atomic.Int64
}

// tag is a prefix unique to one run, so event and message ids never repeat (JetStream and Redis would
// deduplicate them).
func (r *runner) tag() string {
	r.seq++
	return "lg" + strconv.FormatInt(time.Now().UnixNano()%1e12, 36) + strconv.Itoa(r.seq)
}

// env is one running stack with the clients the harness needs.
type env struct {
	s      *stack.Stack
	client *stack.Client
	gen    *generator
	rdb    *redis.Client
	nc     *nats.Conn
	js     jetstream.JetStream
	// keep leaves the stack's directory (logs, data) in place.
	keep bool
}

func (r *runner) start(ctx context.Context, o stack.Options) (*env, error) {
	o.Partitions = r.c.Partitions
	o.WorkerEnv = append(o.WorkerEnv, r.c.WorkerEnv...)
	// The generator is one IP standing in for Telnyx's many: the ingress's per-IP connection cap (256) is for
	// a flood from one source and would refuse it, so it is off; the total cap stays.
	o.IngressEnv = append(o.IngressEnv, "HTTP_MAX_CONNS_PER_IP=0")
	if r.c.Dir != "" {
		d, err := os.MkdirTemp(r.c.Dir, "stack-")
		if err != nil {
			return nil, err
		}
		o.Dir = d
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s, err := stack.Start(sctx, r.c.Bins, o)
	if err != nil {
		return nil, fmt.Errorf("start stack: %w", err)
	}
	e := &env{s: s, client: s.Client(), gen: newGenerator(s.IngressURL + "/webhooks/sms"), keep: r.c.Dir != ""}
	opt, err := redis.ParseURL(s.RedisURL)
	if err != nil {
		e.close()
		return nil, fmt.Errorf("redis url: %w", err)
	}
	e.rdb = redis.NewClient(opt)
	nc, js, err := connectNATS(s.NATSURL)
	if err != nil {
		e.close()
		return nil, err
	}
	e.nc, e.js = nc, js
	r.c.Log.Info("stack started", "workers", o.Workers, "dir", s.Dir())
	return e, nil
}

func (e *env) close() {
	e.gen.close()
	if e.rdb != nil {
		e.rdb.Close()
	}
	if e.nc != nil {
		e.nc.Close()
	}
	e.s.Close()
	if !e.keep {
		os.RemoveAll(e.s.Dir())
	}
}

// count is how many requests a run of d at rate sends.
func count(rate float64, d time.Duration) int { return max(1, int(math.Round(rate*d.Seconds()))) }
