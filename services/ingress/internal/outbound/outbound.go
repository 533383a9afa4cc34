// Package outbound queues a message to a user for the workers: the path POST /sms/send and the console's
// operator messages share, so both go through the conversation's queue, in order with the rest of it,
// exactly once per id, and under the same opt-out rule.
package outbound

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/store"
)

// Errors of Send.
var (
	// ErrOptedOut: the user opted out (STOP); nothing is sent until they opt back in.
	ErrOptedOut = errors.New("recipient opted out (STOP): nothing is sent to this number until they text START")
	// ErrKeyReused: the id was used before for another message. As Telnyx does, a key names one request:
	// reusing it for another message is refused, not answered with the first message as if queued.
	ErrKeyReused = errors.New("already used for a different request (to, from or message differ); use a new key for a new message")
	// ErrStore and ErrQueue: Redis or JetStream is unavailable; nothing was queued.
	ErrStore = errors.New("store unavailable")
	ErrQueue = errors.New("queue unavailable")
)

// Publisher publishes data on subject with a deduplication id, waiting for JetStream's acknowledgement.
type Publisher func(ctx context.Context, subject, msgID string, data []byte) error

// Queue records and publishes outbound messages.
type Queue struct {
	Store   *store.Store
	Publish Publisher
}

// Send queues text from our number to user as message id. Sending the same message with the same id again
// answers the message recorded the first time instead of queueing a second one.
func (q Queue) Send(ctx context.Context, from, to, text, id string, now time.Time) (store.Message, error) {
	key := store.Key{Our: from, User: to}
	if conv, err := q.Store.Conversation(ctx, key); err == nil && conv.OptedOut {
		return store.Message{}, ErrOptedOut
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Message{}, fmt.Errorf("%w: %w", ErrStore, err)
	}
	if existing, err := q.Store.GetMessage(ctx, id); err == nil {
		if existing.Our != from || existing.User != to || existing.Text != text {
			return store.Message{}, ErrKeyReused
		}
		return existing, nil
	}
	rec := store.Message{ID: id, Our: from, User: to, Text: text, CreatedAt: now.UTC()}
	if err := q.Store.QueueSend(ctx, rec); err != nil {
		return store.Message{}, fmt.Errorf("%w: %w", ErrStore, err)
	}
	m := events.Message{Kind: events.KindSend, ID: id, OurNumber: from, UserNumber: to, Text: text,
		ReceivedAt: rec.CreatedAt, AcceptedAt: rec.CreatedAt}
	if err := q.Publish(ctx, events.ConversationSubject(from, to), id, m.Encode()); err != nil {
		// Not queued: undo the record so GET /messages/{id} does not show a message that will never go.
		_ = q.Store.DeleteMessage(context.WithoutCancel(ctx), id)
		return store.Message{}, fmt.Errorf("%w: %w", ErrQueue, err)
	}
	rec.Direction, rec.Status = store.DirectionOutbound, store.StatusQueued
	return rec, nil
}
