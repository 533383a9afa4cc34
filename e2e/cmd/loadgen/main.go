// Command loadgen is the load harness behind `make bench`: it builds the services and nats-server, runs them
// as real processes on this machine and measures them under open-loop load (see package load). It prints a
// table and writes results.json, results.md and latency.svg to bench/ at the repository root (a -short run to
// .run/bench-short/ instead, -out elsewhere).
//
//	go run ./e2e/cmd/loadgen                  # the full measurement (about 20 minutes)
//	go run ./e2e/cmd/loadgen -short           # a smoke run (well under a minute), written to .run/bench-short
//	go run ./e2e/cmd/loadgen -scenarios e2e -workers 2 -e2e-rates 1000 -runs 5
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/load"
	"github.com/smsconv/smsconv/e2e/internal/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out, errOut io.Writer) error {
	full := load.DefaultConfig(false)
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(errOut)
	short := fs.Bool("short", false, "quick smoke run: a few seconds per scenario at small rates (the defaults below change)")
	scenarios := fs.String("scenarios", strings.Join(full.Scenarios, ","), "scenarios to run: ingress, e2e, slow")
	ingressRates := fs.String("ingress-rates", floats(full.IngressRates), "offered webhooks/s of the ingress-only scenario")
	e2eRates := fs.String("e2e-rates", floats(full.E2ERates), "offered messages/s of the end-to-end scenario")
	workers := fs.String("workers", ints(full.Workers), "worker counts of the end-to-end scenario")
	users := fs.Int("users", full.Users, "simulated users (one conversation each) in the ingress and end-to-end scenarios")
	slowRate := fs.Float64("slow-rate", full.SlowRate, "offered messages/s of the slow-provider scenario")
	slowConvs := fs.String("slow-conversations", ints(full.SlowConversations), "conversation counts of the slow-provider scenario")
	slowLatency := fs.Duration("slow-latency", full.SlowLatency, "latency of the fake Telnyx in the slow-provider scenario")
	slowWorkers := fs.Int("slow-workers", full.SlowWorkers, "workers in the slow-provider scenario")
	duration := fs.Duration("duration", full.Duration, "length of each measured run")
	runs := fs.Int("runs", full.Runs, "runs per step (the report shows medians)")
	warmup := fs.Duration("warmup", full.Warmup, "unmeasured load on each new stack before measuring")
	drain := fs.Duration("drain-timeout", full.DrainTimeout, "longest wait for the workers to finish a run's messages")
	partitions := fs.Int("partitions", full.Partitions, "conversation stream partitions")
	workerEnv := fs.String("worker-env", strings.Join(full.WorkerEnv, ","), "comma-separated NAME=value pairs added to every worker's environment")
	outDir := fs.String("out", "", "directory for results.json, results.md and latency.svg (default <repo>/bench, "+
		"the published figures; with -short <repo>/.run/bench-short, so a smoke run never replaces them)")
	jsonPath := fs.String("json", "", "JSON report (default <out>/results.json)")
	mdPath := fs.String("md", "", "Markdown summary (default <out>/results.md)")
	svgPath := fs.String("svg", "", "SVG plot (default <out>/latency.svg)")
	logDir := fs.String("keep-logs", "", "keep the processes' logs and data under this directory")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	render := fs.String("render", "", "measure nothing: print the table of this results.json and write the Markdown and SVG from it again")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	// Start from the defaults of the chosen mode and apply only the flags given.
	c := load.DefaultConfig(*short)
	var errs []error
	fs.Visit(func(f *flag.Flag) {
		var err error
		switch f.Name {
		case "scenarios":
			c.Scenarios = strings.Split(*scenarios, ",")
		case "ingress-rates":
			c.IngressRates, err = parseFloats(*ingressRates)
		case "e2e-rates":
			c.E2ERates, err = parseFloats(*e2eRates)
		case "workers":
			c.Workers, err = parseInts(*workers)
		case "users":
			c.Users = *users
		case "slow-rate":
			c.SlowRate = *slowRate
		case "slow-conversations":
			c.SlowConversations, err = parseInts(*slowConvs)
		case "slow-latency":
			c.SlowLatency = *slowLatency
		case "slow-workers":
			c.SlowWorkers = *slowWorkers
		case "duration":
			c.Duration = *duration
		case "runs":
			c.Runs = *runs
		case "warmup":
			c.Warmup = *warmup
		case "drain-timeout":
			c.DrainTimeout = *drain
		case "partitions":
			c.Partitions = *partitions
		case "worker-env":
			c.WorkerEnv = nil
			if *workerEnv != "" {
				c.WorkerEnv = strings.Split(*workerEnv, ",")
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("-%s: %w", f.Name, err))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelError
	}
	c.Log = slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: level}))
	c.Dir = *logDir

	root, err := stack.RepoRoot()
	if err != nil {
		return err
	}
	for _, p := range []*string{outDir, jsonPath, mdPath, svgPath} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return err
			}
		}
	}
	*outDir = orDefault(*outDir, resultsDir(root, *short))
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	*jsonPath = orDefault(*jsonPath, filepath.Join(*outDir, "results.json"))
	*mdPath = orDefault(*mdPath, filepath.Join(*outDir, "results.md"))
	*svgPath = orDefault(*svgPath, filepath.Join(*outDir, "latency.svg"))

	if *render != "" {
		rep, err := load.ReadJSON(*render)
		if err != nil {
			return err
		}
		rep.Print(out)
		return errors.Join(rep.WriteSVG(*svgPath), rep.WriteMarkdown(*mdPath, relTo(*mdPath, *svgPath)))
	}

	binDir, err := os.MkdirTemp("", "smsconv-loadgen-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)
	c.Log.Info("building the services and nats-server")
	bctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	c.Bins, err = stack.Build(bctx, binDir, false)
	cancel()
	if err != nil {
		return err
	}

	rep, runErr := load.Run(ctx, c)
	if rep == nil {
		return runErr
	}
	rep.Print(out)
	if runErr != nil {
		// A partial run must not replace the published figures.
		fmt.Fprintf(out, "\nrun incomplete: %s, %s and %s left as they were\n", *jsonPath, *mdPath, *svgPath)
		return runErr
	}
	err = errors.Join(rep.WriteJSON(*jsonPath), rep.WriteSVG(*svgPath), rep.WriteMarkdown(*mdPath, relTo(*mdPath, *svgPath)))
	fmt.Fprintf(out, "\nwrote %s, %s, %s\n", *jsonPath, *mdPath, *svgPath)
	return err
}

// resultsDir is where results go without -out: the committed bench/ for a full measurement, the git-ignored
// .run/ for a smoke run.
func resultsDir(root string, short bool) string {
	if short {
		return filepath.Join(root, ".run", "bench-short")
	}
	return filepath.Join(root, "bench")
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// relTo is target's path relative to the directory of file (for the Markdown image link).
func relTo(file, target string) string {
	if rel, err := filepath.Rel(filepath.Dir(file), target); err == nil {
		return filepath.ToSlash(rel)
	}
	return target
}

func floats(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strings.Join(s, ",")
}

func ints(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, fmt.Errorf("%q: want comma-separated numbers", s)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q: want comma-separated integers", s)
		}
		out = append(out, v)
	}
	return out, nil
}
