package load

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/stack"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
)

// The systems of the closed-loop scenario.
const (
	SystemNaive   = "naive" // the standard library's toy (naive.Stdlib)
	SystemTuned   = "tuned" // the toy on this project's verifier, decoder and client (naive.Tuned)
	SystemSMSConv = "smsconv"

	procNaive = "naive"
	procTuned = "tuned"
)

// ClosedStep is the closed-loop scenario: the same load against the two reference servers, the floor and this
// project, run after run, side by side.
type ClosedStep struct {
	Clients int `json:"clients"`
	Workers int `json:"workers"`
	// Naive, Tuned, Floor and SMSConv are the medians of each system's runs; Runs all of them, in the order
	// run. Floor counts NATS and Redis only.
	Naive   ClosedRun   `json:"naive"`
	Tuned   ClosedRun   `json:"tuned"`
	Floor   ClosedRun   `json:"floor"`
	SMSConv ClosedRun   `json:"smsconv"`
	Runs    []ClosedRun `json:"runs"`
	// Ratio is the median over the runs of smsconv's replies/s over the naive server's, each pair measured
	// one after the other; RatioTuned the same over the tuned one's.
	Ratio      float64 `json:"replies_ratio"`
	RatioTuned float64 `json:"replies_ratio_tuned"`
}

// medians are the systems' medians, in the order run; a report of an older harness may have no tuned server
// and no floor.
func (c *ClosedStep) medians() []ClosedRun {
	out := []ClosedRun{c.Naive}
	for _, m := range []ClosedRun{c.Tuned, c.Floor} {
		if m.Replies > 0 {
			out = append(out, m)
		}
	}
	return append(out, c.SMSConv)
}

// ClosedRun is one closed-loop run of one system.
type ClosedRun struct {
	System        string  `json:"system"`
	Replies       int     `json:"replies"`
	Errors        int     `json:"errors"`
	RepliesPerSec float64 `json:"replies_per_s"`
	// Latency is from the webhook's request to the reply's arrival at the fake Telnyx.
	Latency Latency `json:"latency"`
	// CPUPerReplyUS is each process's CPU per reply; SystemCPUPerReplyUS their sum without the load tool
	// (which also runs the fake Telnyx).
	CPUPerReplyUS       map[string]float64 `json:"cpu_per_reply_us"`
	SystemCPUPerReplyUS float64            `json:"system_cpu_per_reply_us"`
	OtherCores          float64            `json:"other_load_cores"`
}

// closedLoop runs Clients clients, each sending a new user's signed "hello" and waiting for its reply at the
// fake Telnyx before sending the next, against the naive server and against the stack in turn.
func (r *runner) closedLoop(ctx context.Context) error {
	fake := fakeapi.NewFake(fakeapi.Options{})
	waiters := newWaiters()
	fake.OnSend(func(m fakeapi.SentMessage) { waiters.deliver(m.To) })
	fakeURL, stopFake, err := serve(fake)
	if err != nil {
		return fmt.Errorf("closed-loop scenario: %w", err)
	}
	defer stopFake()

	e, err := r.start(ctx, stack.Options{Workers: r.c.ClosedWorkers, WorkerEnv: []string{"TELNYX_API_URL=" + fakeURL + "/v2"}})
	if err != nil {
		return fmt.Errorf("closed-loop scenario: %w", err)
	}
	defer e.close()
	naive, naiveURL, err := r.startNaive(ctx, e.s.Dir(), fakeURL, procNaive, "stdlib")
	if err != nil {
		return fmt.Errorf("closed-loop scenario: %w", err)
	}
	defer naive.Stop(10 * time.Second)
	tuned, tunedURL, err := r.startNaive(ctx, e.s.Dir(), fakeURL, procTuned, "tuned")
	if err != nil {
		return fmt.Errorf("closed-loop scenario: %w", err)
	}
	defer tuned.Stop(10 * time.Second)
	fl, err := startFloor(ctx, r.c.Bins, e.s.Dir(), r.c.Partitions, e.s.OurNumber, waiters)
	if err != nil {
		return fmt.Errorf("closed-loop scenario: %w", err)
	}
	defer fl.stop()

	cl := &closedClients{n: r.c.ClosedClients, our: e.s.OurNumber, sign: e.client.Sign, waiters: waiters,
		http: newGenerator("").client, users: &r.users}
	defer cl.http.CloseIdleConnections()
	systems := []struct {
		name string
		send closedSend
		cpu  func() cpuSnapshot
	}{
		{SystemNaive, cl.webhook(naiveURL + "/webhooks/sms"), func() cpuSnapshot { return snapshotProcs(map[string]*stack.Proc{procNaive: naive}) }},
		{SystemTuned, cl.webhook(tunedURL + "/webhooks/sms"), func() cpuSnapshot { return snapshotProcs(map[string]*stack.Proc{procTuned: tuned}) }},
		{SystemFloor, fl.send, fl.cpu},
		{SystemSMSConv, cl.webhook(e.s.IngressURL + "/webhooks/sms"), func() cpuSnapshot { return snapshotCPU(e.s) }},
	}
	for _, s := range systems {
		if _, err := cl.run(ctx, s.send, r.c.Warmup); err != nil {
			return fmt.Errorf("closed-loop warm-up of %s: %w", s.name, err)
		}
	}
	if _, err := waitDrained(ctx, e.js, r.c.DrainTimeout); err != nil {
		return fmt.Errorf("closed-loop warm-up: %w", err)
	}
	step := ClosedStep{Clients: r.c.ClosedClients, Workers: r.c.ClosedWorkers}
	var byName = map[string][]ClosedRun{}
	var ratios, ratiosTuned []float64
	for run := range r.c.Runs {
		pair := map[string]float64{}
		for _, s := range systems {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fake.Reset()
			settle(ctx)
			cpu0 := s.cpu()
			res, err := cl.run(ctx, s.send, r.c.Duration)
			if err != nil {
				return fmt.Errorf("closed-loop run of %s: %w", s.name, err)
			}
			cpu1 := s.cpu()
			res.System = s.name
			res.CPUPerReplyUS = perMessage(cpu0, cpu1, res.Replies)
			delete(res.CPUPerReplyUS, procGenerator)
			delete(res.CPUPerReplyUS, procSandbox) // the stack's sandbox idles: the fake Telnyx is in the load tool
			res.SystemCPUPerReplyUS = round(systemCPU(res.CPUPerReplyUS), 1)
			res.OtherCores = otherCores(cpu0, cpu1)
			r.c.Log.Info("closed-loop run", "system", s.name, "run", run+1, "replies_per_s", res.RepliesPerSec,
				"cpu_us_per_reply", res.SystemCPUPerReplyUS, "p50_ms", res.Latency.P50, "p99_ms", res.Latency.P99, "errors", res.Errors)
			step.Runs = append(step.Runs, res)
			byName[s.name] = append(byName[s.name], res)
			pair[s.name] = res.RepliesPerSec
		}
		ratios = append(ratios, ratio(pair[SystemSMSConv], pair[SystemNaive]))
		ratiosTuned = append(ratiosTuned, ratio(pair[SystemSMSConv], pair[SystemTuned]))
	}
	step.Naive, step.Tuned = medianClosed(byName[SystemNaive]), medianClosed(byName[SystemTuned])
	step.Floor = medianClosed(byName[SystemFloor])
	step.SMSConv = medianClosed(byName[SystemSMSConv])
	step.Ratio, step.RatioTuned = round(median(ratios), 2), round(median(ratiosTuned), 2)
	r.rep.Closed = &step
	return nil
}

// settle waits, for at most 10 s, until the machine is nearly idle (under a tenth of a core over a quarter
// of a second), so that what one system's run left going, such as a server's append-only-file rewrite or a
// store's compaction, is not charged to the next system's run.
func settle(ctx context.Context) {
	const step = 250 * time.Millisecond
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; {
		b0, err := machineBusy()
		if err != nil {
			return
		}
		time.Sleep(step)
		b1, err := machineBusy()
		if err != nil || b1-b0 < step/10 {
			return
		}
	}
}

// startNaive builds (once) and starts a reference server of the variant, named name, sending through the
// fake at fakeURL.
func (r *runner) startNaive(ctx context.Context, dir, fakeURL, name, variant string) (*stack.Proc, string, error) {
	bin := filepath.Join(dir, "naive")
	if _, err := os.Stat(bin); err != nil {
		bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		if err := stack.BuildProgram(bctx, bin, "./e2e/cmd/naive"); err != nil {
			return nil, "", err
		}
	}
	port, err := stack.FreePort()
	if err != nil {
		return nil, "", err
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	p := stack.NewProc(name, bin, dir, []string{"-variant", variant, "-addr", "127.0.0.1:" + strconv.Itoa(port), "-telnyx-url", fakeURL + "/v2"},
		nil, url+"/healthz")
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := p.Start(sctx); err != nil {
		return nil, "", err
	}
	return p, url, nil
}

// closedClients is the closed-loop load: n clients, each with one request outstanding at a time.
type closedClients struct {
	n       int
	our     string
	sign    func(body []byte, at time.Time) http.Header
	waiters *waiters
	http    *http.Client
	// users numbers the users of every run, so each request is from a user never seen before.
	users *atomic.Int64
}

// replyTimeout bounds the wait for one reply; a client that waits this long counts an error and goes on.
const replyTimeout = 10 * time.Second

// run runs the clients, each handing its messages to send, for d and returns what they saw.
func (c *closedClients) run(ctx context.Context, send closedSend, d time.Duration) (ClosedRun, error) {
	start := time.Now()
	deadline := start.Add(d)
	var (
		mu      sync.Mutex
		lat     []time.Duration
		errs    int
		lastErr error
		wg      sync.WaitGroup
	)
	for range c.n {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				took, err := c.one(ctx, send)
				mu.Lock()
				if err != nil {
					errs++
					lastErr = err
				} else {
					lat = append(lat, took)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := ClosedRun{Replies: len(lat), Errors: errs, Latency: latencyOf(lat),
		RepliesPerSec: round(float64(len(lat))/elapsed.Seconds(), 1)}
	if len(lat) == 0 {
		return res, fmt.Errorf("no reply in %s: %w", d, lastErr)
	}
	return res, nil
}

// closedSend hands one new user's message, numbered id, to a system; the client then waits for its reply.
type closedSend func(ctx context.Context, user, id string, now time.Time) error

// webhook is the closedSend of a system behind url: a signed webhook, which must be answered 200.
func (c *closedClients) webhook(url string) closedSend {
	gen := &generator{client: c.http, url: url}
	return func(ctx context.Context, user, id string, now time.Time) error {
		body := stack.Inbound("e"+id, "m"+id, user, c.our, "hello", now)
		if status := gen.send(ctx, request{body: body, header: c.sign(body, now)}); status != http.StatusOK {
			return fmt.Errorf("webhook answered %d", status)
		}
		return nil
	}
}

// one sends one new user's "hello" and waits for the reply at the fake Telnyx.
func (c *closedClients) one(ctx context.Context, send closedSend) (time.Duration, error) {
	u := c.users.Add(1)
	user := closedUser(u)
	id := "cl" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36) + "-" + strconv.FormatInt(u, 36)
	replied := c.waiters.add(user)
	defer c.waiters.remove(user)
	start := time.Now()
	if err := send(ctx, user, id, start); err != nil {
		return 0, err
	}
	t := time.NewTimer(replyTimeout)
	defer t.Stop()
	select {
	case <-replied:
		return time.Since(start), nil
	case <-t.C:
		return 0, errors.New("no reply within " + replyTimeout.String())
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// closedUser is the number of closed-loop user u: a US number in one of areaCodes with an exchange from 200
// to 999 that is not an N11 code (792 of them), so there are 79 million before one repeats.
func closedUser(u int64) string {
	line := u % 10_000
	rest := u / 10_000
	area := areaCodes[rest%int64(len(areaCodes))]
	i := (rest / int64(len(areaCodes))) % 792
	hundreds, tail := i/99, i%99
	if tail >= 11 {
		tail++ // skip x11
	}
	exch := (2+hundreds)*100 + tail
	return "+1" + area + strconv.FormatInt(exch, 10) + strconv.FormatInt(10_000+line, 10)[1:]
}

// waiters are the clients waiting for a reply, by user number.
type waiters struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

func newWaiters() *waiters { return &waiters{m: map[string]chan struct{}{}} }

func (w *waiters) add(user string) <-chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	w.m[user] = ch
	w.mu.Unlock()
	return ch
}

func (w *waiters) remove(user string) {
	w.mu.Lock()
	delete(w.m, user)
	w.mu.Unlock()
}

func (w *waiters) deliver(user string) {
	w.mu.Lock()
	ch := w.m[user]
	w.mu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// serve serves h on a free loopback port until the returned stop is called.
func serve(h http.Handler) (string, func(), error) {
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// medianClosed is the median of each figure over runs (latency that of the run with the median replies/s).
func medianClosed(runs []ClosedRun) ClosedRun {
	if len(runs) == 0 {
		return ClosedRun{}
	}
	s := slices.Clone(runs)
	slices.SortFunc(s, func(a, b ClosedRun) int { return cmp.Compare(a.RepliesPerSec, b.RepliesPerSec) })
	m := s[len(s)/2]
	pick := func(f func(ClosedRun) float64) float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = f(r)
		}
		return round(median(xs), 1)
	}
	m.CPUPerReplyUS = map[string]float64{}
	for k := range runs[0].CPUPerReplyUS {
		m.CPUPerReplyUS[k] = pick(func(r ClosedRun) float64 { return r.CPUPerReplyUS[k] })
	}
	m.SystemCPUPerReplyUS = pick(func(r ClosedRun) float64 { return r.SystemCPUPerReplyUS })
	m.OtherCores = pick(func(r ClosedRun) float64 { return r.OtherCores })
	return m
}
