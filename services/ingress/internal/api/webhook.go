package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/smsconv/smsconv/services/ingress/internal/metrics"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/obs"
	"github.com/smsconv/smsconv/shared/phone"
	"github.com/smsconv/smsconv/shared/telnyx"
)

// webhookResponse is the body of a 2xx answer to Telnyx.
type webhookResponse struct {
	Status    string `json:"status"` // queued, duplicate, acknowledged, invalid, ignored
	EventID   string `json:"event_id,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	// Reason says why an invalid or ignored event was kept rather than queued.
	Reason string `json:"reason,omitempty"`
}

// Reasons an inbound message is kept in events.ignored and never answered.
const (
	reasonNotOurs  = "not addressed to our numbers"
	reasonFromOurs = "sent from one of our numbers"
)

// webhook verifies, parses and queues one Telnyx event. It answers 2xx once JetStream has stored the event,
// so a 503 (NATS down, stream full) makes Telnyx deliver it again and nothing is lost. A signed event that
// cannot be used, or must not be answered, is kept (events.invalid, events.ignored) and answered 200 with the
// reason: Telnyx redelivers on any other answer, and sending it again would not change it.
func (s *Server) webhook(c echo.Context) (err error) {
	start := time.Now()
	ctx, span := obs.Tracer().Start(c.Request().Context(), "webhook", trace.WithSpanKind(trace.SpanKindServer))
	outcome := metrics.WebhookAccepted
	defer func() {
		if err != nil {
			outcome = webhookOutcome(err)
			obs.RecordError(span, err)
		}
		span.SetAttributes(attribute.String("outcome", outcome))
		span.End()
		s.d.Metrics.ObserveWebhook(outcome, time.Since(start))
	}()
	c.SetRequest(c.Request().WithContext(ctx))
	r := c.Request()
	if r.ContentLength > s.d.WebhookMaxBody {
		// Declared too large: answer at once rather than wait for a body that may never come, and close the
		// connection, whose unread body would otherwise be read (or waited for) before the next request.
		c.Response().Header().Set(echo.HeaderConnection, "close")
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, s.d.WebhookMaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge)
		}
		return echo.NewHTTPError(http.StatusBadRequest, "could not read request body")
	}
	// Verify before parsing: nothing unauthenticated reaches the JSON decoder.
	if err := s.d.Verifier.VerifyHeader(r.Header, body, s.d.Now()); err != nil {
		s.d.Log.Info("webhook rejected", "component", "webhook", "reason", err.Error())
		return echo.NewHTTPError(http.StatusUnauthorized, "invalid signature")
	}
	k := keeper{s: s, c: c, body: body, outcome: &outcome, log: obs.Deferred(s.d.Log).With("component", "webhook")}
	wh, err := telnyx.ParseWebhook(body)
	if err != nil {
		return k.invalid(bodyID(body), err.Error())
	}
	if wh.EventID == "" {
		// Telnyx always sends one; derive a stable id so a retried delivery still deduplicates.
		wh.EventID = bodyID(body)
	}
	span.SetAttributes(attribute.String("event_id", wh.EventID), attribute.String("event_type", wh.EventType))
	log := obs.WithTrace(ctx, s.d.Log).With("component", "webhook", "event_id", wh.EventID, "event_type", wh.EventType, "attempt", wh.Attempt)
	k.log = log

	if events.IsReceipt(wh.EventType) {
		return s.queueReceipt(c, k, wh, &outcome)
	}
	if wh.EventType != telnyx.EventMessageReceived {
		// Anything new is kept as Telnyx sent it, never dropped. ParseWebhook bounds the type (64 letters,
		// digits, '.', '_', '-') and EventSubject maps it to one subject token.
		dup, err := s.publish(r.Context(), events.EventSubject(wh.EventType), wh.EventID, body, nil)
		if err != nil {
			return k.failed(wh.EventID, err)
		}
		if dup {
			outcome = metrics.WebhookDuplicate
		}
		return c.JSON(http.StatusOK, webhookResponse{Status: statusFor(dup, "acknowledged"), EventID: wh.EventID})
	}

	in, err := wh.InboundMessage()
	if err != nil {
		return k.invalid(wh.EventID, err.Error()) // an unparseable sender included: kept, never answered
	}
	our, ignore := s.ourNumber(in)
	now := s.d.Now().UTC()
	m := events.Message{
		Kind: events.KindInbound, ID: in.ID, EventID: wh.EventID, OurNumber: our, UserNumber: in.From,
		Text: in.Text, Media: in.Media, ReceivedAt: in.ReceivedAt, AcceptedAt: now, Attempt: wh.Attempt,
		AutoresponseType: in.AutoresponseType,
	}
	if ignore != "" {
		return k.ignored(m, ignore)
	}
	dup, err := s.publish(r.Context(), events.ConversationSubject(m.OurNumber, m.UserNumber), wh.EventID, m.Encode(), nil)
	if err != nil {
		return k.failed(wh.EventID, err)
	}
	if dup {
		outcome = metrics.WebhookDuplicate
	}
	span.SetAttributes(attribute.String("msg_id", m.ID))
	log.Debug("inbound message queued", "msg_id", m.ID, "user", phone.Mask(m.UserNumber), "duplicate", dup)
	return c.JSON(http.StatusOK, webhookResponse{Status: statusFor(dup, "queued"), EventID: wh.EventID, MessageID: m.ID})
}

// ourNumber picks the number of ours an inbound was sent to: the first of to[] and cc[] that is one of
// OurNumbers, never blindly to[0] (in a group MMS that may be another user's). A non-empty reason says the
// message must not be answered: sent to none of our numbers, or from one of them (two of our numbers would
// answer each other forever). With no OurNumbers configured (development) to[0] is ours, as before.
func (s *Server) ourNumber(in telnyx.InboundMessage) (our, ignore string) {
	ours := s.d.OurNumbers
	switch {
	case in.From == in.To || ours.Has(in.From):
		return in.To, reasonFromOurs
	case len(ours) == 0:
		return in.To, ""
	}
	for _, n := range in.Recipients {
		if ours.Has(n) {
			return n, ""
		}
	}
	return in.To, reasonNotOurs
}

// keeper keeps signed events that are not queued for the workers, and answers Telnyx 200 for them.
type keeper struct {
	s       *Server
	c       echo.Context
	log     *slog.Logger
	body    []byte
	outcome *string
}

// invalid keeps the body as Telnyx sent it in events.invalid, cut to fit the queue's message limit.
func (k keeper) invalid(eventID, reason string) error {
	hdr := nats.Header{}
	hdr.Set(events.HeaderReason, headerValue(reason))
	if _, err := k.s.publishCut(k.c.Request().Context(), events.SubjectInvalid, eventID, k.body, hdr); err != nil {
		k.log.Warn("queue unavailable", "err", err)
		return echo.NewHTTPError(http.StatusServiceUnavailable, "queue unavailable, retry later")
	}
	k.log.Info("webhook kept as invalid", "reason", reason)
	*k.outcome = metrics.WebhookInvalid
	return k.c.JSON(http.StatusOK, webhookResponse{Status: "invalid", EventID: eventID, Reason: reason})
}

// ignored keeps a usable inbound that must not be answered in events.ignored, as the Message it would have been.
func (k keeper) ignored(m events.Message, reason string) error {
	hdr := nats.Header{}
	hdr.Set(events.HeaderReason, reason)
	if _, err := k.s.publish(k.c.Request().Context(), events.SubjectIgnored, m.EventID, m.Encode(), hdr); err != nil {
		return k.failed(m.EventID, err)
	}
	k.log.Info("inbound message kept, not answered", "msg_id", m.ID, "reason", reason)
	*k.outcome = metrics.WebhookIgnored
	return k.c.JSON(http.StatusOK, webhookResponse{Status: "ignored", EventID: m.EventID, MessageID: m.ID, Reason: reason})
}

// failed answers a publish that failed: an event NATS can never store as it is is kept as invalid (retrying
// would fail the same way); anything else is NATS unavailable, and Telnyx retries after the 503.
func (k keeper) failed(eventID string, err error) error {
	if errors.Is(err, errUnqueueable) {
		return k.invalid(eventID, err.Error())
	}
	k.log.Warn("queue unavailable", "err", err)
	return echo.NewHTTPError(http.StatusServiceUnavailable, "queue unavailable, retry later")
}

// bodyID is a stable event id for a body that names none.
func bodyID(body []byte) string {
	sum := sha256.Sum256(body)
	return "body-" + hex.EncodeToString(sum[:16])
}

// queueReceipt publishes a delivery receipt as an events.Receipt for the workers. A signed receipt without
// a message id or status is kept as sent in events.invalid and answered 200, like an unusable inbound.
func (s *Server) queueReceipt(c echo.Context, k keeper, wh telnyx.Webhook, outcome *string) error {
	ctx := c.Request().Context()
	dr, err := wh.DeliveryReceipt()
	if err != nil {
		return k.invalid(wh.EventID, err.Error())
	}
	rc := events.Receipt{EventID: wh.EventID, EventType: wh.EventType, TelnyxID: dr.MessageID, Status: dr.Status,
		OccurredAt: dr.OccurredAt}
	if len(dr.Errors) > 0 {
		rc.ErrorCode, rc.ErrorTitle = dr.Errors[0].Code, dr.Errors[0].Title
	}
	dup, err := s.publish(ctx, events.EventSubject(wh.EventType), wh.EventID, rc.Encode(), nil)
	if err != nil {
		return k.failed(wh.EventID, err)
	}
	if dup {
		*outcome = metrics.WebhookDuplicate
	}
	return c.JSON(http.StatusOK, webhookResponse{Status: statusFor(dup, "acknowledged"), EventID: wh.EventID})
}

// webhookOutcome classifies a failed webhook for the metrics.
func webhookOutcome(err error) string {
	var he *echo.HTTPError
	if !errors.As(err, &he) {
		return metrics.WebhookBadRequest
	}
	switch he.Code {
	case http.StatusUnauthorized:
		return metrics.WebhookInvalidSignature
	case http.StatusServiceUnavailable:
		return metrics.WebhookUnavailable
	}
	return metrics.WebhookBadRequest
}

func statusFor(dup bool, fresh string) string {
	if dup {
		return "duplicate"
	}
	return fresh
}
