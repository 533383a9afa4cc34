// Package chaos is the fault-injection suite: it runs the whole system as real processes (nats-server,
// redis-server, the sandbox as Telnyx, the ingress and several workers), drives hundreds of conversations
// whose correct replies are known, and meanwhile kills and restarts workers, Redis and NATS and makes the
// fake Telnyx fail. At the end it compares what the phones received with what they should have received and
// reports missing, duplicated and reordered replies, dead letters and crashed processes.
package chaos

import (
	"errors"
	"fmt"
	"time"
)

// Options shape one run. DefaultOptions is the long run for humans; tests pass smaller ones.
type Options struct {
	// Conversations is the number of users texting at once (at most MaxConversations).
	Conversations int
	// MessagesPerConversation is how many "m<i>" texts each user sends in a burst; a closing "status" text,
	// whose reply states the message count, is added when Status is true.
	MessagesPerConversation int
	Status                  bool
	// Workers is the number of worker processes at the start.
	Workers int
	// Partitions of the conversation stream.
	Partitions int
	// Concurrency bounds the conversations being sent at the same moment.
	Concurrency int
	// Gap is the mean pause between two texts of one user (each pause is random in [0, 2*Gap)): with a Gap
	// shorter than a send takes, each conversation keeps a backlog while it is being sent, so a fault at any
	// moment catches conversations with messages queued behind one in flight. 0 sends each burst at once.
	Gap time.Duration
	// Duration is the time over which the conversations start (evenly spread) and faults are injected.
	Duration time.Duration
	// KillEvery SIGKILLs a random worker this often during Duration (0: never) and restarts it.
	KillEvery time.Duration
	// GracefulStop stops one worker with SIGTERM once, and starts it again a little later.
	GracefulStop bool
	// RestartRedis and RestartNATS SIGKILL that server once during the run and start it again after Downtime.
	RestartRedis, RestartNATS bool
	Downtime                  time.Duration
	// FailureRate is the share of sends the fake Telnyx answers with 500; Latency delays each of its answers.
	FailureRate float64
	Latency     time.Duration
	// RateLimitEvery makes the next RateLimitBurst sends fail with 429 (code 10011) this often (0: never).
	RateLimitEvery time.Duration
	RateLimitBurst int
	// LostAnswerEvery makes the next LostAnswerBurst sends succeed at Telnyx but answer 500 this often, as when
	// the response is lost: the retry must carry the same Idempotency-Key and not text twice.
	LostAnswerEvery time.Duration
	LostAnswerBurst int
	// PermanentFailures makes that many sends fail permanently (422, code 40310) once, half-way: those
	// messages must be dead-lettered, and the suite replays them and expects their replies. 0 in the default
	// run, where every injected fault is transient and any dead letter is a violation.
	PermanentFailures int
	// DuplicateRate is the share of webhooks delivered again, as Telnyx retries do: half re-post the same
	// event (deduplicated by the ingress), half re-send the message under a new event id a little later
	// (deduplicated in Redis).
	DuplicateRate float64
	// AckWait of the workers' consumers: short, so a killed worker's messages come back quickly.
	AckWait time.Duration
	// DrainTimeout bounds the wait for the last replies after Duration.
	DrainTimeout time.Duration
	// Settle is the pause after the last expected reply, so late duplicates would still be seen.
	Settle time.Duration
	// Seed makes the run's choices (which worker dies, which webhooks are duplicated) repeatable.
	Seed int64
	// Dir holds the processes' logs and data; a temporary directory when empty.
	Dir string
	// Cluster runs the cluster profile: NATS as three JetStream servers at NATS_REPLICAS=3 and Redis as a
	// Redis Cluster (three masters, three replicas). The NATS fault then stops the conversation stream's
	// leader, and later the new leader (another node); the Redis fault kills a master, whose replica takes
	// over. With a quorum left, the ingress keeps answering 200 through a node loss.
	Cluster bool
}

// ClusterOptions is the cluster profile (make chaos ARGS='-profile cluster'): DefaultOptions on clustered
// NATS and Redis.
func ClusterOptions() Options {
	o := DefaultOptions()
	o.Cluster = true
	return o
}

// MaxConversations bounds Options.Conversations: each user gets a distinct valid number from one block.
const MaxConversations = 10_000

// ErrInvalidOptions is returned by Run for options that cannot make a run.
var ErrInvalidOptions = errors.New("invalid chaos options")

// DefaultOptions is the long run (a few minutes): 300 conversations of 10 messages and a status, 4 workers,
// a worker killed every 3 s, one graceful stop, Redis and NATS restarted once, 10% of sends failing with
// 500 plus bursts of 429 and of lost answers, 5% duplicated webhooks.
func DefaultOptions() Options {
	return Options{
		Conversations:           300,
		MessagesPerConversation: 10,
		Status:                  true,
		Workers:                 4,
		Partitions:              16,
		Concurrency:             32,
		Gap:                     100 * time.Millisecond,
		Duration:                2 * time.Minute,
		KillEvery:               3 * time.Second,
		GracefulStop:            true,
		RestartRedis:            true,
		RestartNATS:             true,
		Downtime:                4 * time.Second,
		FailureRate:             0.1,
		Latency:                 150 * time.Millisecond,
		RateLimitEvery:          10 * time.Second,
		RateLimitBurst:          10,
		LostAnswerEvery:         7 * time.Second,
		LostAnswerBurst:         5,
		DuplicateRate:           0.05,
		AckWait:                 3 * time.Second,
		DrainTimeout:            3 * time.Minute,
		Settle:                  7 * time.Second,
		Seed:                    1,
	}
}

// validate reports every unusable option at once.
func (o Options) validate() error {
	var errs []error
	check := func(bad bool, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(o.Conversations < 1 || o.Conversations > MaxConversations, "conversations %d: want 1..%d", o.Conversations, MaxConversations)
	check(o.MessagesPerConversation < 1 || o.MessagesPerConversation > 1000, "messages per conversation %d: want 1..1000", o.MessagesPerConversation)
	check(o.Workers < 1 || o.Workers > 16, "workers %d: want 1..16", o.Workers)
	check(o.Partitions < 1 || o.Partitions > 1024, "partitions %d: want 1..1024", o.Partitions)
	check(o.Concurrency < 1, "concurrency %d: want at least 1", o.Concurrency)
	check(o.Gap < 0 || o.Gap > time.Minute, "gap %s: want 0..1m", o.Gap)
	check(o.Duration <= 0, "duration %s: want a positive duration", o.Duration)
	check(o.KillEvery < 0 || o.RateLimitEvery < 0 || o.LostAnswerEvery < 0, "fault intervals must not be negative")
	check(o.Downtime < 0 || o.Downtime > time.Minute, "downtime %s: want 0..1m", o.Downtime)
	check(o.FailureRate < 0 || o.FailureRate >= 1, "failure rate %g: want 0 <= rate < 1", o.FailureRate)
	check(o.Latency < 0 || o.Latency > 10*time.Second, "latency %s: want 0..10s", o.Latency)
	check(o.RateLimitEvery > 0 && o.RateLimitBurst < 1, "rate-limit burst %d: want at least 1", o.RateLimitBurst)
	check(o.LostAnswerEvery > 0 && o.LostAnswerBurst < 1, "lost-answer burst %d: want at least 1", o.LostAnswerBurst)
	check(o.PermanentFailures < 0, "permanent failures %d: want at least 0", o.PermanentFailures)
	check(o.DuplicateRate < 0 || o.DuplicateRate > 1, "duplicate rate %g: want 0..1", o.DuplicateRate)
	check(o.AckWait < 3*time.Second, "ack wait %s: the worker wants at least 3s", o.AckWait)
	check(o.DrainTimeout <= 0, "drain timeout %s: want a positive duration", o.DrainTimeout)
	check(o.Settle < 0, "settle %s: must not be negative", o.Settle)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	return nil
}
