package load

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything one harness run measured. Each step holds its runs and their median.
type Report struct {
	Machine         Machine   `json:"machine"`
	StartedAt       time.Time `json:"started_at"`
	FinishedAt      time.Time `json:"finished_at"`
	Short           bool      `json:"short"`
	Runs            int       `json:"runs"`
	DurationSeconds float64   `json:"duration_s"`
	Users           int       `json:"users"`
	Partitions      int       `json:"partitions"`
	WorkerEnv       []string  `json:"worker_env"`
	// VerifyMicros is one ed25519.Verify of a webhook on this machine, measured in the same run.
	VerifyMicros float64       `json:"ed25519_verify_us"`
	Ingress      []IngressStep `json:"ingress,omitempty"`
	EndToEnd     []E2EStep     `json:"end_to_end,omitempty"`
	Slow         []E2EStep     `json:"slow_provider,omitempty"`
	Closed       *ClosedStep   `json:"closed_loop,omitempty"`
	Targets      []Target      `json:"targets"`
}

// IngressStep is one offered rate of the ingress-only scenario.
type IngressStep struct {
	OfferedRPS float64      `json:"offered_per_s"`
	Median     IngressRun   `json:"median"`
	Runs       []IngressRun `json:"runs"`
	// Floor is the median of FloorRuns: the same load, right after each run, against naive.Verifier, which
	// only checks the signature and answers. Its IngressCPUPerAcceptedUS is that server's CPU per webhook.
	Floor     IngressRun   `json:"floor"`
	FloorRuns []IngressRun `json:"floor_runs,omitempty"`
}

// IngressRun is one run of the ingress-only scenario.
type IngressRun struct {
	Sent     int            `json:"sent"`
	Accepted int            `json:"accepted"`
	Errors   int            `json:"errors"`
	Statuses map[string]int `json:"statuses"`
	// AcceptedPerSec counts answers in the steady-state window (the last 80% of the run).
	AcceptedPerSec float64 `json:"accepted_per_s"`
	// Latency is from the time each webhook was due to its 2xx answer.
	Latency Latency `json:"latency"`
	// IngressCPUPerAcceptedUS is the ingress process's CPU time (user + system) per accepted webhook.
	IngressCPUPerAcceptedUS float64 `json:"ingress_cpu_us_per_webhook"`
	// CPUPerMessageUS is every process's CPU per accepted webhook, the generator ("loadgen") included.
	CPUPerMessageUS map[string]float64 `json:"cpu_us_per_webhook"`
	// GeneratorLagP99MS is how late the generator itself sent (p99): large values mean it was starved.
	GeneratorLagP99MS float64 `json:"generator_lag_p99_ms"`
	// OtherCores is the CPU (in cores) that other processes on the machine used during the run.
	OtherCores float64 `json:"other_load_cores"`
}

// E2EStep is one offered rate (and conversation count) of an end-to-end scenario.
type E2EStep struct {
	Workers           int      `json:"workers"`
	Conversations     int      `json:"conversations"`
	ProviderLatencyMS float64  `json:"provider_latency_ms"`
	OfferedRPS        float64  `json:"offered_per_s"`
	Median            E2ERun   `json:"median"`
	Runs              []E2ERun `json:"runs"`
}

// E2ERun is one run of an end-to-end scenario.
type E2ERun struct {
	Sent     int            `json:"sent"`
	Accepted int            `json:"accepted"`
	Errors   int            `json:"errors"`
	Statuses map[string]int `json:"statuses"`
	Replies  int            `json:"replies"`
	// Missing replies were accepted webhooks without a reply when the run ended.
	Missing          int  `json:"missing"`
	DuplicateReplies int  `json:"duplicate_replies"`
	Drained          bool `json:"drained"`
	// RepliesPerSec counts replies stamped in the steady-state window (the last 80% of the sending time).
	RepliesPerSec float64 `json:"replies_per_s"`
	// DrainSeconds is how long after the last scheduled webhook the last reply came.
	DrainSeconds float64 `json:"drain_s"`
	// Latency is from the time each webhook was due to the fake Telnyx accepting its reply.
	Latency        Latency `json:"latency"`
	WebhookLatency Latency `json:"webhook_latency"`
	// WorkerCPUPerMsgUS is the workers' CPU time (all of them) per reply.
	WorkerCPUPerMsgUS float64            `json:"worker_cpu_us_per_message"`
	CPUPerMessageUS   map[string]float64 `json:"cpu_us_per_message"`
	// GeneratorLagP99MS is how late the generator itself sent (p99).
	GeneratorLagP99MS float64 `json:"generator_lag_p99_ms"`
	// OtherCores is the CPU (in cores) that other processes on the machine used during the run.
	OtherCores float64 `json:"other_load_cores"`
	// RedisRoundTripsPerMsg counts requests and pipelines Redis read from its clients, per inbound message.
	RedisRoundTripsPerMsg float64 `json:"redis_round_trips_per_message"`
	// RedisCommandsPerMsg counts every command Redis ran (those inside Lua scripts included) per message;
	// RedisCommands splits it by command.
	RedisCommandsPerMsg float64            `json:"redis_commands_per_message"`
	RedisCommands       map[string]float64 `json:"redis_commands"`
}

// Target is one of the goals of issue 5 with where this run landed. Met is nil when the run did not measure it.
type Target struct {
	Name     string `json:"name"`
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Met      *bool  `json:"met"`
}

func medianIngress(runs []IngressRun) IngressRun {
	return IngressRun{
		Sent:                    medianInt(runs, func(r IngressRun) int { return r.Sent }),
		Accepted:                medianInt(runs, func(r IngressRun) int { return r.Accepted }),
		Errors:                  medianInt(runs, func(r IngressRun) int { return r.Errors }),
		Statuses:                medianCounts(runs, func(r IngressRun) map[string]int { return r.Statuses }),
		AcceptedPerSec:          medianBy(runs, func(r IngressRun) float64 { return r.AcceptedPerSec }),
		Latency:                 medianLatency(runs, func(r IngressRun) Latency { return r.Latency }),
		IngressCPUPerAcceptedUS: medianBy(runs, func(r IngressRun) float64 { return r.IngressCPUPerAcceptedUS }),
		CPUPerMessageUS:         medianMap(runs, func(r IngressRun) map[string]float64 { return r.CPUPerMessageUS }),
		GeneratorLagP99MS:       medianBy(runs, func(r IngressRun) float64 { return r.GeneratorLagP99MS }),
		OtherCores:              medianBy(runs, func(r IngressRun) float64 { return r.OtherCores }),
	}
}

func medianE2E(runs []E2ERun) E2ERun {
	drained := true
	for _, r := range runs {
		drained = drained && r.Drained
	}
	return E2ERun{
		Sent:                  medianInt(runs, func(r E2ERun) int { return r.Sent }),
		Accepted:              medianInt(runs, func(r E2ERun) int { return r.Accepted }),
		Errors:                medianInt(runs, func(r E2ERun) int { return r.Errors }),
		Statuses:              medianCounts(runs, func(r E2ERun) map[string]int { return r.Statuses }),
		Replies:               medianInt(runs, func(r E2ERun) int { return r.Replies }),
		Missing:               medianInt(runs, func(r E2ERun) int { return r.Missing }),
		DuplicateReplies:      medianInt(runs, func(r E2ERun) int { return r.DuplicateReplies }),
		Drained:               drained,
		RepliesPerSec:         medianBy(runs, func(r E2ERun) float64 { return r.RepliesPerSec }),
		DrainSeconds:          medianBy(runs, func(r E2ERun) float64 { return r.DrainSeconds }),
		Latency:               medianLatency(runs, func(r E2ERun) Latency { return r.Latency }),
		WebhookLatency:        medianLatency(runs, func(r E2ERun) Latency { return r.WebhookLatency }),
		WorkerCPUPerMsgUS:     medianBy(runs, func(r E2ERun) float64 { return r.WorkerCPUPerMsgUS }),
		CPUPerMessageUS:       medianMap(runs, func(r E2ERun) map[string]float64 { return r.CPUPerMessageUS }),
		GeneratorLagP99MS:     medianBy(runs, func(r E2ERun) float64 { return r.GeneratorLagP99MS }),
		OtherCores:            medianBy(runs, func(r E2ERun) float64 { return r.OtherCores }),
		RedisRoundTripsPerMsg: medianBy(runs, func(r E2ERun) float64 { return r.RedisRoundTripsPerMsg }),
		RedisCommandsPerMsg:   medianBy(runs, func(r E2ERun) float64 { return r.RedisCommandsPerMsg }),
		RedisCommands:         medianMap(runs, func(r E2ERun) map[string]float64 { return r.RedisCommands }),
	}
}

func medianCounts[T any](runs []T, f func(T) map[string]int) map[string]int {
	m := medianMap(runs, func(r T) map[string]float64 {
		out := map[string]float64{}
		for k, v := range f(r) {
			out[k] = float64(v)
		}
		return out
	})
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = int(v + 0.5)
	}
	return out
}

// systemCPU is the CPU per message of the system's processes, the generator left out.
func systemCPU(m map[string]float64) float64 {
	var sum float64
	for k, v := range m {
		if k != procGenerator {
			sum += v
		}
	}
	return sum
}

// The goals.
const (
	goalCPUFactor   = 1.5
	goalRoundTrips  = 2
	goalP99Rate     = 1000
	goalP99MS       = 25
	goalSlowReplies = 2000
	goalNaiveRatio  = 1.0
	goalCPUPerReply = 400
)

// byProcess lists CPU figures by process name, largest first: "workers 300, ingress 120".
func byProcess(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.0f", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func targets(r *Report) []Target {
	var out []Target
	yes := func(b bool) *bool { return &b }

	if c := r.Closed; c != nil {
		out = append(out, Target{Name: "closed-loop replies/s beside the naive server",
			Goal:     fmt.Sprintf(">= %.1fx", goalNaiveRatio),
			Measured: fmt.Sprintf("%.2fx (%.0f vs %.0f replies/s, %d clients)", c.Ratio, c.SMSConv.RepliesPerSec, c.Naive.RepliesPerSec, c.Clients),
			Met:      yes(c.Ratio >= goalNaiveRatio)})
		if c.Tuned.Replies > 0 {
			// No goal: the tuned toy shares the project's code, so it moves with every gain of the project's.
			out = append(out, Target{Name: "closed-loop replies/s beside the tuned toy (no goal)", Goal: "-",
				Measured: fmt.Sprintf("%.2fx (%.0f vs %.0f replies/s); the tuned toy %.0f µs per reply", c.RatioTuned,
					c.SMSConv.RepliesPerSec, c.Tuned.RepliesPerSec, c.Tuned.SystemCPUPerReplyUS)})
		}
		if f := c.Floor; f.Replies > 0 {
			// No goal: a measured floor under what NATS and Redis cost smsconv, beside the toy's whole cost.
			out = append(out, Target{Name: "closed-loop floor: NATS and Redis alone (no goal)", Goal: "-",
				Measured: fmt.Sprintf("%.0f µs per message (%s), %.2fx the naive server's whole %.0f µs per reply", f.SystemCPUPerReplyUS,
					byProcess(f.CPUPerReplyUS), ratio(f.SystemCPUPerReplyUS, c.Naive.SystemCPUPerReplyUS), c.Naive.SystemCPUPerReplyUS)})
			if t := c.Tuned; t.Replies > 0 {
				// A design with these two servers on a message's path also does everything the toy does (take
				// the webhook, verify, parse, step, send); with net/http and this project's code that costs at
				// least what the tuned toy spends. The sum bounds its CPU per reply from below.
				bound := t.SystemCPUPerReplyUS + f.SystemCPUPerReplyUS
				out = append(out, Target{Name: "closed-loop bound for a design with NATS and Redis on the path (no goal)", Goal: "-",
					Measured: fmt.Sprintf("CPU per reply >= the tuned toy's %.0f + the floor's %.0f = %.0f µs, %.2fx the naive server's; smsconv spends %.0f µs above the bound",
						t.SystemCPUPerReplyUS, f.SystemCPUPerReplyUS, bound, ratio(bound, c.Naive.SystemCPUPerReplyUS), c.SMSConv.SystemCPUPerReplyUS-bound)})
			}
		}
		out = append(out, Target{Name: "closed-loop CPU per reply, all processes",
			Goal:     fmt.Sprintf("<= %d µs", goalCPUPerReply),
			Measured: fmt.Sprintf("%.0f µs (%s); the naive server %.0f µs", c.SMSConv.SystemCPUPerReplyUS, byProcess(c.SMSConv.CPUPerReplyUS), c.Naive.SystemCPUPerReplyUS),
			Met:      yes(c.SMSConv.SystemCPUPerReplyUS <= goalCPUPerReply)})
	}
	if len(r.Ingress) > 0 {
		// The highest offered rate the ingress sustained (95% accepted in the window, no errors); CPU per
		// webhook falls as batching grows, so the lowest rate would flatter nothing and the highest overloaded
		// one would mix in queueing.
		best := r.Ingress[0]
		for _, s := range r.Ingress {
			if s.Median.Errors == 0 && s.Median.AcceptedPerSec >= 0.95*s.OfferedRPS {
				best = s
			}
		}
		cpu := best.Median.IngressCPUPerAcceptedUS
		out = append(out, Target{Name: "ingress CPU per accepted webhook",
			Goal:     fmt.Sprintf("<= %.1f x ed25519.Verify (%.1f µs here: <= %.1f µs)", goalCPUFactor, r.VerifyMicros, goalCPUFactor*r.VerifyMicros),
			Measured: fmt.Sprintf("%.1f µs = %.2f x Verify, at %.0f webhooks/s offered", cpu, cpu/r.VerifyMicros, best.OfferedRPS),
			Met:      yes(cpu <= goalCPUFactor*r.VerifyMicros)})
		if f := best.Floor.IngressCPUPerAcceptedUS; f > 0 {
			// No goal: what any verifying HTTP ingress spends per webhook here, measured at the same rate.
			out = append(out, Target{Name: "ingress floor: the HTTP exchange and the signature check alone (no goal)", Goal: "-",
				Measured: fmt.Sprintf("%.1f µs = %.2f x Verify, at %.0f webhooks/s offered; the ingress spends %.1f µs more", f,
					f/r.VerifyMicros, best.OfferedRPS, cpu-f)})
		}
	}
	if len(r.EndToEnd) > 0 {
		var rts, cmds []float64
		for _, s := range r.EndToEnd {
			rts = append(rts, s.Median.RedisRoundTripsPerMsg)
			cmds = append(cmds, s.Median.RedisCommandsPerMsg)
		}
		rt := median(rts)
		out = append(out, Target{Name: "Redis round trips per inbound message (worker)",
			Goal:     fmt.Sprintf("<= %d", goalRoundTrips),
			Measured: fmt.Sprintf("%.2f round trips, %.1f commands (Lua-internal included); median over %d end-to-end steps", rt, median(cmds), len(rts)),
			Met:      yes(rt <= goalRoundTrips+0.05)})
		found := false
		for _, s := range r.EndToEnd {
			if s.OfferedRPS != goalP99Rate {
				continue
			}
			found = true
			m := s.Median
			out = append(out, Target{Name: fmt.Sprintf("end-to-end p99 at %d msg/s, %d worker(s)", goalP99Rate, s.Workers),
				Goal:     fmt.Sprintf("< %d ms (fake Telnyx without latency)", goalP99MS),
				Measured: fmt.Sprintf("p99 %.1f ms (p50 %.1f ms), %.0f replies/s, %d missing", m.Latency.P99, m.Latency.P50, m.RepliesPerSec, m.Missing),
				Met:      yes(m.Latency.P99 < goalP99MS && m.Missing == 0)})
		}
		if !found {
			out = append(out, Target{Name: fmt.Sprintf("end-to-end p99 at %d msg/s", goalP99Rate), Goal: fmt.Sprintf("< %d ms", goalP99MS),
				Measured: fmt.Sprintf("not measured: no end-to-end step offered %d/s", goalP99Rate)})
		}
	}
	if len(r.Slow) > 0 {
		best := r.Slow[0]
		for _, s := range r.Slow {
			if s.Median.RepliesPerSec > best.Median.RepliesPerSec {
				best = s
			}
		}
		t := Target{Name: fmt.Sprintf("replies/s with a %.0f ms fake Telnyx", best.ProviderLatencyMS),
			Goal: fmt.Sprintf(">= %d sustained", goalSlowReplies),
			Measured: fmt.Sprintf("%.0f replies/s with %d conversations, %d workers, %.0f/s offered", best.Median.RepliesPerSec,
				best.Conversations, best.Workers, best.OfferedRPS)}
		if best.OfferedRPS >= goalSlowReplies {
			t.Met = yes(best.Median.RepliesPerSec >= goalSlowReplies)
		} else {
			t.Measured += " (offered below the goal: not a test of it)"
		}
		out = append(out, t)
	}
	return out
}

// Print writes the report as plain-text tables.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "\nMachine: %s (load average at start: %s, at end: %s)\n", r.Machine, r.Machine.LoadAvg, r.Machine.LoadAvgEnd)
	fmt.Fprintf(w, "Runs: median of %d run(s) of %s per step; %d users; %d partitions; worker env %v; one ed25519.Verify = %.1f µs (measured now)\n",
		r.Runs, time.Duration(r.DurationSeconds*float64(time.Second)), r.Users, r.Partitions, r.WorkerEnv, r.VerifyMicros)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if c := r.Closed; c != nil {
		fmt.Fprintf(w, "\nClosed loop: %d clients, each a new user's signed \"hello\" -> reply at a zero-latency fake Telnyx, then the next; smsconv with %d workers\n", c.Clients, c.Workers)
		fmt.Fprintln(tw, "system\treplies/s\tp50 ms\tp99 ms\terrors\tCPU µs/reply\tby process (µs/reply)\t")
		for _, m := range append(c.medians(), c.Runs...) {
			fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%d\t%.0f\t%s\t\n", m.System, m.RepliesPerSec, m.Latency.P50, m.Latency.P99,
				m.Errors, m.SystemCPUPerReplyUS, byProcess(m.CPUPerReplyUS))
		}
		tw.Flush()
		fmt.Fprintf(w, "(first %d rows: medians of %d runs each; then every run in order)\nsmsconv / naive replies/s: %.2fx, smsconv / tuned: %.2fx (medians over the runs)\n",
			len(c.medians()), len(c.Runs)/len(c.medians()), c.Ratio, c.RatioTuned)
	}
	if len(r.Ingress) > 0 {
		fmt.Fprintln(w, "\nIngress only: signed webhook -> 2xx after the JetStream ack (no workers)")
		fmt.Fprintln(tw, "offered/s\taccepted/s\tp50 ms\tp99 ms\tp99.9 ms\terrors\tingress CPU µs/webhook\tx Verify\tfloor µs/webhook\tfloor x Verify\tall CPU µs/webhook\tloadgen µs\tloadgen lag p99 ms\tother load cores\t")
		for _, s := range r.Ingress {
			m, f := s.Median, s.Floor.IngressCPUPerAcceptedUS
			fmt.Fprintf(tw, "%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t%d\t%.1f\t%.2f\t%.1f\t%.2f\t%.1f\t%.1f\t%.2f\t%.2f\t\n", s.OfferedRPS, m.AcceptedPerSec,
				m.Latency.P50, m.Latency.P99, m.Latency.P999, m.Errors, m.IngressCPUPerAcceptedUS,
				ratio(m.IngressCPUPerAcceptedUS, r.VerifyMicros), f, ratio(f, r.VerifyMicros), systemCPU(m.CPUPerMessageUS),
				m.CPUPerMessageUS[procGenerator], m.GeneratorLagP99MS, m.OtherCores)
		}
		tw.Flush()
		fmt.Fprintln(w, "(floor: the same load, after each run, to a server that only checks the signature and answers: naive.Verifier)")
	}
	if len(r.EndToEnd) > 0 {
		fmt.Fprintf(w, "\nEnd to end: webhook -> reply accepted by the fake Telnyx (no latency), %d conversations\n", r.EndToEnd[0].Conversations)
		r.printE2E(tw, r.EndToEnd)
	}
	if len(r.Slow) > 0 {
		fmt.Fprintf(w, "\nSlow provider: the fake Telnyx answers after %.0f ms, %d worker(s)\n", r.Slow[0].ProviderLatencyMS, r.Slow[0].Workers)
		r.printE2E(tw, r.Slow)
	}
	if len(r.Targets) > 0 {
		fmt.Fprintln(w, "\nTargets (reported, not asserted)")
		for _, t := range r.Targets {
			fmt.Fprintf(w, "  [%s] %s: goal %s; measured %s\n", verdict(t.Met), t.Name, t.Goal, t.Measured)
		}
	}
}

func (r *Report) printE2E(tw *tabwriter.Writer, steps []E2EStep) {
	fmt.Fprintln(tw, "workers\tconvs\toffered/s\treplies/s\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmissing\terrors\tworker CPU µs/msg\tall CPU µs/msg\tRedis RT/msg\tRedis cmds/msg\tother load cores\t")
	for _, s := range steps {
		m := s.Median
		fmt.Fprintf(tw, "%d\t%d\t%.0f\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d\t%.1f\t%.1f\t%.2f\t%.1f\t%.2f\t\n", s.Workers, s.Conversations,
			s.OfferedRPS, m.RepliesPerSec, m.Latency.P50, m.Latency.P90, m.Latency.P99, m.Latency.P999, m.Missing, m.Errors,
			m.WorkerCPUPerMsgUS, systemCPU(m.CPUPerMessageUS), m.RedisRoundTripsPerMsg, m.RedisCommandsPerMsg, m.OtherCores)
	}
	tw.Flush()
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func verdict(met *bool) string {
	switch {
	case met == nil:
		return "n/a "
	case *met:
		return "met "
	default:
		return "MISS"
	}
}

// Retarget judges the report's targets again from its measurements, by this harness's rules: a report
// written by an older harness gains the targets added since.
func (r *Report) Retarget() { r.Targets = targets(r) }

// ReadJSON reads a report written by WriteJSON, to render it again.
func ReadJSON(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read report %s: %w", path, err)
	}
	return &r, nil
}

// WriteJSON writes the report to path (creating its directory).
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return writeFile(path, append(b, '\n'))
}

// WriteMarkdown writes a summary for the README: the machine, the tables of medians, the targets and the
// plot (svgName, relative to the Markdown file).
func (r *Report) WriteMarkdown(path, svgName string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark results\n\nMeasured %s on %s.\nAll processes (NATS, Redis with `appendfsync always`, the fake Telnyx, the ingress, the workers and the load generator) ran on this one machine. Load average at start %s, at end %s: it counts the benchmark's own processes too; the other-load columns are the CPU that processes outside the benchmark took during each run.\n",
		r.StartedAt.Format("2006-01-02 15:04 MST"), r.Machine, r.Machine.LoadAvg, r.Machine.LoadAvgEnd)
	fmt.Fprintf(&b, "Open-loop load from %d simulated users, webhooks signed ahead of time; latency from the time each webhook was due. Medians of %d run(s) of %s per step. One `ed25519.Verify` = %.1f µs.\n",
		r.Users, r.Runs, time.Duration(r.DurationSeconds*float64(time.Second)), r.VerifyMicros)
	fmt.Fprintf(&b, "%d stream partitions; worker environment %v.\n", r.Partitions, r.WorkerEnv)
	b.WriteString("Latencies include the generator's own lateness (Go's timers fire up to about 1 ms late here; `generator_lag_p99_ms` in results.json). CPU figures come from /proc (10 ms resolution) and include each process's background work, so they are high at low rates.\n")
	if r.Short {
		b.WriteString("\n**Short mode**: a smoke run with small rates, not a measurement.\n")
	}
	if svgName != "" {
		fmt.Fprintf(&b, "\n![latency percentiles vs offered rate](%s)\n", svgName)
	}
	if len(r.Targets) > 0 {
		b.WriteString("\n## Targets\n\n| | goal | measured |\n|---|---|---|\n")
		for _, t := range r.Targets {
			fmt.Fprintf(&b, "| %s: %s | %s | %s |\n", strings.TrimSpace(verdict(t.Met)), t.Name, t.Goal, t.Measured)
		}
	}
	if c := r.Closed; c != nil {
		fmt.Fprintf(&b, "\n## Closed loop, beside a naive server\n\n%d clients; each sends a new user's signed \"hello\" and waits for the reply at a zero-latency fake Telnyx (in the load tool) before the next. The reference servers (`e2e/internal/naive`) verify, step the dialog in a map and send inline: no queue, no durability. `naive` is written with the standard library only (crypto/ed25519, encoding/json, net/http's default transport); `tuned` is the same server on this project's verifier, decoder and Telnyx client. `floor` is a NATS and a Redis of its own, started as the stack's are, driven from the load tool with nothing else on a message's path: one publish with its deduplication id and acknowledgement, one delivery, the commit and the ack per message; only the two servers' CPU counts. smsconv runs NATS, Redis, the ingress and %d workers. Medians of %d runs each, run in turn; a ratio is the median over the runs.\n\n", c.Clients, c.Workers, len(c.Runs)/len(c.medians()))
		b.WriteString("| system | replies/s | p50 ms | p99 ms | CPU µs/reply, all processes | by process |\n|---|---:|---:|---:|---:|---|\n")
		for _, m := range c.medians() {
			fmt.Fprintf(&b, "| %s | %.0f | %.2f | %.2f | %.0f | %s |\n", m.System, m.RepliesPerSec, m.Latency.P50, m.Latency.P99,
				m.SystemCPUPerReplyUS, byProcess(m.CPUPerReplyUS))
		}
		fmt.Fprintf(&b, "\nsmsconv / naive: **%.2fx** the replies per second, %.2fx the CPU per reply.\n", c.Ratio,
			ratio(c.SMSConv.SystemCPUPerReplyUS, c.Naive.SystemCPUPerReplyUS))
		if c.Tuned.Replies > 0 {
			fmt.Fprintf(&b, "smsconv / tuned: %.2fx the replies per second, %.2fx the CPU per reply.\n", c.RatioTuned,
				ratio(c.SMSConv.SystemCPUPerReplyUS, c.Tuned.SystemCPUPerReplyUS))
		}
	}
	if len(r.Ingress) > 0 {
		b.WriteString("\n## Ingress only\n\nSigned webhook -> 2xx after the JetStream acknowledgement, no workers. The floor is the same load, right after each run, to `naive.Verifier`: a standard-library HTTP server that reads the body, checks the signature with this project's verifier and answers, nothing else. Any ingress that verifies spends at least that per webhook.\n\n")
		b.WriteString("| offered/s | accepted/s | p50 ms | p99 ms | p99.9 ms | errors | ingress CPU µs/webhook | x Verify | floor µs/webhook | floor x Verify | all processes CPU µs/webhook | other load (cores) |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, s := range r.Ingress {
			m, f := s.Median, s.Floor.IngressCPUPerAcceptedUS
			fmt.Fprintf(&b, "| %.0f | %.0f | %.2f | %.2f | %.2f | %d | %.1f | %.2f | %s | %s | %.1f | %.2f |\n", s.OfferedRPS, m.AcceptedPerSec,
				m.Latency.P50, m.Latency.P99, m.Latency.P999, m.Errors, m.IngressCPUPerAcceptedUS,
				ratio(m.IngressCPUPerAcceptedUS, r.VerifyMicros), orDash(f, "%.1f"), orDash(ratio(f, r.VerifyMicros), "%.2f"),
				systemCPU(m.CPUPerMessageUS), m.OtherCores)
		}
	}
	for _, part := range []struct {
		title string
		steps []E2EStep
	}{{"End to end", r.EndToEnd}, {"Slow provider", r.Slow}} {
		if len(part.steps) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n\nWebhook -> reply accepted by the fake Telnyx (answering after %.0f ms).\n\n", part.title, part.steps[0].ProviderLatencyMS)
		b.WriteString("| workers | conversations | offered/s | replies/s | p50 ms | p99 ms | p99.9 ms | missing | worker CPU µs/msg | all CPU µs/msg | Redis round trips/msg | Redis commands/msg | other load (cores) |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, s := range part.steps {
			m := s.Median
			fmt.Fprintf(&b, "| %d | %d | %.0f | %.0f | %.1f | %.1f | %.1f | %d | %.1f | %.1f | %.2f | %.1f | %.2f |\n", s.Workers, s.Conversations,
				s.OfferedRPS, m.RepliesPerSec, m.Latency.P50, m.Latency.P99, m.Latency.P999, m.Missing, m.WorkerCPUPerMsgUS,
				systemCPU(m.CPUPerMessageUS), m.RedisRoundTripsPerMsg, m.RedisCommandsPerMsg, m.OtherCores)
		}
	}
	b.WriteString(r.cpuTable())
	if cmds := r.redisBreakdown(); cmds != "" {
		fmt.Fprintf(&b, "\nRedis commands per inbound message (first end-to-end step, Lua-internal commands included): %s.\n", cmds)
	}
	b.WriteString("\nRegenerate with `make bench` (flags: `make bench ARGS='-h'`); the raw figures of every run are in results.json.\n")
	return writeFile(path, []byte(b.String()))
}

// cpuTable splits the CPU per message by process for every step, to show where the time goes.
func (r *Report) cpuTable() string {
	procs := []string{procIngress, procWorkers, procNATS, procRedis, procSandbox, procGenerator}
	var b strings.Builder
	row := func(what string, m map[string]float64) {
		fmt.Fprintf(&b, "| %s |", what)
		for _, p := range procs {
			fmt.Fprintf(&b, " %.0f |", m[p])
		}
		b.WriteString("\n")
	}
	b.WriteString("\n## CPU per message by process (µs)\n\n| step |")
	for _, p := range procs {
		fmt.Fprintf(&b, " %s |", p)
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(procs)) + "\n")
	for _, s := range r.Ingress {
		row(fmt.Sprintf("ingress only, %.0f/s", s.OfferedRPS), s.Median.CPUPerMessageUS)
	}
	for _, s := range r.EndToEnd {
		row(fmt.Sprintf("end to end, %d worker(s), %.0f/s", s.Workers, s.OfferedRPS), s.Median.CPUPerMessageUS)
	}
	for _, s := range r.Slow {
		row(fmt.Sprintf("slow Telnyx, %d conversations, %.0f/s", s.Conversations, s.OfferedRPS), s.Median.CPUPerMessageUS)
	}
	return b.String()
}

func (r *Report) redisBreakdown() string {
	if len(r.EndToEnd) == 0 {
		return ""
	}
	m := r.EndToEnd[0].Median.RedisCommands
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			if m[a] > m[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("`%s` %.2f", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// orDash formats v, or "-" when it was not measured (a report of an older harness).
func orDash(v float64, format string) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}
