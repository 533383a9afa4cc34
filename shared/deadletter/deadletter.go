// Package deadletter keeps the messages the workers could not process, with the reason, and lists and
// replays them. It is the one owner of the dead-letter contract: the worker publishes through it, the
// ingress's admin API lists and replays through it, and its headers are read and written nowhere else. The
// stream itself (events.StreamDeadLetters) is part of the topology in package events.
package deadletter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/obs"
)

// Classes of dead letter: why a message was given up on.
const (
	// ClassPermanent: Telnyx refused the reply for good (a 4xx other than opt-out).
	ClassPermanent = "permanent"
	// ClassExhausted: the reply's sends failed transiently WORKER_MAX_ATTEMPTS times.
	ClassExhausted = "exhausted"
	// ClassUndecodable: the queue message is not an events.Message.
	ClassUndecodable = "undecodable"
)

// Headers of a dead letter (and of a replayed message).
const (
	headerReason   = "Sms-Dlq-Reason"
	headerClass    = "Sms-Dlq-Class"
	headerSubject  = "Sms-Dlq-Subject"
	headerSeq      = "Sms-Dlq-Stream-Seq"
	headerAttempts = "Sms-Dlq-Attempts"
	headerTime     = "Sms-Dlq-Time"
	headerReplay   = "Sms-Replay"
)

// Errors of List and Replay.
var (
	// ErrNotFound: no dead letter has that id.
	ErrNotFound = errors.New("dead letter not found")
	// ErrNotReplayable: the dead letter is not a conversation message (it was undecodable).
	ErrNotReplayable = errors.New("dead letter cannot be replayed")
	// ErrNotDeleted: the dead letter was replayed but is still listed. A second replay of it is a duplicate
	// publish (same message id within the duplicate window), so this is worth a warning, not a failure.
	ErrNotDeleted = errors.New("replayed dead letter not deleted")
)

// Entry is a message being dead-lettered.
type Entry struct {
	// Data is the original message body.
	Data []byte
	// Subject and StreamSeq say where it was in the conversation stream; the sequence also makes a
	// repeated dead-lettering of the same message (crash between publish and term) a duplicate.
	Subject   string
	StreamSeq uint64
	// Attempts is how often the message was delivered.
	Attempts uint64
	Class    string
	Reason   string
	At       time.Time
}

// Publish stores e in the dead-letter stream and waits for JetStream's acknowledgement.
func Publish(ctx context.Context, js jetstream.JetStream, e Entry) error {
	kind := "unknown"
	if m, err := events.Decode(e.Data); err == nil {
		kind = m.Kind
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	msg := nats.NewMsg("dlq." + kind)
	msg.Data = e.Data
	msg.Header.Set(headerReason, e.Reason)
	msg.Header.Set(headerClass, e.Class)
	msg.Header.Set(headerSubject, e.Subject)
	msg.Header.Set(headerSeq, strconv.FormatUint(e.StreamSeq, 10))
	msg.Header.Set(headerAttempts, strconv.FormatUint(e.Attempts, 10))
	msg.Header.Set(headerTime, e.At.UTC().Format(time.RFC3339Nano))
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID("dlq-"+strconv.FormatUint(e.StreamSeq, 10))); err != nil {
		return fmt.Errorf("publish dead letter: %w", err)
	}
	return nil
}

// Letter is a dead letter as listed.
type Letter struct {
	// ID is the dead letter's sequence in the dead-letter stream; List pages and Replay picks by it.
	ID             uint64
	Reason         string
	Class          string
	Attempts       int
	DeadLetteredAt time.Time
	// Message is the original message when it decodes; Raw holds the body otherwise.
	Message *events.Message
	Raw     []byte
}

func letter(m *jetstream.RawStreamMsg) Letter {
	l := Letter{ID: m.Sequence, Reason: m.Header.Get(headerReason), Class: m.Header.Get(headerClass)}
	l.Attempts, _ = strconv.Atoi(m.Header.Get(headerAttempts))
	l.DeadLetteredAt, _ = time.Parse(time.RFC3339Nano, m.Header.Get(headerTime))
	if msg, err := events.Decode(m.Data); err == nil {
		l.Message = &msg
	} else {
		l.Raw = m.Data
	}
	return l
}

// List returns up to limit dead letters with ids above after, oldest first.
func List(ctx context.Context, js jetstream.JetStream, after uint64, limit int) ([]Letter, error) {
	st, err := js.Stream(ctx, events.StreamDeadLetters)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	out := []Letter{}
	seq := after + 1
	for len(out) < limit {
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject("dlq.>"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list dead letters: %w", err)
		}
		out = append(out, letter(m))
		seq = m.Sequence + 1
	}
	return out, nil
}

// Replay puts dead letter id back at the end of its conversation's queue, marked as a replay (a reply that
// failed permanently is then sent again), and removes it from the dead-letter stream. Replaying the same id
// twice within the stream's duplicate window publishes it once.
func Replay(ctx context.Context, js jetstream.JetStream, id uint64) (events.Message, error) {
	st, err := js.Stream(ctx, events.StreamDeadLetters)
	if err != nil {
		return events.Message{}, fmt.Errorf("replay dead letter: %w", err)
	}
	raw, err := st.GetMsg(ctx, id)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return events.Message{}, fmt.Errorf("replay dead letter %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return events.Message{}, fmt.Errorf("replay dead letter: %w", err)
	}
	m, err := events.Decode(raw.Data)
	if err != nil {
		return events.Message{}, fmt.Errorf("%w: %w", ErrNotReplayable, err)
	}
	msg := nats.NewMsg(events.ConversationSubject(m.OurNumber, m.UserNumber))
	msg.Data = raw.Data
	msg.Header.Set(headerReplay, "1")
	obs.InjectNATS(ctx, msg)
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID("replay-"+strconv.FormatUint(id, 10))); err != nil {
		return events.Message{}, fmt.Errorf("replay dead letter: %w", err)
	}
	if err := st.DeleteMsg(ctx, id); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		// Replayed but still listed: a second replay is a duplicate publish (same id), so harmless.
		return m, fmt.Errorf("%w: %d: %w", ErrNotDeleted, id, err)
	}
	return m, nil
}

// IsReplay reports whether a conversation message was put back by Replay.
func IsReplay(h nats.Header) bool { return h.Get(headerReplay) != "" }
