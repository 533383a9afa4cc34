package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The topology has one definition (this file) and each half has one owner:
//   - the publisher (the ingress) owns the streams: EnsureStreams creates them or updates them to its
//     limits, and never touches a consumer;
//   - the consumer (the worker) owns the consumers it consumes: EnsureConsumers waits for the streams to
//     exist, then creates or updates the partition and receipt consumers (their AckWait is the worker's),
//     and never touches a stream.
// Both refuse to run against a conversation stream partitioned differently (ErrPartitionMismatch).

// StreamOptions are the parameters of the topology. The zero value is not valid; use DefaultStreamOptions.
type StreamOptions struct {
	// Partitions is the number of conversation partitions (and partition consumers). Changing it on an
	// existing stream is refused: drain the stream first.
	Partitions int
	// MaxMsgs and MaxBytes bound the conversation backlog; past them publishes fail and the ingress answers
	// 503 so Telnyx retries later (nothing is dropped). Streams only.
	MaxMsgs  int64
	MaxBytes int64
	// DuplicateWindow is how long a Nats-Msg-Id is remembered for publish deduplication. Streams only.
	DuplicateWindow time.Duration
	// AckWait is how long a worker may hold a message before it is redelivered to another worker. Consumers
	// only: the worker reads it back from the consumer it consumes.
	AckWait time.Duration
	// Storage is file storage unless a test asks for memory.
	Storage jetstream.StorageType
	// Replicas for clustered NATS (1 for a single server).
	Replicas int
}

// DefaultStreamOptions are the production defaults.
func DefaultStreamOptions() StreamOptions {
	return StreamOptions{
		Partitions:      16,
		MaxMsgs:         1_000_000,
		MaxBytes:        1 << 30,
		DuplicateWindow: 10 * time.Minute,
		AckWait:         30 * time.Second,
		Storage:         jetstream.FileStorage,
		Replicas:        1,
	}
}

// ReceiptsConsumer is the durable consumer of delivery receipts on StreamEvents, shared by all workers.
const ReceiptsConsumer = "receipts"

// PartitionConsumer names the durable consumer of partition p.
func PartitionConsumer(p int) string { return fmt.Sprintf("conv-%03d", p) }

// PartitionFilter is the subject filter of partition p.
func PartitionFilter(p int) string { return "conv." + strconv.Itoa(p) + ".>" }

// PartitionOf reads the partition from a stored (transformed) conversation subject.
func PartitionOf(subject string) (int, bool) {
	parts := strings.SplitN(subject, ".", 3)
	if len(parts) < 3 || parts[0] != "conv" {
		return 0, false
	}
	p, err := strconv.Atoi(parts[1])
	return p, err == nil
}

// ErrPartitionMismatch is returned when the stream exists with another partition count.
var ErrPartitionMismatch = errors.New("partition count differs from the existing stream")

func streams(o StreamOptions) []jetstream.StreamConfig {
	return []jetstream.StreamConfig{
		{
			Name:        StreamConversations,
			Description: "conversation work: inbound messages and queued sends, partitioned by conversation",
			Subjects:    []string{"conv.*.*"},
			SubjectTransform: &jetstream.SubjectTransformConfig{
				Source:      "conv.*.*",
				Destination: partitionTransform(o.Partitions),
			},
			Retention:  jetstream.WorkQueuePolicy,
			Discard:    jetstream.DiscardNew,
			MaxMsgs:    o.MaxMsgs,
			MaxBytes:   o.MaxBytes,
			Duplicates: o.DuplicateWindow,
			Storage:    o.Storage,
			Replicas:   o.Replicas,
			// The worker's "is anything older pending for this conversation" check must see every stored
			// message. A direct get may be answered by any replica, and a lagging one answers "none older"
			// (ADR-31); without direct gets the get goes to $JS.API.STREAM.MSG.GET, which only the stream
			// leader answers. On one server they are the same, and the direct get is cheaper.
			AllowDirect: o.Replicas == 1,
		},
		{
			Name:        StreamEvents,
			Description: "Telnyx events other than inbound messages (delivery receipts, unknown types)",
			Subjects:    []string{"events.>"},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      7 * 24 * time.Hour,
			MaxMsgs:     o.MaxMsgs,
			Duplicates:  o.DuplicateWindow,
			Storage:     o.Storage,
			Replicas:    o.Replicas,
		},
		{
			Name:        StreamDeadLetters,
			Description: "messages that could not be processed, with the reason; listed and replayed by the ingress",
			Subjects:    []string{"dlq.>"},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      30 * 24 * time.Hour,
			MaxMsgs:     o.MaxMsgs,
			Storage:     o.Storage,
			Replicas:    o.Replicas,
		},
	}
}

func partitionTransform(n int) string {
	return fmt.Sprintf("conv.{{partition(%d,1,2)}}.{{wildcard(1)}}.{{wildcard(2)}}", n)
}

// consumers are the durable consumers the workers consume, with the stream each lives on.
func consumers(o StreamOptions) map[string][]jetstream.ConsumerConfig {
	work := make([]jetstream.ConsumerConfig, o.Partitions)
	for p := range o.Partitions {
		work[p] = workerConsumer(o, PartitionConsumer(p), "conversation partition "+strconv.Itoa(p), PartitionFilter(p))
	}
	return map[string][]jetstream.ConsumerConfig{
		StreamConversations: work,
		StreamEvents: {workerConsumer(o, ReceiptsConsumer,
			"delivery receipts (message.sent, message.finalized) for the workers", ReceiptSubjects()...)},
	}
}

// workerConsumer is a durable pull consumer with explicit acks and the worker's AckWait. MaxDeliver is
// unlimited: the worker counts failed sends itself and dead-letters past its limit; the server never drops.
func workerConsumer(o StreamOptions, durable, description string, filters ...string) jetstream.ConsumerConfig {
	c := jetstream.ConsumerConfig{
		Durable:       durable,
		Description:   description,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: 10_000,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		Replicas:      o.Replicas,
	}
	// One filter stays in FilterSubject, as existing consumers were created: an update then changes
	// nothing but what it means to.
	if len(filters) == 1 {
		c.FilterSubject = filters[0]
	} else {
		c.FilterSubjects = filters
	}
	return c
}

func validate(o StreamOptions) error {
	if o.Partitions < 1 || o.Partitions > 1024 {
		return fmt.Errorf("partitions must be 1..1024, got %d", o.Partitions)
	}
	return nil
}

// checkPartitions refuses a conversation stream whose transform has another partition count.
func checkPartitions(s jetstream.Stream, o StreamOptions) error {
	cur := s.CachedInfo().Config
	if want := partitionTransform(o.Partitions); cur.SubjectTransform != nil && cur.SubjectTransform.Destination != want {
		return fmt.Errorf("%w: stream %s has transform %q, configuration wants %d partitions; drain and delete the stream to change it",
			ErrPartitionMismatch, StreamConversations, cur.SubjectTransform.Destination, o.Partitions)
	}
	return nil
}

// EnsureStreams creates the streams, or updates them to o's limits. It is the publisher's (the ingress's)
// half of the topology and never touches a consumer. It is idempotent and safe to run from several
// processes at once.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	if err := validate(o); err != nil {
		return fmt.Errorf("ensure streams: %w", err)
	}
	if s, err := js.Stream(ctx, StreamConversations); err == nil {
		if err := checkPartitions(s, o); err != nil {
			return fmt.Errorf("ensure streams: %w", err)
		}
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("ensure streams: %w", err)
	}
	for _, cfg := range streams(o) {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// EnsureConsumers checks that the publisher has created the streams and that the partition count matches,
// then creates the worker's consumers or updates them to o (AckWait). It is the consumer's (the worker's)
// half of the topology and never touches a stream. A missing stream is an error wrapping
// jetstream.ErrStreamNotFound, for the caller to retry until the ingress has run; a partition mismatch
// (ErrPartitionMismatch) is for good.
func EnsureConsumers(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	if err := validate(o); err != nil {
		return fmt.Errorf("ensure consumers: %w", err)
	}
	for _, cfg := range streams(o) {
		s, err := js.Stream(ctx, cfg.Name)
		if err != nil {
			return fmt.Errorf("ensure consumers: stream %s (created by the ingress): %w", cfg.Name, err)
		}
		if cfg.Name == StreamConversations {
			if err := checkPartitions(s, o); err != nil {
				return fmt.Errorf("ensure consumers: %w", err)
			}
		}
	}
	for stream, cfgs := range consumers(o) {
		for _, cfg := range cfgs {
			if _, err := js.CreateOrUpdateConsumer(ctx, stream, cfg); err != nil {
				return fmt.Errorf("ensure consumer %s: %w", cfg.Durable, err)
			}
		}
	}
	return nil
}
