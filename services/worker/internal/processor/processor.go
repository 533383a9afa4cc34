// Package processor applies one unit of conversation work: it advances the conversation in Redis atomically
// and sends the reply through Telnyx, exactly once in effect however often the same message is handed to it.
// It knows nothing of NATS: it returns what should become of the message (done, retry, dead letter).
package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/smsconv/smsconv/services/worker/internal/metrics"
	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/ids"
	"github.com/smsconv/smsconv/shared/obs"
	"github.com/smsconv/smsconv/shared/phone"
	"github.com/smsconv/smsconv/shared/sms"
	"github.com/smsconv/smsconv/shared/store"
	"github.com/smsconv/smsconv/shared/telnyx"
)

// Sender sends one SMS with one HTTP request (it never retries: the queue does); *telnyx.Client implements
// it.
type Sender interface {
	Send(ctx context.Context, req telnyx.SendRequest, idempotencyKey string) (telnyx.SendResult, error)
}

// Outcome is what should become of a message after Handle.
type Outcome int

// Outcomes.
const (
	Done       Outcome = iota // the effect is stored (and the reply sent or deliberately not): ack
	Retry                     // a transient failure: try again later, in order
	DeadLetter                // a permanent failure: keep it with the reason and move on
)

func (o Outcome) String() string {
	return [...]string{"done", "retry", "dead_letter"}[o]
}

// Result is Handle's answer.
type Result struct {
	Outcome Outcome
	// Reason says why a message is retried or dead-lettered.
	Reason string
	// Cause is a fixed, low-cardinality name for the reason, for metrics: redis, telnyx, conflict or capacity.
	Cause string
	Err   error
	// SendFailures counts the transient send failures of this message's reply so far (Cause telnyx): one
	// per HTTP request to Telnyx, since every Handle makes at most one.
	SendFailures int
	// RetryAfter is Telnyx's Retry-After when it asked us to slow down: retry no sooner.
	RetryAfter time.Duration
}

// Delivery says how a message came to Handle.
type Delivery struct {
	// Replay is true for a message replayed from the dead letters: a reply that failed permanently is
	// sent again.
	Replay bool
	// Redelivered is true when the queue delivered the message before (a retry, a crashed worker's
	// message, an order deferral): it may well be committed already, so Handle reads what is stored
	// before running the dialog.
	Redelivered bool
}

// Causes of retries and dead letters.
const (
	CauseRedis    = "redis"
	CauseTelnyx   = "telnyx"
	CauseConflict = "conflict"
)

// Processor handles conversation work.
type Processor struct {
	Store  *store.Store
	Dialog conversation.Dialog
	Sender Sender
	// MessagingProfileID is sent with every message when set.
	MessagingProfileID string
	// Ours are our numbers: a message from one of them is stored but never answered (two of our numbers
	// answering each other would loop), whatever the ingress let through.
	Ours phone.Numbers
	Log  *slog.Logger
	// Metrics, when set, counts opted-out blocks.
	Metrics *metrics.Metrics
	// Pacing keeps sends within Telnyx's limits and decides about sends whose outcome is unknown.
	Pacing Pacing
	// Cache, when set, keeps conversations this worker committed, so the next message of a conversation
	// skips the load: one Redis round trip for the commit, one to record the send as leaving, one for its
	// outcome. A stale entry (the
	// conversation changed elsewhere) is caught by the commit's version check and reloaded.
	Cache *Cache
	// Now is the clock (tests); defaults to time.Now.
	Now func() time.Time
	// Announcer tells live views (the console) that a conversation changed; the zero value tells nobody.
	Announcer events.Announcer
}

// MaxMedia is the most media entries of a message the worker keeps and hands to the flow: Telnyx sends at
// most 10 with one message, so more is not from Telnyx.
const MaxMedia = 10

const maxConflicts = 8

// Handle processes m, making at most one request to Telnyx. A message committed before (a retry after the
// commit) goes straight to the send: one Redis read, the send recorded as leaving, the send, its outcome.
func (p *Processor) Handle(ctx context.Context, m events.Message, d Delivery) Result {
	key := store.Key{Our: m.OurNumber, User: m.UserNumber}
	defer p.Announcer.Announce(events.Change{Our: m.OurNumber, User: m.UserNumber, MessageID: m.ID})
	log := obs.WithTrace(ctx, p.Log).With("msg_id", m.ID, "event_id", m.EventID, "kind", m.Kind, "user", phone.Mask(m.UserNumber))
	// An inbound message and its reply are kept under their own namespaces (shared/ids), so no id Telnyx
	// sends can land on another record; a queued send's id is the ingress's snd_ key.
	msgID, replyID := m.ID, ""
	if m.Kind == events.KindInbound {
		msgID, replyID = ids.Inbound(m.ID), ids.Reply(m.ID, 1)
	}
	// stored is the conversation as a commit refused for its version found it.
	var stored *store.Loaded
	for attempt := range maxConflicts {
		// An inbound message commits without reading first: against the state this worker committed last
		// (the cache) or, for a conversation it has not seen, as the first message of a new one. The commit's
		// version check refuses either if the conversation changed elsewhere, and returns it as stored, which
		// the next attempt steps from. So a new or cached conversation costs one round trip before the send,
		// and one this worker has not seen two. A redelivery (it may be committed already) and a queued send
		// (its record is the ingress's) load first.
		var l store.Loaded
		loaded := false
		switch {
		case m.Kind != events.KindInbound || d.Redelivered || (attempt > 0 && stored == nil):
			loaded = true
		case stored != nil:
			l, stored = *stored, nil
		default:
			l, _ = p.Cache.get(key)
		}
		if loaded {
			var err error
			if l, err = p.Store.Load(ctx, key, msgID, replyID); err != nil {
				return Result{Outcome: Retry, Reason: "redis unavailable", Cause: CauseRedis, Err: err}
			}
		}
		if l.Message != nil && l.Message.Committed {
			// Seen before: the state change is stored; only the send may be left to do.
			target := l.Reply
			if m.Kind == events.KindSend {
				target = l.Message
			}
			return p.deliver(ctx, log, key, l.Conversation, target, d.Replay, false)
		}
		commit, target := p.plan(m, l)
		cr, err := p.Store.Apply(ctx, commit)
		if errors.Is(err, store.ErrConflict) {
			p.Cache.remove(key)
			stored = cr.Stored
			log.Debug("conversation changed elsewhere; stepping again from the stored state", "component", "processor")
			continue
		}
		if err != nil {
			p.Cache.remove(key)
			return Result{Outcome: Retry, Reason: "redis unavailable", Cause: CauseRedis, Err: err}
		}
		if cr.Duplicate {
			// Committed before, yet delivered as new and met with a cached state: load what is left to do.
			p.Cache.remove(key)
			if loaded && m.Kind == events.KindInbound && l.Message == nil {
				// Not under its key: committed by an older version under the raw id. Finish what it left.
				in, reply, err := p.Store.LegacyInbound(ctx, m.ID)
				if err != nil {
					return Result{Outcome: Retry, Reason: "redis unavailable", Cause: CauseRedis, Err: err}
				}
				if in != nil {
					return p.deliver(ctx, log, key, l.Conversation, reply, d.Replay, false)
				}
			}
			continue
		}
		if cr.Skipped != "" && target != nil {
			target.Status, target.ErrorCode, target.ErrorTitle = store.StatusSkipped, cr.Skipped, skipTitles[cr.Skipped]
		}
		if cr.Sending {
			target.Status, target.Encoding, target.Parts, target.SendAttempts = store.StatusSending, commit.Sending.Encoding, commit.Sending.Parts, 1
		}
		p.Cache.put(key, commit.Conversation, cr.Version)
		return p.deliver(ctx, log, key, commit.Conversation, target, d.Replay, cr.Sending)
	}
	return Result{Outcome: Retry, Reason: "conversation kept changing", Cause: CauseConflict, Err: store.ErrConflict}
}

// plan computes the commit for m from the loaded state: the dialog step for an inbound message, the
// history entry for a queued send.
func (p *Processor) plan(m events.Message, l store.Loaded) (store.Commit, *store.Message) {
	at := m.ReceivedAt
	if at.IsZero() {
		at = m.AcceptedAt
	}
	if at.IsZero() {
		at = p.now()
	}
	c := l.Conversation
	if !l.Exists {
		c = conversation.New(at)
	}
	key := store.Key{Our: m.OurNumber, User: m.UserNumber}
	now := p.now()
	if m.Kind == events.KindSend {
		rec := store.Message{ID: m.ID, Direction: store.DirectionOutbound, Our: m.OurNumber, User: m.UserNumber,
			Text: m.Text, Status: store.StatusQueued, CreatedAt: at}
		if l.Message != nil {
			rec = *l.Message
		}
		rec.Text = bounded(rec.Text)
		return store.Commit{Key: key, ExpectVersion: l.Version, Conversation: c, Message: rec, Now: now}, &rec
	}

	wasOptedOut := c.OptedOut
	media := m.Media[:min(len(m.Media), MaxMedia)]
	var res conversation.Result
	if c.TakenOver {
		// An operator answers this user: keep the message, leave the flow where it is, reply nothing.
		res.Conversation = c
		res.Conversation.MessageCount++
		res.Conversation.UpdatedAt = at.UTC()
	} else {
		res = p.Dialog.Step(c, conversation.Inbound{Text: m.Text, Media: media}, at)
	}
	switch {
	case conversation.IsOptOut(m.Text):
		res.Conversation.OptedOut = true
	case conversation.IsOptIn(m.Text):
		res.Conversation.OptedOut = false
	}
	in := store.Message{ID: ids.Inbound(m.ID), Direction: store.DirectionInbound, Our: m.OurNumber, User: m.UserNumber,
		Text: m.Text, Media: media, Status: store.StatusReceived, CreatedAt: at, TelnyxID: m.ID}
	commit := store.Commit{Key: key, ExpectVersion: l.Version, Conversation: res.Conversation, Message: in, Now: now,
		LegacyID: m.ID}
	if !res.HasReply {
		return commit, nil
	}
	reply := &store.Message{ID: ids.Reply(m.ID, 1), Direction: store.DirectionOutbound, Our: m.OurNumber,
		User: m.UserNumber, Text: bounded(res.Reply), Status: store.StatusPending, CreatedAt: at, ReplyTo: in.ID}
	switch {
	case p.Ours.Has(m.UserNumber):
		reply.Status, reply.ErrorCode, reply.ErrorTitle = store.StatusSkipped, store.SkipOurs, store.OursTitle
	default:
		kw := conversation.Keyword(m.Text)
		if reason := blockReason(wasOptedOut, res.Conversation.OptedOut, kw, m.AutoresponseType); reason != "" {
			reply.Status, reply.ErrorCode, reply.ErrorTitle = store.StatusBlocked, "40300", reason
		}
	}
	commit.Reply = reply
	if reply.Status == store.StatusPending && p.Pacing.Limiter == nil {
		// Nothing to wait for before the request: the commit records the reply as sending.
		seg := sms.Count(reply.Text)
		commit.Sending = &store.SendMark{Encoding: string(seg.Encoding), Parts: seg.Parts}
	}
	return commit, reply
}

// blockReason decides whether a reply may go to a user given their opt-out state before and after this
// message. The message that opts out may be answered once (the confirmation), unless Telnyx already sent
// its own auto-response; while opted out only "help" is answered.
func blockReason(before, after bool, kw, autoresponse string) string {
	switch {
	case !after:
		return ""
	case !before:
		if autoresponse != "" {
			return "opted out; Telnyx sent its own " + autoresponse + " auto-response"
		}
		return ""
	case kw == "help":
		return ""
	}
	return "recipient opted out"
}

// skipTitles are the error titles of the replies the commit skips, by reason.
var skipTitles = map[string]string{store.SkipRateLimited: store.RateLimitedTitle, store.SkipLoop: store.LoopTitle}

// bounded is text cut to what Telnyx accepts (sms.MaxParts segments, ending in sms.Marker when cut): the last
// line of defence under the flows' own bounding, so no reply or queued send can be refused for its length
// and the user always gets an answer.
func bounded(text string) string {
	out, _ := sms.Fit(text, sms.MaxParts)
	return out
}

// deliver sends msg unless it was sent (or settled) before. begun says the commit just recorded msg as
// sending (store.Commit.Sending), so the request leaves without BeginSend.
func (p *Processor) deliver(ctx context.Context, log *slog.Logger, key store.Key, c conversation.Conversation, msg *store.Message, replay, begun bool) Result {
	if msg == nil {
		return Result{Outcome: Done}
	}
	switch {
	case msg.TelnyxID != "":
		return Result{Outcome: Done} // Telnyx accepted it before: never text the user twice
	case msg.Status == store.StatusUnknown:
		return Result{Outcome: Done} // held with an unknown outcome: an operator decides, nothing more is sent
	case msg.Status == store.StatusBlocked, msg.Status == store.StatusSkipped:
		if msg.Status == store.StatusBlocked {
			p.countBlocked()
		}
		return Result{Outcome: Done}
	case msg.Status == store.StatusFailed && !replay:
		// Failed permanently before, but the message is back: its dead-lettering did not complete (NATS
		// was unavailable). Dead-letter it again; the dead letter's id makes a repeat harmless.
		return Result{Outcome: DeadLetter, Cause: CauseTelnyx,
			Reason: "telnyx rejected the message: " + strings.TrimSpace(msg.ErrorCode+" "+msg.ErrorTitle)}
	}
	if c.OptedOut && msg.ReplyTo == "" {
		// A queued send to a number that opted out.
		if err := p.Store.UpdateMessage(ctx, msg.ID, store.Update{Key: key, Status: store.StatusBlocked, ErrorCode: "40300", ErrorTitle: "recipient opted out"}); err != nil {
			return Result{Outcome: Retry, Reason: "redis unavailable", Cause: CauseRedis, Err: err}
		}
		p.countBlocked()
		return Result{Outcome: Done}
	}
	text := bounded(msg.Text)
	if seg := sms.Count(text); begun {
		p.countSegments(msg, seg)
	} else if r, stop := p.beforeSend(ctx, log, msg, seg); stop {
		return r
	}
	res, err := p.Sender.Send(ctx, telnyx.SendRequest{From: msg.Our, To: msg.User, Text: text,
		MessagingProfileID: p.MessagingProfileID}, msg.ID)
	if err == nil {
		if err := p.Store.UpdateMessage(ctx, msg.ID, store.Update{Key: key, Status: statusOr(res.Status, store.StatusQueued), TelnyxID: res.ID}); err != nil {
			// Sent but not recorded: a retry sends again with the same Idempotency-Key, and Telnyx replays
			// its answer instead of texting twice.
			return Result{Outcome: Retry, Reason: "redis unavailable after send", Cause: CauseRedis, Err: err}
		}
		log.Debug("reply sent", "component", "processor", "reply_id", msg.ID, "telnyx_id", res.ID)
		return Result{Outcome: Done}
	}
	code, title := errorFields(err)
	switch {
	case errors.Is(err, telnyx.ErrOptedOut):
		// Not a failure of ours: the user opted out. Record it; never retry, never dead-letter.
		uerr := p.Store.UpdateMessage(ctx, msg.ID, store.Update{Key: key, Status: store.StatusBlocked, ErrorCode: code, ErrorTitle: title})
		if uerr == nil {
			p.Cache.remove(key)
			uerr = p.Store.SetOptedOut(ctx, key, true)
		}
		if uerr != nil {
			return Result{Outcome: Retry, Reason: "redis unavailable", Cause: CauseRedis, Err: uerr}
		}
		log.Info("recipient opted out; message blocked", "component", "processor", "reply_id", msg.ID)
		p.countBlocked()
		return Result{Outcome: Done}
	case telnyx.IsRetryable(err):
		wait, throttled, terr := p.throttled(ctx, log, msg, err)
		if terr != nil {
			return Result{Outcome: Retry, Reason: "redis unavailable", Cause: CauseRedis, Err: terr}
		}
		if throttled {
			return Result{Outcome: Retry, Reason: "telnyx throttled: " + shortErr(err), Cause: CauseCapacity, Err: err, RetryAfter: wait}
		}
		n, cerr := p.Store.CountSendFailure(ctx, msg.ID)
		if cerr != nil {
			return Result{Outcome: Retry, Reason: "redis unavailable", Cause: CauseRedis, Err: cerr}
		}
		var retryAfter time.Duration
		if te, ok := errors.AsType[*telnyx.Error](err); ok {
			retryAfter = te.RetryAfter
		}
		return Result{Outcome: Retry, Reason: "telnyx: " + shortErr(err), Cause: CauseTelnyx, Err: err, SendFailures: n,
			RetryAfter: retryAfter}
	default:
		if uerr := p.Store.UpdateMessage(ctx, msg.ID, store.Update{Key: key, Status: store.StatusFailed, ErrorCode: code, ErrorTitle: title}); uerr != nil {
			return Result{Outcome: Retry, Reason: "redis unavailable", Cause: CauseRedis, Err: uerr}
		}
		return Result{Outcome: DeadLetter, Reason: "telnyx rejected the message: " + shortErr(err), Cause: CauseTelnyx, Err: err}
	}
}

func (p *Processor) countBlocked() {
	if p.Metrics != nil {
		p.Metrics.OptedOutBlock()
	}
}

func (p *Processor) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func statusOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func errorFields(err error) (code, title string) {
	var te *telnyx.Error
	if errors.As(err, &te) {
		code, title = te.Code, te.Title
		if code == "" {
			code = fmt.Sprint(te.StatusCode)
		}
		return code, title
	}
	return "", shortErr(err)
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return strings.TrimSpace(s)
}
