// Package local runs the whole system on this machine without Docker for `make run`: NATS (JetStream), Redis,
// the sandbox as the Telnyx API, the ingress and WORKERS workers, through the same supervisor (package stack)
// the end-to-end tests, the fault-injection suite and the load harness use. State and logs go to .run/.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/stack"
)

// Config is what `make run` reads from its environment; Defaults lists the defaults.
type Config struct {
	Workers, Partitions int
	Ports               stack.Ports
	// NATSURL and RedisURL name servers of your own instead of starting them.
	NATSURL, RedisURL string
	OurNumber         string
	AdminToken        string
	LogLevel          string
	LogFormat         string
	// BinDir holds ingress, worker, sandbox and nats-server (make build, make nats-server).
	BinDir string
	// Dir holds the logs and the NATS and Redis data.
	Dir string
}

// Defaults are the ports and settings make run has always used: away from the standard NATS and Redis ports,
// because a system NATS or Redis may listen there (and a system NATS may be older than the 2.11 we need).
func Defaults(root string) Config {
	return Config{
		Workers: 1, Partitions: 16,
		Ports: stack.Ports{NATS: 4223, NATSMonitor: 8223, Redis: 6380, Ingress: 8080, Sandbox: 8090,
			WorkerMetrics: 9091},
		OurNumber: "+12125550100", AdminToken: stack.DevAdminToken, LogLevel: "info", LogFormat: "text",
		BinDir: filepath.Join(root, "bin"), Dir: filepath.Join(root, ".run"),
	}
}

// errExitedCleanly stands for the exit status of a service that stopped by itself without an error.
var errExitedCleanly = errors.New("exit status 0")

// ErrConfig is returned for a variable that cannot be used.
var ErrConfig = errors.New("invalid configuration")

// FromEnv reads the variables of `make run` over Defaults(root); getenv is os.Getenv in main.
func FromEnv(root string, getenv func(string) string) (Config, error) {
	c := Defaults(root)
	ints := []struct {
		name string
		to   *int
	}{
		{"WORKERS", &c.Workers}, {"NATS_PARTITIONS", &c.Partitions},
		{"NATS_PORT", &c.Ports.NATS}, {"NATS_MONITOR_PORT", &c.Ports.NATSMonitor}, {"REDIS_PORT", &c.Ports.Redis},
		{"INGRESS_PORT", &c.Ports.Ingress}, {"SANDBOX_PORT", &c.Ports.Sandbox},
		{"WORKER_METRICS_BASE", &c.Ports.WorkerMetrics},
	}
	var errs []error
	for _, v := range ints {
		raw := strings.TrimSpace(getenv(v.name))
		if raw == "" {
			continue
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("%w: %s=%s: want a positive number", ErrConfig, v.name, raw))
			continue
		}
		*v.to = n
	}
	strs := []struct {
		name string
		to   *string
	}{
		{"NATS_URL", &c.NATSURL}, {"REDIS_URL", &c.RedisURL}, {"TELNYX_PHONE_NUMBER", &c.OurNumber},
		{"ADMIN_TOKEN", &c.AdminToken}, {"LOG_LEVEL", &c.LogLevel}, {"LOG_FORMAT", &c.LogFormat},
	}
	for _, v := range strs {
		if raw := strings.TrimSpace(getenv(v.name)); raw != "" {
			*v.to = raw
		}
	}
	return c, errors.Join(errs...)
}

// Run starts the stack, prints where everything is and blocks until ctx ends (Ctrl-C) or a process exits by
// itself; then it stops everything, newest first. A process that exits is an error naming it, with the end
// of its log.
func Run(ctx context.Context, c Config, out io.Writer) error {
	bins := stack.Binaries{Ingress: filepath.Join(c.BinDir, "ingress"), Worker: filepath.Join(c.BinDir, "worker"),
		Sandbox: filepath.Join(c.BinDir, "sandbox"), NATS: filepath.Join(c.BinDir, "nats-server")}
	need := []string{bins.Ingress, bins.Worker, bins.Sandbox}
	if c.NATSURL == "" {
		need = append(need, bins.NATS)
	}
	for _, b := range need {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%s is missing: run 'make build nats-server' (or 'make run'): %w", b, err)
		}
	}
	if c.RedisURL == "" {
		if _, err := exec.LookPath("redis-server"); err != nil {
			return fmt.Errorf("redis-server not found: apt-get install -y redis-server (or set REDIS_URL): %w", err)
		}
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	fmt.Fprintf(out, "[run] starting NATS, Redis, the sandbox, the ingress and %d worker(s); logs in %s\n", c.Workers, c.Dir)
	s, err := stack.Start(ctx, bins, stack.Options{
		Workers: c.Workers, Partitions: c.Partitions, Ports: c.Ports, NATSURL: c.NATSURL, RedisURL: c.RedisURL,
		OurNumber: c.OurNumber, AdminToken: c.AdminToken, LogLevel: c.LogLevel, LogFormat: c.LogFormat,
		Dir: c.Dir, WorkerIDPrefix: "local-",
		// The services' own defaults, not the tests' short ones.
		Heartbeat:  defaultHeartbeat,
		SandboxEnv: []string{"SANDBOX_RECEIPTS=true", "LOG_LEVEL=" + c.LogLevel},
	})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "[run] stopping, newest first...")
		s.Close()
		fmt.Fprintln(out, "[run] stopped")
	}()
	printSummary(out, s, c)

	// Block until Ctrl-C, or until one of the processes dies: then stop the rest rather than run half a stack.
	exited := make(chan *stack.Proc, 1)
	for _, p := range s.Procs() {
		go func() {
			select {
			case <-p.Exited():
				select {
				case exited <- p:
				default:
				}
			case <-ctx.Done():
			}
		}()
	}
	select {
	case <-ctx.Done():
		return nil
	case p := <-exited:
		cause := p.ExitErr()
		if cause == nil {
			cause = errExitedCleanly
		}
		return fmt.Errorf("%s exited (%w); the end of its log:\n%s", p.Name, cause, p.Tail(2000))
	}
}

// defaultHeartbeat is the worker's own WORKER_HEARTBEAT default.
const defaultHeartbeat = time.Second

func printSummary(out io.Writer, s *stack.Stack, c Config) {
	last := c.Ports.WorkerMetrics + c.Workers - 1
	fmt.Fprintf(out, `
smsconv is running (logs in %[1]s/*.log; Ctrl-C stops everything).

  ingress   %[2]s   (webhooks: %[2]s/webhooks/sms, metrics: %[2]s/metrics)
  sandbox   %[3]s   (fake Telnyx API: %[3]s/v2/messages)
  workers   %[4]d, metrics on 127.0.0.1:%[5]d..%[6]d
  NATS      %[7]s
  Redis     %[8]s

Try:
  bin/sandbox say --url %[3]s hello
  curl -s -H 'Authorization: Bearer %[9]s' %[2]s/conversations
  curl -s -H 'Authorization: Bearer %[9]s' %[2]s/dead-letters

`, c.Dir, s.IngressURL, s.SandboxURL, c.Workers, c.Ports.WorkerMetrics, last, s.NATSURL, s.RedisURL, s.AdminToken)
}
