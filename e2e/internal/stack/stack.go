// Package stack runs the whole system as real processes on this machine: a NATS server built from its Go
// module, redis-server, the sandbox as the Telnyx API, the ingress and any number of workers. The end-to-end
// tests, the fault-injection suite and the load harness all drive it.
package stack

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
)

// Binaries are the programs the stack runs.
type Binaries struct {
	Ingress, Worker, Sandbox, NATS string
}

// RepoRoot finds the repository root (the directory holding go.work) from the working directory up.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.work not found above the working directory")
		}
		dir = parent
	}
}

var buildMu sync.Mutex

// Build compiles the ingress, worker, sandbox and nats-server into dir. race builds them with the race
// detector (a race then makes the process exit with status 66).
func Build(ctx context.Context, dir string, race bool) (Binaries, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	root, err := RepoRoot()
	if err != nil {
		return Binaries{}, err
	}
	b := Binaries{
		Ingress: filepath.Join(dir, "ingress"),
		Worker:  filepath.Join(dir, "worker"),
		Sandbox: filepath.Join(dir, "sandbox"),
		NATS:    filepath.Join(dir, "nats-server"),
	}
	pkgs := map[string]string{
		b.Ingress: "./services/ingress/cmd/ingress",
		b.Worker:  "./services/worker/cmd/worker",
		b.Sandbox: "./services/sandbox/cmd/sandbox",
		b.NATS:    "github.com/nats-io/nats-server/v2",
	}
	for out, pkg := range pkgs {
		if err := goBuild(ctx, root, out, pkg, race && pkg[0] == '.'); err != nil {
			return Binaries{}, err
		}
	}
	return b, nil
}

// BuildProgram builds the package pkg (a path from the repository root, such as ./e2e/cmd/naive) to out.
func BuildProgram(ctx context.Context, out, pkg string) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	return goBuild(ctx, root, out, pkg, false)
}

func goBuild(ctx context.Context, root, out, pkg string, race bool) error {
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
	}
	return nil
}

// NewProc is a process outside the stack (a reference server, say) that Start runs with its log in dir and
// considers ready once healthURL answers 200.
func NewProc(name, path, dir string, args, env []string, healthURL string) *Proc {
	return &Proc{Name: name, Path: path, Dir: dir, Args: args, Env: env, ready: httpReady(healthURL)}
}

// DevAdminToken is the ADMIN_TOKEN of a local stack (make run, the tests): the development token the README's
// examples and docker-compose.yml use too (composecheck holds them to it). Never use it on a reachable host.
const DevAdminToken = "smsconv-sandbox-admin-token"

// Options shape a stack. The zero value is what the tests want: free ports, JSON logs, a temporary directory.
type Options struct {
	Workers    int
	Partitions int
	// AckWait of the conversation consumers (short in fault tests so a killed worker's messages come back
	// quickly).
	AckWait time.Duration
	// Heartbeat is the workers' WORKER_HEARTBEAT: short by default, so membership changes after a kill settle
	// quickly in the tests.
	Heartbeat time.Duration
	// SandboxEnv adds environment to the sandbox (latency, failure rate, receipts).
	SandboxEnv []string
	// WorkerEnv and IngressEnv add environment to those processes.
	WorkerEnv, IngressEnv []string
	// Dir holds logs and data; a temporary directory when empty.
	Dir string
	// Ports fixes the listening ports; a zero port is a free one chosen at start.
	Ports Ports
	// NATSURL and RedisURL, when set, are servers to use instead of starting nats-server and redis-server.
	NATSURL, RedisURL string
	// Cluster runs NATS as a three-server JetStream cluster (streams and consumers at NATS_REPLICAS=3) and
	// Redis as a Redis Cluster of three masters with one replica each, instead of one server of each.
	Cluster bool
	// OurNumber is TELNYX_PHONE_NUMBER (default +13125550100); AdminToken the ingress's ADMIN_TOKEN (default
	// DevAdminToken).
	OurNumber, AdminToken string
	// LogLevel and LogFormat of the services (default info and json).
	LogLevel, LogFormat string
	// WorkerIDPrefix prefixes each worker's WORKER_ID and is followed by its number (default "w").
	WorkerIDPrefix string
}

// Ports are the fixed ports of a stack; WorkerMetrics is the first worker's, the next ones count up from it.
type Ports struct {
	NATS, NATSMonitor, Redis, Ingress, Sandbox, WorkerMetrics int
}

// Stack is a running system.
type Stack struct {
	bins Binaries
	o    Options
	dir  string

	OurNumber  string
	AdminToken string
	Seed       []byte // the sandbox's signing seed (fakeapi.DevSeed); the ingress trusts its public key

	NATSURL, RedisURL, IngressURL, SandboxURL string

	// NATS and Redis are nil when Options named servers to use, or in a cluster stack.
	NATS, Redis, Sandbox, Ingress *Proc
	// NATSNodes and RedisNodes are the servers of a cluster stack (Options.Cluster); RedisClusterAddrs the
	// Redis nodes' addresses, as REDIS_CLUSTER_ADDRS lists them.
	NATSNodes, RedisNodes []*Proc
	RedisClusterAddrs     []string

	mu      sync.Mutex
	Workers []*Proc
	nextID  int
}

// withDefaults fills the zero fields of o.
func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.Partitions <= 0 {
		o.Partitions = 8
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 250 * time.Millisecond
	}
	if o.OurNumber == "" {
		o.OurNumber = "+13125550100"
	}
	if o.AdminToken == "" {
		o.AdminToken = DevAdminToken
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	if o.LogFormat == "" {
		o.LogFormat = "json"
	}
	if o.WorkerIDPrefix == "" {
		o.WorkerIDPrefix = "w"
	}
	return o
}

// ErrPortInUse is returned by Start when a fixed port is taken.
var ErrPortInUse = errors.New("port already in use")

// resolvePorts picks free ports for the zero ones and checks that the fixed ones are free, before anything
// starts, so a clash does not leave half a stack starting and stopping.
func resolvePorts(o Options) (Ports, error) {
	p := o.Ports
	fixed := []struct {
		port *int
		what string
		need bool
	}{
		{&p.NATS, "NATS (NATS_PORT)", o.NATSURL == "" && !o.Cluster},
		{&p.NATSMonitor, "NATS monitoring (NATS_MONITOR_PORT)", o.NATSURL == "" && !o.Cluster},
		{&p.Redis, "Redis (REDIS_PORT)", o.RedisURL == "" && !o.Cluster},
		{&p.Ingress, "the ingress (INGRESS_PORT)", true},
		{&p.Sandbox, "the sandbox (SANDBOX_PORT)", true},
	}
	for _, f := range fixed {
		if !f.need {
			continue
		}
		if *f.port == 0 {
			free, err := freePorts(1)
			if err != nil {
				return p, err
			}
			*f.port = free[0]
			continue
		}
		if err := portFree(*f.port); err != nil {
			return p, fmt.Errorf("%w: %d for %s: stop what listens there or choose another", ErrPortInUse, *f.port, f.what)
		}
	}
	if p.WorkerMetrics != 0 {
		for i := range o.Workers {
			if err := portFree(p.WorkerMetrics + i); err != nil {
				return p, fmt.Errorf("%w: %d for worker %d's metrics (WORKER_METRICS_BASE)", ErrPortInUse, p.WorkerMetrics+i, i+1)
			}
		}
	}
	return p, nil
}

func portFree(port int) error {
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	return l.Close()
}

// NATSProc is a stack's NATS server, not yet started: JetStream on, its data in dir/name, listening on
// 127.0.0.1:port with monitoring on monitor. It returns the server's client URL too.
func NATSProc(bins Binaries, dir, name string, port, monitor int) (*Proc, string, error) {
	data := filepath.Join(dir, name)
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, "", err
	}
	// /healthz turns 200 only once JetStream has recovered its streams.
	return &Proc{Name: name, Path: bins.NATS, Dir: dir, Args: []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port),
		"-m", strconv.Itoa(monitor), "-js", "-sd", data},
		ready: httpReady("http://127.0.0.1:" + strconv.Itoa(monitor) + "/healthz")}, "nats://127.0.0.1:" + strconv.Itoa(port), nil
}

// RedisProc is a stack's Redis server, not yet started: an append-only file fsynced at every write
// (appendfsync always), no snapshots, its data in dir/name, listening on 127.0.0.1:port. It returns the
// server's URL too.
func RedisProc(dir, name string, port int) (*Proc, string, error) {
	data := filepath.Join(dir, name)
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, "", err
	}
	return &Proc{Name: name, Path: "redis-server", Dir: dir, Args: []string{"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1", "--dir", data, "--appendonly", "yes", "--appendfsync", "always",
		"--save", ""}, ready: tcpReady("127.0.0.1:" + strconv.Itoa(port))}, "redis://127.0.0.1:" + strconv.Itoa(port) + "/0", nil
}

// Start starts every process in dependency order and waits until each is ready.
func Start(ctx context.Context, bins Binaries, o Options) (*Stack, error) {
	o = o.withDefaults()
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "smsconv-stack-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	seed, err := base64.StdEncoding.DecodeString(fakeapi.DevSeed)
	if err != nil {
		return nil, fmt.Errorf("fakeapi.DevSeed: %w", err)
	}
	ports, err := resolvePorts(o)
	if err != nil {
		return nil, err
	}
	o.Ports = ports
	s := &Stack{bins: bins, o: o, dir: dir, OurNumber: o.OurNumber, AdminToken: o.AdminToken, Seed: seed}
	s.NATSURL, s.RedisURL = o.NATSURL, o.RedisURL
	s.IngressURL = "http://127.0.0.1:" + strconv.Itoa(ports.Ingress)
	s.SandboxURL = "http://127.0.0.1:" + strconv.Itoa(ports.Sandbox)

	var procs []*Proc
	if o.Cluster {
		if err := s.startClusters(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("start clusters: %w", err)
		}
	}
	if s.NATSURL == "" {
		if s.NATS, s.NATSURL, err = NATSProc(bins, dir, "nats", ports.NATS, ports.NATSMonitor); err != nil {
			return nil, err
		}
		procs = append(procs, s.NATS)
	}
	if s.RedisURL == "" {
		if s.Redis, s.RedisURL, err = RedisProc(dir, "redis", ports.Redis); err != nil {
			return nil, err
		}
		procs = append(procs, s.Redis)
	}
	s.Sandbox = &Proc{Name: "sandbox", Path: bins.Sandbox, Dir: dir, Args: []string{"serve"},
		Env: append([]string{"SANDBOX_ADDR=127.0.0.1:" + strconv.Itoa(ports.Sandbox),
			"SANDBOX_PRIVATE_KEY=" + fakeapi.DevSeed,
			"INGRESS_WEBHOOK_URL=" + s.IngressURL + "/webhooks/sms", "TELNYX_PHONE_NUMBER=" + s.OurNumber,
			"SANDBOX_RECEIPTS=false", "LOG_LEVEL=warn", "LOG_FORMAT=" + o.LogFormat}, o.SandboxEnv...),
		ready: httpReady(s.SandboxURL + "/healthz")}
	s.Ingress = &Proc{Name: "ingress", Path: bins.Ingress, Dir: dir,
		Env: append(append(s.commonEnv(), "HTTP_ADDR=127.0.0.1:"+strconv.Itoa(ports.Ingress),
			"TELNYX_PUBLIC_KEY="+fakeapi.DevPublicKey, "ADMIN_TOKEN="+s.AdminToken,
			// A sandbox URL: the ingress accepts the development key and token only then.
			"TELNYX_API_URL="+s.SandboxURL+"/v2"), o.IngressEnv...),
		ready: httpReady(s.IngressURL + "/readyz")}
	procs = append(procs, s.Sandbox, s.Ingress)

	for _, p := range procs {
		if err := p.Start(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	for range o.Workers {
		if _, err := s.AddWorker(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// commonEnv is the environment the ingress and the workers share.
func (s *Stack) commonEnv() []string {
	env := []string{"NATS_URL=" + s.NATSURL, "REDIS_URL=" + s.RedisURL, "TELNYX_PHONE_NUMBER=" + s.OurNumber,
		"NATS_PARTITIONS=" + strconv.Itoa(s.o.Partitions), "LOG_LEVEL=" + s.o.LogLevel, "LOG_FORMAT=" + s.o.LogFormat}
	if s.o.Cluster {
		env = append(env, "NATS_REPLICAS="+strconv.Itoa(clusterSize), "REDIS_CLUSTER_ADDRS="+strings.Join(s.RedisClusterAddrs, ","))
	}
	return env
}

// Dir is where logs and data live.
func (s *Stack) Dir() string { return s.dir }

// AddWorker starts one more worker and waits until it serves /healthz. Its metrics port is the next one
// after Ports.WorkerMetrics when that is set, else a free one.
func (s *Stack) AddWorker(ctx context.Context) (*Proc, error) {
	s.mu.Lock()
	s.nextID++
	id := s.nextID
	s.mu.Unlock()
	port := 0
	if base := s.o.Ports.WorkerMetrics; base != 0 {
		port = base + id - 1
	} else {
		free, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		port = free[0]
	}
	metrics := "127.0.0.1:" + strconv.Itoa(port)
	w := &Proc{Name: "worker-" + strconv.Itoa(id), Path: s.bins.Worker, Dir: s.dir,
		Env: append(append(s.commonEnv(),
			"TELNYX_API_KEY=sandbox", "TELNYX_API_URL="+s.SandboxURL+"/v2",
			"WORKER_ID="+s.o.WorkerIDPrefix+strconv.Itoa(id), "WORKER_ACK_WAIT="+s.o.AckWait.String(),
			"WORKER_HEARTBEAT="+s.o.Heartbeat.String(), "METRICS_ADDR="+metrics), s.o.WorkerEnv...),
		ready: httpReady("http://" + metrics + "/healthz")}
	if err := w.Start(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.Workers = append(s.Workers, w)
	s.mu.Unlock()
	return w, nil
}

// LiveWorkers returns the workers whose process is running.
func (s *Stack) LiveWorkers() []*Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Proc
	for _, w := range s.Workers {
		if w.Running() {
			out = append(out, w)
		}
	}
	return out
}

// Close stops every process, newest first (workers from the last started, then the ingress, the sandbox,
// Redis and NATS), each with its own grace period, so the ingress stops taking work before the workers drain
// and NATS and Redis go last.
func (s *Stack) Close() {
	s.mu.Lock()
	ws := append([]*Proc(nil), s.Workers...)
	s.mu.Unlock()
	for i := len(ws) - 1; i >= 0; i-- {
		ws[i].Stop(15 * time.Second)
	}
	for _, p := range append(append([]*Proc{s.Ingress, s.Sandbox, s.Redis, s.NATS}, s.RedisNodes...), s.NATSNodes...) {
		if p != nil {
			p.Stop(15 * time.Second)
		}
	}
}

// Proc is one child process with its log file.
type Proc struct {
	Name string
	Path string
	Args []string
	Env  []string
	Dir  string

	ready func(ctx context.Context) error

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	exitErr  error
	starts   int
	LogPath  string
	stopping bool
}

// Start runs the process (appending to its log) and waits until it is ready.
func (p *Proc) Start(ctx context.Context) error {
	p.mu.Lock()
	p.LogPath = filepath.Join(p.Dir, p.Name+".log")
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	// Not CommandContext: the process outlives the context of the call that starts it; Stop and Kill end it.
	cmd := exec.Command(p.Path, p.Args...) //nolint:noctx // see above
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		logf.Close()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	p.cmd, p.done, p.stopping = cmd, make(chan struct{}), false
	p.starts++
	done := p.done
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(done)
	}()
	p.mu.Unlock()
	if p.ready == nil {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		if err := p.ready(rctx); err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited during start-up: %w\n%s", p.Name, p.ExitErr(), p.Tail(2000))
		case <-rctx.Done():
			return fmt.Errorf("%s not ready: %w\n%s", p.Name, rctx.Err(), p.Tail(2000))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Running reports whether the process is alive.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// ExitErr is the last exit status.
func (p *Proc) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

// Kill sends SIGKILL and waits for the process to go (a crash).
func (p *Proc) Kill() { p.signal(syscall.SIGKILL, 10*time.Second) }

// Stop sends SIGTERM and waits up to timeout, then SIGKILL (a graceful stop).
func (p *Proc) Stop(timeout time.Duration) { p.signal(syscall.SIGTERM, timeout) }

func (p *Proc) signal(sig syscall.Signal, timeout time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.stopping = true
	p.mu.Unlock()
	if cmd == nil || done == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart kills (or stops, if graceful) the process and starts it again with the same arguments.
func (p *Proc) Restart(ctx context.Context, graceful bool) error {
	if graceful {
		p.Stop(15 * time.Second)
	} else {
		p.Kill()
	}
	return p.Start(ctx)
}

// Tail returns the last n bytes of the process's log.
func (p *Proc) Tail(n int) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// CountInLog counts lines of the log containing s (e.g. a race report).
func (p *Proc) CountInLog(s string) int {
	b, _ := os.ReadFile(p.LogPath)
	return bytes.Count(b, []byte(s))
}

// FreePort is a loopback port nothing listens on now and not handed out before, for a process started
// outside a stack.
func FreePort() (int, error) {
	ps, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

// freePorts are n loopback ports nothing listens on now, none handed out before by this process. They are
// chosen below the kernel's ephemeral range when it leaves room: a port from that range can be taken, between
// the choice and the child's bind, as the local end of any outgoing connection (the load and chaos suites
// open thousands), and the child then fails with "address already in use".
func freePorts(n int) ([]int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	var out []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	lo, hi := listenRange()
	for tries := 0; len(out) < n; tries++ {
		addr := "127.0.0.1:0"
		if hi > lo && tries < 100*n {
			addr = "127.0.0.1:" + strconv.Itoa(lo+rand.IntN(hi-lo))
		}
		var lc net.ListenConfig
		l, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			if addr == "127.0.0.1:0" {
				return nil, err
			}
			continue // taken: try another
		}
		port := l.Addr().(*net.TCPAddr).Port
		ls = append(ls, l)
		if handedOut[port] {
			continue
		}
		handedOut[port] = true
		out = append(out, port)
	}
	return out, nil
}

var (
	portsMu sync.Mutex
	// handedOut are the ports freePorts has returned: a child may not have bound one yet.
	handedOut = map[int]bool{}
)

// listenRange is [lo, hi): the 12,000 ports below the kernel's ephemeral range, or none (lo == hi) when that
// range starts too low to leave them above 1024.
func listenRange() (lo, hi int) {
	start := 32768 // Linux's default
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				start = v
			}
		}
	}
	if start-12_000 < 1024 {
		return 0, 0
	}
	return start - 12_000, start
}

func tcpReady(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

func httpReady(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %d", url, resp.StatusCode)
		}
		return nil
	}
}
