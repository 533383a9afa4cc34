//go:build e2e

package load

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/stack"
)

var bins stack.Binaries

func TestMain(m *testing.M) { stack.TestMain(m, &bins) }

// TestShortRunOfEveryScenario runs the harness in its short mode against the real system and checks that it
// measures and reports (no timing thresholds: the figures are printed, not judged).
func TestShortRunOfEveryScenario(t *testing.T) {
	c := DefaultConfig(true)
	c.Bins = bins
	c.Dir = t.TempDir()
	c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := Run(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r.Print(&out)
	t.Logf("short run:\n%s", out.String())

	if r.VerifyMicros <= 0 {
		t.Errorf("ed25519.Verify cost not measured: %v", r.VerifyMicros)
	}
	if len(r.Ingress) != len(c.IngressRates) {
		t.Fatalf("%d ingress steps, want %d", len(r.Ingress), len(c.IngressRates))
	}
	for _, s := range r.Ingress {
		if s.Median.Accepted == 0 || s.Median.IngressCPUPerAcceptedUS <= 0 {
			t.Errorf("ingress step %v/s: accepted %d, CPU %v µs", s.OfferedRPS, s.Median.Accepted, s.Median.IngressCPUPerAcceptedUS)
		}
		// The floor answered every webhook of each run, and its CPU is the verifier's own.
		if f := s.Floor; len(s.FloorRuns) != c.Runs || f.Accepted != f.Sent || f.Sent == 0 || f.Errors != 0 ||
			f.IngressCPUPerAcceptedUS <= 0 || f.CPUPerMessageUS[procVerifier] != f.IngressCPUPerAcceptedUS {
			t.Errorf("ingress floor at %v/s: %d runs, %+v", s.OfferedRPS, len(s.FloorRuns), f)
		}
	}
	if len(r.EndToEnd) != len(c.E2ERates)*len(c.Workers) || len(r.Slow) != len(c.SlowConversations) {
		t.Fatalf("%d end-to-end and %d slow steps", len(r.EndToEnd), len(r.Slow))
	}
	for _, s := range append(append([]E2EStep(nil), r.EndToEnd...), r.Slow...) {
		m := s.Median
		if m.Replies == 0 || m.Missing != 0 || m.DuplicateReplies != 0 {
			t.Errorf("step %d workers %v/s: %d replies, %d missing, %d duplicate", s.Workers, s.OfferedRPS, m.Replies, m.Missing, m.DuplicateReplies)
		}
	}
	// The closed loop: the four systems answered every request (the floor counts a message once it is
	// committed and acked), from every process measured.
	if cl := r.Closed; cl == nil || len(cl.Runs) != 4*c.Runs {
		t.Fatalf("closed-loop step %+v, want %d runs", cl, 4*c.Runs)
	}
	for _, m := range r.Closed.Runs {
		if m.Replies == 0 || m.Errors != 0 || m.SystemCPUPerReplyUS <= 0 {
			t.Errorf("closed loop, %s: %d replies, %d errors, %v µs per reply", m.System, m.Replies, m.Errors, m.SystemCPUPerReplyUS)
		}
	}
	if m := r.Closed.SMSConv.CPUPerReplyUS; m[procIngress] <= 0 || m[procWorkers] <= 0 || m[procNATS] <= 0 || m[procRedis] <= 0 {
		t.Errorf("smsconv CPU by process %v: want ingress, workers, NATS and Redis", m)
	}
	if m := r.Closed.Naive.CPUPerReplyUS; len(m) != 1 || m[procNaive] <= 0 {
		t.Errorf("naive CPU by process %v: want the naive server alone", m)
	}
	if m := r.Closed.Tuned.CPUPerReplyUS; len(m) != 1 || m[procTuned] <= 0 {
		t.Errorf("tuned CPU by process %v: want the tuned server alone", m)
	}
	if m := r.Closed.Floor.CPUPerReplyUS; len(m) != 2 || m[procNATS] <= 0 || m[procRedis] <= 0 {
		t.Errorf("floor CPU by process %v: want NATS and Redis alone", m)
	}
	if r.Closed.Ratio <= 0 || r.Closed.RatioTuned <= 0 {
		t.Errorf("ratios %v, %v", r.Closed.Ratio, r.Closed.RatioTuned)
	}
	if len(r.Targets) == 0 {
		t.Error("no targets reported")
	}

	dir := t.TempDir()
	jsonPath, mdPath, svgPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.md"), filepath.Join(dir, "r.svg")
	if err := r.WriteJSON(jsonPath); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(jsonPath)
	if err != nil || len(back.EndToEnd) != len(r.EndToEnd) || back.VerifyMicros != r.VerifyMicros || back.Closed == nil {
		t.Fatalf("JSON round trip: %v", err)
	}
	if err := r.WriteMarkdown(mdPath, "r.svg"); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(mdPath)
	if !strings.Contains(string(md), "## Targets") || !strings.Contains(string(md), "r.svg") || !strings.Contains(string(md), "beside a naive server") {
		t.Fatalf("markdown report:\n%s", md)
	}
	if err := r.WriteSVG(svgPath); err != nil {
		t.Fatal(err)
	}
	svg, _ := os.ReadFile(svgPath)
	checkSVG(t, svg, 3)
	var raw map[string]any
	if err := json.Unmarshal(mustRead(t, jsonPath), &raw); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
