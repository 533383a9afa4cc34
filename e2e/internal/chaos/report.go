package chaos

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/stack"
)

// Report is the outcome of a run: what was sent, what the phones received, what went wrong.
type Report struct {
	Options Options `json:"options"`

	Conversations   int `json:"conversations"`
	InboundPlanned  int `json:"inbound_planned"`
	InboundAccepted int `json:"inbound_accepted"`
	// Webhook answers seen by the driver (acting as Telnyx).
	WebhookPosts       int    `json:"webhook_posts"`
	Webhook503         int    `json:"webhook_503"`
	WebhookUnanswered  int    `json:"webhook_unanswered"`
	WebhookRejected    int    `json:"webhook_rejected"`
	LastRejection      string `json:"last_rejection,omitempty"`
	DuplicatesPosted   int    `json:"duplicates_posted"`
	DuplicatesAtIngest int    `json:"duplicates_deduplicated_at_ingress"`

	Findings
	// MissingDeadLettered counts missing replies whose message is in the dead-letter stream.
	MissingDeadLettered int `json:"missing_dead_lettered"`
	StateMismatches     int `json:"state_mismatches"`

	// DeadLetters counts dead letters seen before any replay, by "class: reason".
	DeadLetters           int            `json:"dead_letters"`
	DeadLetterReasons     map[string]int `json:"dead_letter_reasons,omitempty"`
	UnexpectedDeadLetters int            `json:"unexpected_dead_letters"`
	Replayed              int            `json:"replayed"`
	DeadLettersLeft       int            `json:"dead_letters_left"`

	// UnknownOutcome counts the replies whose send went through the unknown-outcome window (the request
	// left, its answer was lost: a killed worker, a lost-answer fault), as the reply records say; each was
	// resent with its Idempotency-Key (REPLY_UNKNOWN_OUTCOME=resend), so Duplicates says whether the key held.
	UnknownOutcome int `json:"unknown_outcome_replies"`

	Faults FaultCounts `json:"faults"`
	// FaultProblems are faults whose recovery failed (a worker that did not come back, a 2xx with NATS down).
	FaultProblems []string `json:"fault_problems,omitempty"`

	DataRaces        int      `json:"data_races"`
	UnexpectedExits  []string `json:"unexpected_exits,omitempty"`
	UncleanShutdowns []string `json:"unclean_shutdowns,omitempty"`

	// ReplyLatency is the time from the ingress accepting a message to the phone receiving its reply, over
	// the replies received once (replayed dead letters excluded).
	ReplyLatency Latency `json:"reply_latency"`

	WallSeconds  float64 `json:"wall_seconds"`
	DriveSeconds float64 `json:"drive_seconds"`
	// DrainSeconds is the wait after the traffic for the last replies.
	DrainSeconds float64 `json:"drain_seconds"`
	LogDir       string  `json:"log_dir"`

	Violations []string `json:"violations"`
}

// violations lists every broken guarantee.
func (r *Report) violations() []string {
	var v []string
	add := func(bad bool, format string, args ...any) {
		if bad {
			v = append(v, fmt.Sprintf(format, args...))
		}
	}
	add(r.InboundAccepted < r.InboundPlanned, "%d of %d inbound messages were never accepted by the ingress", r.InboundPlanned-r.InboundAccepted, r.InboundPlanned)
	add(r.WebhookRejected > 0, "%d webhooks rejected (last: %s)", r.WebhookRejected, r.LastRejection)
	add(r.Missing > 0, "%d replies missing (%d of them dead-lettered)", r.Missing, r.MissingDeadLettered)
	add(r.Duplicates > 0, "%d duplicate replies", r.Duplicates)
	add(r.OutOfOrder > 0, "%d replies out of order in %d conversations", r.OutOfOrder, r.ConversationsOutOfOrder)
	add(r.WrongText > 0, "%d replies with the wrong text", r.WrongText)
	add(r.Unexpected > 0, "%d unexpected messages to the users", r.Unexpected)
	add(r.StateMismatches > 0, "%d conversations with a wrong message count in Redis", r.StateMismatches)
	add(r.UnexpectedDeadLetters > 0, "%d unexpected dead letters", r.UnexpectedDeadLetters)
	add(r.DeadLettersLeft > 0, "%d dead letters left after replay", r.DeadLettersLeft)
	add(r.DataRaces > 0, "%d data races reported in the process logs", r.DataRaces)
	for _, e := range r.UnexpectedExits {
		v = append(v, "exited by itself: "+e)
	}
	for _, e := range r.UncleanShutdowns {
		v = append(v, "unclean shutdown: "+e)
	}
	for _, p := range r.FaultProblems {
		v = append(v, "fault: "+p)
	}
	return v
}

// Print writes the report as a table.
func (r *Report) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name string, value any, ok ...bool) {
		mark := ""
		if len(ok) > 0 {
			mark = "ok"
			if !ok[0] {
				mark = "VIOLATION"
			}
		}
		fmt.Fprintf(tw, "  %s\t%v\t%s\n", name, value, mark)
	}
	o := r.Options
	fmt.Fprintf(tw, "chaos run: %d conversations x %d messages%s, %d workers, %d partitions, seed %d\n",
		o.Conversations, o.MessagesPerConversation, map[bool]string{true: " + status", false: ""}[o.Status], o.Workers, o.Partitions, o.Seed)
	row("inbound planned", r.InboundPlanned)
	row("inbound accepted", r.InboundAccepted, r.InboundAccepted == r.InboundPlanned)
	row("webhook posts (all)", r.WebhookPosts)
	row("webhook 503 (retried)", r.Webhook503)
	row("webhook unanswered (retried)", r.WebhookUnanswered)
	row("webhook rejected", r.WebhookRejected, r.WebhookRejected == 0)
	row("duplicate webhooks posted", r.DuplicatesPosted)
	row("  deduplicated at ingress", r.DuplicatesAtIngest)
	row("replies expected", r.RepliesExpected)
	row("replies received", r.RepliesReceived)
	row("messages delivered (all)", r.Delivered)
	row("missing replies", r.Missing, r.Missing == 0)
	row("duplicate replies", r.Duplicates, r.Duplicates == 0)
	row("out-of-order replies", r.OutOfOrder, r.OutOfOrder == 0)
	row("wrong reply text", r.WrongText, r.WrongText == 0)
	row("unexpected messages", r.Unexpected, r.Unexpected == 0)
	row("wrong message counts (Redis)", r.StateMismatches, r.StateMismatches == 0)
	row("replies through the unknown-outcome window", r.UnknownOutcome)
	row("dead letters", r.DeadLetters)
	row("unexpected dead letters", r.UnexpectedDeadLetters, r.UnexpectedDeadLetters == 0)
	row("dead letters replayed", r.Replayed)
	row("dead letters left", r.DeadLettersLeft, r.DeadLettersLeft == 0)
	f := r.Faults
	row("worker kills (SIGKILL)", f.WorkerKills)
	row("worker (re)starts", f.WorkerRestarts)
	row("graceful stops (SIGTERM)", f.GracefulStops)
	row("redis restarts", f.RedisRestarts)
	row("nats restarts", f.NATSRestarts)
	row("  ingress 503 while NATS down", f.NATSDown503)
	row("sandbox 500 rate", o.FailureRate)
	row("sandbox 429 bursts", f.RateLimitBursts)
	row("sandbox lost-answer bursts", f.LostAnswerBursts)
	row("sandbox permanent failures", f.PermanentFailures)
	row("data races", r.DataRaces, r.DataRaces == 0)
	row("unexpected exits", len(r.UnexpectedExits), len(r.UnexpectedExits) == 0)
	row("unclean shutdowns", len(r.UncleanShutdowns), len(r.UncleanShutdowns) == 0)
	row("reply latency p50 / p99 / max", r.ReplyLatency)
	row("wall time", fmt.Sprintf("%.1fs (traffic %.1fs, drain %.1fs)", r.WallSeconds, r.DriveSeconds, r.DrainSeconds))
	row("logs", r.LogDir)
	_ = tw.Flush()
	for _, k := range sortedKeys(r.DeadLetterReasons) {
		fmt.Fprintf(w, "  dead letter reason: %s (x%d)\n", k, r.DeadLetterReasons[k])
	}
	for _, e := range r.Examples {
		fmt.Fprintln(w, "  example:", e)
	}
	if len(r.Violations) == 0 {
		fmt.Fprintln(w, "PASS: no violations")
		return
	}
	fmt.Fprintf(w, "FAIL: %d violations\n", len(r.Violations))
	for _, v := range r.Violations {
		fmt.Fprintln(w, "  -", v)
	}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// shorten keeps reasons readable in a table (Telnyx error details can be long).
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Latency summarises reply delays in milliseconds.
type Latency struct {
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func (l Latency) String() string {
	return fmt.Sprintf("%.0fms / %.0fms / %.0fms", l.P50Ms, l.P99Ms, l.MaxMs)
}

// replyLatency measures, for each owed reply received, the delay since its message was accepted.
func replyLatency(convs []Conversation, acceptedAt map[string]time.Time, delivered []stack.Delivered, exempt map[string]bool) Latency {
	sent := map[string]time.Time{}
	for _, d := range delivered {
		if _, ok := sent[d.IdempotencyKey]; !ok {
			sent[d.IdempotencyKey] = d.At
		}
	}
	var ms []float64
	for _, c := range convs {
		for _, m := range c.Messages {
			at, ok := acceptedAt[m.MsgID]
			got, received := sent[m.ReplyKey]
			if ok && received && !exempt[m.MsgID] {
				ms = append(ms, float64(got.Sub(at))/float64(time.Millisecond))
			}
		}
	}
	if len(ms) == 0 {
		return Latency{}
	}
	sort.Float64s(ms)
	q := func(p float64) float64 { return ms[min(len(ms)-1, int(p*float64(len(ms))))] }
	return Latency{P50Ms: q(0.5), P99Ms: q(0.99), MaxMs: ms[len(ms)-1]}
}
