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

// StreamOptions sizes the streams. The zero value is not valid; use DefaultStreamOptions.
type StreamOptions struct {
	// Partitions is the number of conversation partitions (and partition consumers). Changing it on an
	// existing stream is refused: drain the stream first.
	Partitions int
	// MaxMsgs and MaxBytes bound the conversation backlog; past them publishes fail and the ingress answers
	// 503 so Telnyx retries later (nothing is dropped).
	MaxMsgs  int64
	MaxBytes int64
	// DuplicateWindow is how long a Nats-Msg-Id is remembered for publish deduplication.
	DuplicateWindow time.Duration
	// AckWait is how long a worker may hold a message before it is redelivered to another worker.
	AckWait time.Duration
	// Storage is file storage unless a test asks for memory.
	Storage jetstream.StorageType
	// Replicas for clustered NATS (1 for a single server).
	Replicas int
	// UpdateStreams makes EnsureStreams update existing streams to these options (the ingress, which owns
	// the backlog limits); without it, streams are only created when missing (the worker).
	UpdateStreams bool
	// UpdateConsumers makes EnsureStreams update existing consumers to these options (the worker, which
	// owns AckWait); without it, consumers are only created when missing (the ingress).
	UpdateConsumers bool
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
		UpdateStreams:   true,
		UpdateConsumers: true,
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

func conversationStream(o StreamOptions) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamConversations,
		Description: "conversation work: inbound messages and queued sends, partitioned by conversation",
		Subjects:    []string{"conv.*.*"},
		SubjectTransform: &jetstream.SubjectTransformConfig{
			Source:      "conv.*.*",
			Destination: fmt.Sprintf("conv.{{partition(%d,1,2)}}.{{wildcard(1)}}.{{wildcard(2)}}", o.Partitions),
		},
		Retention:  jetstream.WorkQueuePolicy,
		Discard:    jetstream.DiscardNew,
		MaxMsgs:    o.MaxMsgs,
		MaxBytes:   o.MaxBytes,
		Duplicates: o.DuplicateWindow,
		Storage:    o.Storage,
		Replicas:   o.Replicas,
		// Direct gets make the worker's "is anything older pending for this conversation" check cheap.
		AllowDirect: true,
	}
}

func partitionConsumer(o StreamOptions, p int) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       PartitionConsumer(p),
		Description:   "conversation partition " + strconv.Itoa(p),
		FilterSubject: PartitionFilter(p),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		// The worker counts deliveries itself and dead-letters past its limit; the server never drops.
		MaxDeliver:    -1,
		MaxAckPending: 10_000,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		Replicas:      o.Replicas,
	}
}

// ErrPartitionMismatch is returned when the stream exists with another partition count.
var ErrPartitionMismatch = errors.New("partition count differs from the existing stream")

// EnsureStreams creates or updates the streams and the partition consumers. It is idempotent and safe to run
// from several processes at once.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	if o.Partitions < 1 || o.Partitions > 1024 {
		return fmt.Errorf("ensure streams: partitions must be 1..1024, got %d", o.Partitions)
	}
	want := conversationStream(o)
	if s, err := js.Stream(ctx, StreamConversations); err == nil {
		cur := s.CachedInfo().Config
		if cur.SubjectTransform != nil && cur.SubjectTransform.Destination != want.SubjectTransform.Destination {
			return fmt.Errorf("ensure streams: %w: stream %s has transform %q, configuration wants %d partitions; drain and delete the stream to change it",
				ErrPartitionMismatch, StreamConversations, cur.SubjectTransform.Destination, o.Partitions)
		}
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("ensure streams: %w", err)
	}
	streams := []jetstream.StreamConfig{
		want,
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
	for _, cfg := range streams {
		var err error
		if o.UpdateStreams {
			_, err = js.CreateOrUpdateStream(ctx, cfg)
		} else if _, err = js.Stream(ctx, cfg.Name); errors.Is(err, jetstream.ErrStreamNotFound) {
			_, err = js.CreateStream(ctx, cfg)
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				err = nil // created by another process meanwhile
			}
		}
		if err != nil {
			return fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
		}
	}
	if err := ensureConsumer(ctx, js, o, StreamEvents, jetstream.ConsumerConfig{
		Durable:        ReceiptsConsumer,
		Description:    "delivery receipts (message.sent, message.finalized) for the workers",
		FilterSubjects: []string{EventSubject("message.sent"), EventSubject("message.finalized")},
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        o.AckWait,
		MaxDeliver:     -1,
		MaxAckPending:  10_000,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		Replicas:       o.Replicas,
	}); err != nil {
		return err
	}
	for p := range o.Partitions {
		if err := ensureConsumer(ctx, js, o, StreamConversations, partitionConsumer(o, p)); err != nil {
			return err
		}
	}
	return nil
}

// ensureConsumer creates cfg on stream, or updates it if o.UpdateConsumers; an existing consumer is otherwise
// left as it is.
func ensureConsumer(ctx context.Context, js jetstream.JetStream, o StreamOptions, stream string, cfg jetstream.ConsumerConfig) error {
	var err error
	if o.UpdateConsumers {
		_, err = js.CreateOrUpdateConsumer(ctx, stream, cfg)
	} else if _, err = js.Consumer(ctx, stream, cfg.Durable); errors.Is(err, jetstream.ErrConsumerNotFound) {
		_, err = js.CreateConsumer(ctx, stream, cfg)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			err = nil // created by another process meanwhile
		}
	}
	if err != nil {
		return fmt.Errorf("ensure consumer %s: %w", cfg.Durable, err)
	}
	return nil
}
