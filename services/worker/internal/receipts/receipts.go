// Package receipts applies delivery receipts (events.Receipt, built by the ingress from Telnyx's
// message.sent and message.finalized webhooks) to the stored status of our outbound messages. Receipts may arrive twice, out of order, or before the worker has stored the
// Telnyx id of the message they are about; none of that moves a status backwards or loses a receipt.
package receipts

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/store"
	"github.com/smsconv/smsconv/shared/telnyx"
)

// statusMapping maps Telnyx's to[].status to our message status.
var statusMapping = map[string]string{
	telnyx.StatusQueued:              store.StatusQueued,
	telnyx.StatusSending:             store.StatusQueued,
	telnyx.StatusSent:                store.StatusSent,
	telnyx.StatusDeliveryUnconfirmed: store.StatusSent,
	telnyx.StatusDelivered:           store.StatusDelivered,
	telnyx.StatusExpired:             store.StatusFailed,
	telnyx.StatusSendingFailed:       store.StatusFailed,
	telnyx.StatusDeliveryFailed:      store.StatusFailed,
}

// MapStatus returns our status for a Telnyx delivery status.
func MapStatus(s string) (string, bool) {
	v, ok := statusMapping[s]
	return v, ok
}

// unknownRetries is how many times a receipt for a message we cannot find yet is retried (about a
// minute in all) before it is dropped as not ours.
const unknownRetries = 12

// Consumer applies receipts from the receipts consumer.
type Consumer struct {
	Store *store.Store
	Log   *slog.Logger
	// Announcer tells live views (the console) that a message's status moved.
	Announcer events.Announcer
	cc        jetstream.ConsumeContext
}

// Start begins consuming; every worker consumes receipts, each receipt goes to one of them.
func (c *Consumer) Start(ctx context.Context, js jetstream.JetStream) error {
	cons, err := js.Consumer(ctx, events.StreamEvents, events.ReceiptsConsumer)
	if err != nil {
		return err
	}
	c.cc, err = cons.Consume(func(msg jetstream.Msg) { c.handle(msg) })
	return err
}

// Stop stops consuming and lets buffered receipts finish.
func (c *Consumer) Stop() {
	if c.cc != nil {
		c.cc.Drain()
		<-c.cc.Closed()
	}
}

func (c *Consumer) handle(msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		return
	}
	log := c.Log.With("component", "receipts", "stream_seq", meta.Sequence.Stream)
	r, err := events.DecodeReceipt(msg.Data())
	if err != nil {
		log.Warn("unreadable receipt dropped", "err", err)
		_ = msg.Term()
		return
	}
	log = log.With("event_id", r.EventID, "telnyx_id", r.TelnyxID, "telnyx_status", r.Status)
	status, ok := MapStatus(r.Status)
	if !ok {
		log.Warn("receipt with unknown status dropped")
		_ = msg.Term()
		return
	}
	rec := store.Receipt{TelnyxID: r.TelnyxID, Status: status, ErrorCode: r.ErrorCode, ErrorTitle: r.ErrorTitle, At: r.OccurredAt}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	outcome, id, err := c.Store.ApplyReceipt(ctx, rec)
	switch {
	case err != nil:
		log.Warn("receipt not applied; will retry", "err", err)
		_ = msg.NakWithDelay(time.Second)
	case outcome == store.ReceiptUnknown && int(meta.NumDelivered) < unknownRetries:
		// Most likely the receipt overtook the worker recording the Telnyx id: try again shortly.
		_ = msg.NakWithDelay(time.Duration(250+rand.IntN(250)) * time.Millisecond << min(meta.NumDelivered, 5)) //nolint:gosec // jitter
	case outcome == store.ReceiptUnknown:
		log.Info("receipt for a message we did not send; dropped")
		_ = msg.Term()
	default:
		log.Debug("receipt", "msg_id", id, "status", status, "applied", outcome == store.ReceiptApplied)
		if outcome == store.ReceiptApplied {
			c.Announcer.Announce(events.Change{MessageID: id})
		}
		if err := msg.Ack(); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
			log.Debug("receipt ack", "err", err)
		}
	}
}
