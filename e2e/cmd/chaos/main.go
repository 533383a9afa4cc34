// Command chaos runs the fault-injection suite (`make chaos`): it builds the services and nats-server, runs
// them as real processes with several workers, drives hundreds of conversations while killing workers,
// restarting Redis and NATS and making the fake Telnyx fail, then prints what the phones received against
// what they should have. It exits 1 when a guarantee was broken (missing, duplicated or reordered replies,
// unexpected dead letters, crashed processes, data races).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/chaos"
	"github.com/smsconv/smsconv/e2e/internal/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case errors.Is(err, chaos.ErrViolation):
		os.Exit(1) // the report, already printed, lists the violations
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0) // -h: the usage is printed
	case err != nil:
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := profile(args)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.String("profile", "default", "default (one NATS server, one Redis) or cluster (3-server NATS at R3, Redis Cluster); the other flags apply on top")
	fs.IntVar(&o.Conversations, "conversations", o.Conversations, "users texting at once")
	fs.IntVar(&o.MessagesPerConversation, "messages", o.MessagesPerConversation, "texts per conversation, sent as a burst")
	fs.BoolVar(&o.Status, "status", o.Status, "end each conversation with 'status' (its reply states the message count)")
	fs.IntVar(&o.Workers, "workers", o.Workers, "worker processes")
	fs.IntVar(&o.Partitions, "partitions", o.Partitions, "conversation stream partitions")
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "conversations sent at the same moment")
	fs.DurationVar(&o.Gap, "gap", o.Gap, "mean pause between two texts of one user (0: each conversation is one burst)")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "time over which conversations start and faults are injected")
	fs.DurationVar(&o.KillEvery, "kill-every", o.KillEvery, "SIGKILL a random worker this often (0: never)")
	fs.BoolVar(&o.GracefulStop, "graceful-stop", o.GracefulStop, "stop one worker with SIGTERM once")
	fs.BoolVar(&o.RestartRedis, "restart-redis", o.RestartRedis, "SIGKILL and restart redis-server once")
	fs.BoolVar(&o.RestartNATS, "restart-nats", o.RestartNATS, "SIGKILL and restart nats-server once")
	fs.DurationVar(&o.Downtime, "downtime", o.Downtime, "how long Redis and NATS stay down")
	fs.Float64Var(&o.FailureRate, "failure-rate", o.FailureRate, "share of sends the fake Telnyx answers with 500")
	fs.DurationVar(&o.Latency, "latency", o.Latency, "latency of the fake Telnyx")
	fs.DurationVar(&o.RateLimitEvery, "rate-limit-every", o.RateLimitEvery, "answer a burst of sends with 429 this often (0: never)")
	fs.IntVar(&o.RateLimitBurst, "rate-limit-burst", o.RateLimitBurst, "sends per 429 burst")
	fs.DurationVar(&o.LostAnswerEvery, "lost-answer-every", o.LostAnswerEvery, "send a burst but answer 500 this often (0: never)")
	fs.IntVar(&o.LostAnswerBurst, "lost-answer-burst", o.LostAnswerBurst, "sends per lost-answer burst")
	fs.IntVar(&o.PermanentFailures, "permanent-failures", o.PermanentFailures, "sends failing permanently once (dead-lettered, then replayed)")
	fs.Float64Var(&o.DuplicateRate, "duplicate-rate", o.DuplicateRate, "share of webhooks delivered twice")
	fs.DurationVar(&o.AckWait, "ack-wait", o.AckWait, "the workers' WORKER_ACK_WAIT")
	fs.DurationVar(&o.DrainTimeout, "drain-timeout", o.DrainTimeout, "how long to wait for the last replies")
	fs.DurationVar(&o.Settle, "settle", o.Settle, "pause after the last reply to catch late duplicates")
	fs.Int64Var(&o.Seed, "seed", o.Seed, "seed of the run's random choices")
	race := fs.Bool("race", false, "build the services with the race detector")
	jsonOut := fs.String("json", "", "also write the report as JSON to this file")
	keep := fs.Bool("keep", false, "keep the logs and data directory even when the run passes")
	if err := fs.Parse(args); err != nil {
		return err
	}

	binDir, err := os.MkdirTemp("", "smsconv-chaos-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)
	fmt.Fprintf(out, "building services and nats-server (race=%v)...\n", *race)
	buildCtx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	bins, err := stack.Build(buildCtx, binDir, *race)
	cancel()
	if err != nil {
		return err
	}

	report, runErr := chaos.Run(ctx, bins, o, out)
	if *jsonOut != "" && report.Conversations > 0 {
		b, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	if runErr == nil && !*keep && report.LogDir != "" {
		_ = os.RemoveAll(report.LogDir)
	} else if report.LogDir != "" {
		fmt.Fprintln(out, "logs and data kept in", report.LogDir)
	}
	return runErr
}

// profile picks the options the other flags start from: -profile must be read before them, since they
// override its values.
func profile(args []string) (chaos.Options, error) {
	name := "default"
	for i, a := range args {
		switch {
		case a == "-profile" || a == "--profile":
			if i+1 < len(args) {
				name = args[i+1]
			}
		case strings.HasPrefix(a, "-profile=") || strings.HasPrefix(a, "--profile="):
			name = a[strings.Index(a, "=")+1:]
		}
	}
	switch name {
	case "default":
		return chaos.DefaultOptions(), nil
	case "cluster":
		return chaos.ClusterOptions(), nil
	}
	return chaos.Options{}, fmt.Errorf("-profile %q: want default or cluster", name)
}
