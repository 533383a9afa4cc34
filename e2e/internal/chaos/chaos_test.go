//go:build e2e

package chaos

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/stack"
)

var bins stack.Binaries

func TestMain(m *testing.M) { stack.TestMain(m, &bins) }

// lineWriter sends each line to t.Log, so the run's progress shows with -v or when the test fails.
type lineWriter struct {
	t   testing.TB
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			return len(p), nil
		}
		w.t.Log(strings.TrimRight(line, "\n"))
	}
}

// TestChaosShort is the fault-injection suite in small: 60 conversations of 6 texts and a status over 20 s
// with 3 workers, while two workers are SIGKILLed, one is stopped with SIGTERM, Redis and NATS are each
// SIGKILLed and restarted, and the fake Telnyx fails 10% of sends plus bursts of 429s and lost answers.
// Every reply must arrive exactly once and in order, with no dead letter and no crashed process.
func TestChaosShort(t *testing.T) {
	o := DefaultOptions()
	o.Conversations, o.MessagesPerConversation, o.Workers, o.Partitions = 60, 6, 3, 8
	o.Duration, o.KillEvery, o.Downtime = 20*time.Second, 8*time.Second, 3*time.Second
	o.RateLimitEvery, o.LostAnswerEvery = 6*time.Second, 5*time.Second
	// A pass drains in seconds; the generous bound only keeps a slow drain (deferred messages back off up to
	// the worker's 30 s cap) from being reported as lost replies.
	o.DrainTimeout, o.Settle = 90*time.Second, 4*time.Second
	r := runT(t, o, 3*time.Minute)
	// The run passing is only worth something if the faults happened and the traffic went through them.
	expect(t, r, 60*7, []check{
		{"workers killed", r.Faults.WorkerKills == 2 && r.Faults.WorkerRestarts == 3},
		{"a worker stopped gracefully", r.Faults.GracefulStops == 1},
		{"redis restarted", r.Faults.RedisRestarts == 1},
		{"nats restarted, ingress answered 503", r.Faults.NATSRestarts == 1 && r.Faults.NATSDown503 && r.Webhook503 > 0},
		{"sandbox 429 and lost-answer bursts", r.Faults.RateLimitBursts > 0 && r.Faults.LostAnswerBursts > 0},
		{"duplicate webhooks posted and some deduplicated at the ingress", r.DuplicatesPosted > 0 && r.DuplicatesAtIngest > 0},
	})
	t.Logf("chaos short: %d replies, %d kills, %d 503s, %.1fs", r.RepliesReceived, r.Faults.WorkerKills, r.Webhook503, r.WallSeconds)
}

// runT runs the suite with options o in a fresh directory, within the given time, and fails the test with the
// end of every process log when the run itself fails.
func runT(t *testing.T, o Options, within time.Duration) Report {
	t.Helper()
	o.Dir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	r, err := Run(ctx, bins, o, &lineWriter{t: t})
	if err != nil {
		logTails(t, o.Dir)
		t.Fatal(err)
	}
	return r
}

// check is one named condition on a run's report.
type check struct {
	name string
	ok   bool
}

// expect reports every check of r that does not hold, with the whole report to show why: first that all
// inbound messages (planned of them) went in and each had its one reply with no dead letter, then faults,
// the run's own checks that its faults happened.
func expect(t *testing.T, r Report, planned int, faults []check) {
	t.Helper()
	checks := append([]check{
		{"every inbound message accepted", r.InboundAccepted == r.InboundPlanned && r.InboundPlanned == planned},
		{"every reply received", r.RepliesReceived == r.InboundPlanned && r.Delivered == r.InboundPlanned},
		{"no dead letters", r.DeadLetters == 0},
	}, faults...)
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: not so in report %+v", c.name, r)
		}
	}
}

// logTails shows the end of every process log of a failed run.
func logTails(t *testing.T, dir string) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		t.Logf("--- %s (tail):\n%s", filepath.Base(l), b)
	}
}
