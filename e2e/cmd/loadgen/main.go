// Command loadgen is the load harness behind `make bench`: it builds the services and nats-server, runs them
// as real processes on this machine and measures them under open-loop load (see package load). It prints a
// table and writes results.json, results.md and latency.svg to bench/ at the repository root (a -short run to
// .run/bench-short/ instead, -out elsewhere).
//
//	go run ./e2e/cmd/loadgen                  # the full measurement (about 20 minutes)
//	go run ./e2e/cmd/loadgen -short           # a smoke run (well under a minute), written to .run/bench-short
//	go run ./e2e/cmd/loadgen -scenarios e2e -workers 2 -e2e-rates 1000 -runs 5
//	go run ./e2e/cmd/loadgen -scenarios closed -runs 5   # beside the naive server: replies/s and CPU per reply
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
	// The flags' defaults are those of the chosen mode: a -short run starts from smaller rates and runs.
	short := wantsShort(args)
	c := load.DefaultConfig(short)
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Bool("short", short, "quick smoke run: a few seconds per scenario at small rates (with -short, -h shows its defaults)")
	fs.Var(strs(&c.Scenarios), "scenarios", "scenarios to run: closed, ingress, e2e, slow (a comma-separated `list`)")
	fs.Var(floats(&c.IngressRates), "ingress-rates", "offered webhooks/s of the ingress-only scenario (a comma-separated `list`)")
	fs.Var(floats(&c.E2ERates), "e2e-rates", "offered messages/s of the end-to-end scenario (a comma-separated `list`)")
	fs.Var(ints(&c.Workers), "workers", "worker counts of the end-to-end scenario (a comma-separated `list`)")
	fs.IntVar(&c.Users, "users", c.Users, "simulated users (one conversation each) in the ingress and end-to-end scenarios")
	fs.Float64Var(&c.SlowRate, "slow-rate", c.SlowRate, "offered messages/s of the slow-provider scenario")
	fs.Var(ints(&c.SlowConversations), "slow-conversations", "conversation counts of the slow-provider scenario (a comma-separated `list`)")
	fs.DurationVar(&c.SlowLatency, "slow-latency", c.SlowLatency, "latency of the fake Telnyx in the slow-provider scenario")
	fs.IntVar(&c.SlowWorkers, "slow-workers", c.SlowWorkers, "workers in the slow-provider scenario")
	fs.IntVar(&c.ClosedClients, "closed-clients", c.ClosedClients, "clients of the closed-loop scenario, each with one webhook outstanding")
	fs.IntVar(&c.ClosedWorkers, "closed-workers", c.ClosedWorkers, "workers of the stack in the closed-loop scenario")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "length of each measured run")
	fs.IntVar(&c.Runs, "runs", c.Runs, "runs per step (the report shows medians)")
	fs.DurationVar(&c.Warmup, "warmup", c.Warmup, "unmeasured load on each new stack before measuring")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", c.DrainTimeout, "longest wait for the workers to finish a run's messages")
	fs.IntVar(&c.Partitions, "partitions", c.Partitions, "conversation stream partitions")
	fs.Var(strs(&c.WorkerEnv), "worker-env", "NAME=value pairs added to every worker's environment (a comma-separated `list`)")
	outDir := fs.String("out", "", "directory for results.json, results.md and latency.svg (default <repo>/bench, "+
		"the published figures; with -short <repo>/.run/bench-short, so a smoke run never replaces them)")
	jsonPath := fs.String("json", "", "JSON report (default <out>/results.json)")
	mdPath := fs.String("md", "", "Markdown summary (default <out>/results.md)")
	svgPath := fs.String("svg", "", "SVG plot (default <out>/latency.svg)")
	logDir := fs.String("keep-logs", "", "keep the processes' logs and data under this directory")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	render := fs.String("render", "", "measure nothing: judge the targets of this results.json again and write its JSON, Markdown and SVG")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
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
	*outDir = orDefault(*outDir, resultsDir(root, short))
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
		rep.Retarget()
		rep.Print(out)
		return errors.Join(rep.WriteJSON(*jsonPath), rep.WriteSVG(*svgPath), rep.WriteMarkdown(*mdPath, relTo(*mdPath, *svgPath)))
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

// wantsShort reports whether args ask for a -short run, before the flags are defined: their defaults
// depend on it. A malformed value is left for the flag parser to report.
func wantsShort(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "short" {
			b, err := strconv.ParseBool(value)
			return !hasValue || (err == nil && b)
		}
	}
	return false
}

// listValue is a flag holding a comma-separated list (-workers 1,2,4), parsed and written element by element.
type listValue[T any] struct {
	v      *[]T
	parse  func(string) (T, error)
	format func(T) string
}

func (l listValue[T]) String() string {
	if l.v == nil {
		return ""
	}
	s := make([]string, len(*l.v))
	for i, x := range *l.v {
		s[i] = l.format(x)
	}
	return strings.Join(s, ",")
}

func (l listValue[T]) Set(s string) error {
	var out []T
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		x, err := l.parse(f)
		if err != nil {
			return fmt.Errorf("%q: %w", f, err)
		}
		out = append(out, x)
	}
	*l.v = out
	return nil
}

func strs(v *[]string) listValue[string] {
	return listValue[string]{v, func(s string) (string, error) { return s, nil }, func(s string) string { return s }}
}

func ints(v *[]int) listValue[int] { return listValue[int]{v, strconv.Atoi, strconv.Itoa} }

func floats(v *[]float64) listValue[float64] {
	return listValue[float64]{v, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) },
		func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }}
}
