// Package stack runs the whole system as real processes on this machine: a NATS server built from its Go
// module, redis-server, the sandbox as the Telnyx API, the ingress and any number of workers. The end-to-end
// tests, the fault-injection suite and the load harness all drive it.
package stack

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
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
		args := []string{"build", "-o", out}
		if race && pkg[0] == '.' {
			args = append(args, "-race")
		}
		cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
		cmd.Dir = root
		if msg, err := cmd.CombinedOutput(); err != nil {
			return Binaries{}, fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
		}
	}
	return b, nil
}

// Options shape a stack.
type Options struct {
	Workers    int
	Partitions int
	// AckWait of the conversation consumers (short in fault tests so a killed worker's messages come back
	// quickly).
	AckWait time.Duration
	// SandboxEnv adds environment to the sandbox (latency, failure rate, receipts).
	SandboxEnv []string
	// WorkerEnv and IngressEnv add environment to those processes.
	WorkerEnv, IngressEnv []string
	// Dir holds logs and data; a temporary directory when empty.
	Dir string
}

// Stack is a running system.
type Stack struct {
	bins Binaries
	o    Options
	dir  string

	OurNumber  string
	AdminToken string
	Seed       []byte // the sandbox's signing seed; the ingress trusts its public key

	NATSURL, RedisURL, IngressURL, SandboxURL string

	NATS, Redis, Sandbox, Ingress *Proc

	mu      sync.Mutex
	Workers []*Proc
	nextID  int
}

// Start starts every process in dependency order and waits until each is ready.
func Start(ctx context.Context, bins Binaries, o Options) (*Stack, error) {
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.Partitions <= 0 {
		o.Partitions = 8
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "smsconv-stack-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i*7 + 1)
	}
	s := &Stack{bins: bins, o: o, dir: dir, OurNumber: "+13125550100", AdminToken: "harness-token", Seed: seed}
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	natsPort, redisPort, ingressPort, sandboxPort := ports[0], ports[1], ports[2], ports[3]
	s.NATSURL = "nats://127.0.0.1:" + strconv.Itoa(natsPort)
	s.RedisURL = "redis://127.0.0.1:" + strconv.Itoa(redisPort) + "/0"
	s.IngressURL = "http://127.0.0.1:" + strconv.Itoa(ingressPort)
	s.SandboxURL = "http://127.0.0.1:" + strconv.Itoa(sandboxPort)
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)

	for _, d := range []string{"nats", "redis"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	s.NATS = &Proc{Name: "nats", Path: bins.NATS, Dir: dir, Args: []string{"-a", "127.0.0.1", "-p", strconv.Itoa(natsPort),
		"-js", "-sd", filepath.Join(dir, "nats")}, ready: tcpReady("127.0.0.1:" + strconv.Itoa(natsPort))}
	s.Redis = &Proc{Name: "redis", Path: "redis-server", Dir: dir, Args: []string{"--port", strconv.Itoa(redisPort),
		"--bind", "127.0.0.1", "--dir", filepath.Join(dir, "redis"), "--appendonly", "yes", "--appendfsync", "always",
		"--save", ""}, ready: tcpReady("127.0.0.1:" + strconv.Itoa(redisPort))}
	common := []string{"NATS_URL=" + s.NATSURL, "REDIS_URL=" + s.RedisURL, "TELNYX_PHONE_NUMBER=" + s.OurNumber,
		"NATS_PARTITIONS=" + strconv.Itoa(o.Partitions), "LOG_LEVEL=info", "LOG_FORMAT=json"}
	s.Sandbox = &Proc{Name: "sandbox", Path: bins.Sandbox, Dir: dir, Args: []string{"serve"},
		Env: append([]string{"SANDBOX_ADDR=127.0.0.1:" + strconv.Itoa(sandboxPort),
			"SANDBOX_PRIVATE_KEY=" + base64.StdEncoding.EncodeToString(seed),
			"INGRESS_WEBHOOK_URL=" + s.IngressURL + "/webhooks/sms", "TELNYX_PHONE_NUMBER=" + s.OurNumber,
			"SANDBOX_RECEIPTS=false", "LOG_LEVEL=warn"}, o.SandboxEnv...),
		ready: httpReady(s.SandboxURL + "/healthz")}
	s.Ingress = &Proc{Name: "ingress", Path: bins.Ingress, Dir: dir,
		Env: append(append(common, "HTTP_ADDR=127.0.0.1:"+strconv.Itoa(ingressPort),
			"TELNYX_PUBLIC_KEY="+base64.StdEncoding.EncodeToString(pub), "ADMIN_TOKEN="+s.AdminToken), o.IngressEnv...),
		ready: httpReady(s.IngressURL + "/readyz")}

	for _, p := range []*Proc{s.NATS, s.Redis, s.Sandbox, s.Ingress} {
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

// Dir is where logs and data live.
func (s *Stack) Dir() string { return s.dir }

// AddWorker starts one more worker and waits until it serves /healthz.
func (s *Stack) AddWorker(ctx context.Context) (*Proc, error) {
	s.mu.Lock()
	s.nextID++
	id := s.nextID
	s.mu.Unlock()
	port, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	w := &Proc{Name: "worker-" + strconv.Itoa(id), Path: s.bins.Worker, Dir: s.dir,
		Env: append([]string{"NATS_URL=" + s.NATSURL, "REDIS_URL=" + s.RedisURL, "TELNYX_PHONE_NUMBER=" + s.OurNumber,
			"NATS_PARTITIONS=" + strconv.Itoa(s.o.Partitions), "LOG_LEVEL=info", "LOG_FORMAT=json",
			"TELNYX_API_KEY=harness", "TELNYX_API_URL=" + s.SandboxURL + "/v2",
			"WORKER_ID=w" + strconv.Itoa(id), "WORKER_ACK_WAIT=" + s.o.AckWait.String(),
			"WORKER_HEARTBEAT=250ms", "METRICS_ADDR=127.0.0.1:" + strconv.Itoa(port[0])}, s.o.WorkerEnv...),
		ready: httpReady("http://127.0.0.1:" + strconv.Itoa(port[0]) + "/healthz")}
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

// Close stops every process (workers first) and reports processes that died by themselves.
func (s *Stack) Close() {
	s.mu.Lock()
	ws := append([]*Proc(nil), s.Workers...)
	s.mu.Unlock()
	for _, w := range ws {
		w.Stop(10 * time.Second)
	}
	for _, p := range []*Proc{s.Ingress, s.Sandbox, s.Redis, s.NATS} {
		if p != nil {
			p.Stop(10 * time.Second)
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

func freePorts(n int) ([]int, error) {
	var out []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		var lc net.ListenConfig
		l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
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
