package processor

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/smsconv/smsconv/shared/sendrate"
	"github.com/smsconv/smsconv/shared/sms"
	"github.com/smsconv/smsconv/shared/store"
	"github.com/smsconv/smsconv/shared/telnyx"
)

// CauseCapacity is the cause of a message handed back to wait for sending capacity: its number's or the
// account's rate is used up, or Telnyx answered with a throttling error. It is not a failed send: it never
// counts towards WORKER_MAX_ATTEMPTS, and the queue redelivers it when the limiter says, not by backoff.
const CauseCapacity = "capacity"

// Pacing is how the processor keeps to Telnyx's throughput and what it does with a send whose outcome it
// never learned.
type Pacing struct {
	// Limiter, when set, reserves capacity on the sending number and the account before every request and is
	// told of every throttling answer. Nil sends at once (all SEND_RATE_* limits off).
	Limiter *sendrate.Limiter
	// HoldUnknown holds a message whose previous send's answer was lost (REPLY_UNKNOWN_OUTCOME=hold): it is
	// marked unknown and nothing more is sent. Otherwise it is sent again with the same Idempotency-Key.
	HoldUnknown bool
}

func (p Pacing) policy() string {
	if p.HoldUnknown {
		return "hold"
	}
	return "resend"
}

// keyOf is the conversation of an outbound message, which the store's layout needs for its record.
func keyOf(msg *store.Message) store.Key { return store.Key{Our: msg.Our, User: msg.User} }

// laneOf is a message's lane: a conversation reply, or a /sms/send message.
func laneOf(msg *store.Message) sendrate.Lane {
	if msg.ReplyTo != "" {
		return sendrate.Reply
	}
	return sendrate.Bulk
}

// beforeSend takes sending capacity for msg and records the send as leaving (BeginSend). It returns a Result
// and true when the request must not go now: waiting for capacity (the message holds its conversation and is
// redelivered when its reserved slot comes, so no worker spins), held with an unknown outcome, or Redis down.
func (p *Processor) beforeSend(ctx context.Context, log *slog.Logger, msg *store.Message, seg sms.Segments) (Result, bool) {
	lane := laneOf(msg)
	if l := p.Pacing.Limiter; l != nil {
		wait, err := l.Reserve(ctx, msg.ID, msg.Our, lane, seg.Parts)
		if err != nil {
			return Result{Outcome: Retry, Reason: "redis unavailable", Cause: CauseRedis, Err: err}, true
		}
		if wait > 0 {
			// Only a message not yet tried becomes waiting: a sending one keeps saying its last outcome is unknown.
			if msg.Status == store.StatusPending || msg.Status == store.StatusQueued {
				if err := p.Store.UpdateMessage(ctx, msg.ID, store.Update{Key: keyOf(msg), Status: store.StatusWaiting}); err != nil {
					return Result{Outcome: Retry, Reason: "redis unavailable", Cause: CauseRedis, Err: err}, true
				}
			}
			if p.Metrics != nil {
				p.Metrics.CapacityWait(msg.Our, lane.String(), wait)
			}
			return Result{Outcome: Retry, Reason: "waiting for sending capacity", Cause: CauseCapacity, RetryAfter: wait}, true
		}
	}
	start, first, err := p.Store.BeginSend(ctx, keyOf(msg), msg.ID, string(seg.Encoding), seg.Parts, p.Pacing.HoldUnknown)
	if err != nil {
		return Result{Outcome: Retry, Reason: "redis unavailable", Cause: CauseRedis, Err: err}, true
	}
	if first && p.Metrics != nil {
		p.Metrics.UnknownOutcome(p.Pacing.policy())
	}
	switch start {
	case store.SendHeld:
		log.Warn("previous send's outcome unknown; held for an operator (REPLY_UNKNOWN_OUTCOME=hold)", "component", "processor", "msg_id", msg.ID)
		return Result{Outcome: Done}, true
	case store.SendResend:
		log.Info("previous send's outcome unknown; sending again with the same Idempotency-Key", "component", "processor", "msg_id", msg.ID)
	}
	p.countSegments(msg, seg)
	return Result{}, false
}

// countSegments counts the segments of a request about to leave.
func (p *Processor) countSegments(msg *store.Message, seg sms.Segments) {
	if p.Metrics != nil {
		p.Metrics.SegmentsSent(msg.Our, laneOf(msg).String(), seg.Parts)
	}
}

// throttled handles a failed request's meaning for capacity. A throttling answer (429 with 10011, 40318,
// 40002) holds and slows its scope in the limiter and reports true: the message waits for capacity again
// instead of counting a failure, so under sustained throttling every scope sends about one request per pause,
// whatever the backlog. Any answer that says the message was not taken (a 4xx) sets it back to waiting;
// no answer or a 5xx leaves it sending: its outcome is unknown.
func (p *Processor) throttled(ctx context.Context, log *slog.Logger, msg *store.Message, err error) (time.Duration, bool, error) {
	te, ok := errors.AsType[*telnyx.Error](err)
	if !ok || te.StatusCode == 0 || te.StatusCode >= 500 || !te.Retryable {
		return 0, false, nil
	}
	if uerr := p.Store.UpdateMessage(ctx, msg.ID, store.Update{Key: keyOf(msg), Status: store.StatusWaiting}); uerr != nil {
		return 0, false, uerr
	}
	scope, throttling := sendrate.ScopeOf(te.Code, te.StatusCode)
	l := p.Pacing.Limiter
	if !throttling || l == nil {
		return 0, false, nil
	}
	factor, terr := l.Throttled(ctx, msg.Our, scope, te.RetryAfter)
	if terr != nil {
		return 0, false, terr
	}
	name := "account"
	if scope == sendrate.Number {
		name = "number"
	}
	if p.Metrics != nil {
		p.Metrics.Throttled(name)
	}
	log.Info("telnyx throttled the send; slowing down", "component", "processor", "scope", name, "code", te.Code,
		"retry_after", te.RetryAfter, "rate_factor", factor)
	return te.RetryAfter, true, nil
}
