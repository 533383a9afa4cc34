package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
	Status    string `json:"status"` // queued, duplicate, acknowledged
	EventID   string `json:"event_id,omitempty"`
	MessageID string `json:"message_id,omitempty"`
}

// webhook verifies, parses and queues one Telnyx event. It answers 2xx only once JetStream has stored the
// event, so a 503 (NATS down, stream full) makes Telnyx deliver it again and nothing is lost.
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
	wh, err := telnyx.ParseWebhook(body)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	if wh.EventID == "" {
		// Telnyx always sends one; derive a stable id so a retried delivery still deduplicates.
		sum := sha256.Sum256(body)
		wh.EventID = "body-" + hex.EncodeToString(sum[:16])
	}
	span.SetAttributes(attribute.String("event_id", wh.EventID), attribute.String("event_type", wh.EventType))
	log := obs.WithTrace(ctx, s.d.Log).With("component", "webhook", "event_id", wh.EventID, "event_type", wh.EventType, "attempt", wh.Attempt)

	if events.IsReceipt(wh.EventType) {
		return s.queueReceipt(c, log, wh, body, &outcome)
	}
	if wh.EventType != telnyx.EventMessageReceived {
		// Anything new is kept as Telnyx sent it, never dropped.
		dup, err := s.publish(r.Context(), events.EventSubject(wh.EventType), wh.EventID, body)
		if err != nil {
			log.Warn("queue unavailable", "err", err)
			return echo.NewHTTPError(http.StatusServiceUnavailable, "queue unavailable, retry later")
		}
		if dup {
			outcome = metrics.WebhookDuplicate
		}
		return c.JSON(http.StatusOK, webhookResponse{Status: statusFor(dup, "acknowledged"), EventID: wh.EventID})
	}

	in, err := wh.InboundMessage()
	if err != nil {
		// Signed by Telnyx but unusable: keep it for inspection, and tell the sender what is wrong.
		if _, perr := s.publish(r.Context(), events.EventSubject("invalid"), wh.EventID, body); perr != nil {
			return echo.NewHTTPError(http.StatusServiceUnavailable, "queue unavailable, retry later")
		}
		return echo.NewHTTPError(http.StatusUnprocessableEntity, err.Error())
	}
	now := s.d.Now().UTC()
	m := events.Message{
		Kind: events.KindInbound, ID: in.ID, EventID: wh.EventID, OurNumber: in.To, UserNumber: in.From,
		Text: in.Text, Media: in.Media, ReceivedAt: in.ReceivedAt, AcceptedAt: now, Attempt: wh.Attempt,
		AutoresponseType: in.AutoresponseType,
	}
	dup, err := s.publish(r.Context(), events.ConversationSubject(m.OurNumber, m.UserNumber), wh.EventID, m.Encode())
	if err != nil {
		log.Warn("queue unavailable", "err", err)
		return echo.NewHTTPError(http.StatusServiceUnavailable, "queue unavailable, retry later")
	}
	if dup {
		outcome = metrics.WebhookDuplicate
	}
	span.SetAttributes(attribute.String("msg_id", m.ID))
	log.Info("inbound message queued", "msg_id", m.ID, "user", phone.Mask(m.UserNumber), "duplicate", dup)
	return c.JSON(http.StatusOK, webhookResponse{Status: statusFor(dup, "queued"), EventID: wh.EventID, MessageID: m.ID})
}

// queueReceipt publishes a delivery receipt as an events.Receipt for the workers. A signed receipt without
// a message id or status is kept as sent in events.invalid and answered 422, like an unusable inbound.
func (s *Server) queueReceipt(c echo.Context, log *slog.Logger, wh telnyx.Webhook, body []byte, outcome *string) error {
	ctx := c.Request().Context()
	dr, err := wh.DeliveryReceipt()
	if err != nil {
		if _, perr := s.publish(ctx, events.EventSubject("invalid"), wh.EventID, body); perr != nil {
			return echo.NewHTTPError(http.StatusServiceUnavailable, "queue unavailable, retry later")
		}
		return echo.NewHTTPError(http.StatusUnprocessableEntity, err.Error())
	}
	rc := events.Receipt{EventID: wh.EventID, EventType: wh.EventType, TelnyxID: dr.MessageID, Status: dr.Status,
		OccurredAt: dr.OccurredAt}
	if len(dr.Errors) > 0 {
		rc.ErrorCode, rc.ErrorTitle = dr.Errors[0].Code, dr.Errors[0].Title
	}
	dup, err := s.publish(ctx, events.EventSubject(wh.EventType), wh.EventID, rc.Encode())
	if err != nil {
		log.Warn("queue unavailable", "err", err)
		return echo.NewHTTPError(http.StatusServiceUnavailable, "queue unavailable, retry later")
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

// publish stores data in JetStream with msgID for deduplication and waits for the acknowledgement.
func (s *Server) publish(ctx context.Context, subject, msgID string, data []byte, hdr ...nats.Header) (duplicate bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.d.PublishTimeout)
	defer cancel()
	msg := nats.NewMsg(subject)
	msg.Data = data
	for _, h := range hdr {
		for k, v := range h {
			msg.Header[k] = v
		}
	}
	obs.InjectNATS(ctx, msg) // the worker continues this trace
	start := time.Now()
	ack, err := s.d.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID))
	s.d.Metrics.ObservePublish(time.Since(start), err)
	if err != nil {
		return false, err
	}
	return ack.Duplicate, nil
}
