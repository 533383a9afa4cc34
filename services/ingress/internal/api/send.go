package api

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/ids"
	"github.com/smsconv/smsconv/shared/phone"
	"github.com/smsconv/smsconv/shared/store"
)

// maxTextChars is Telnyx's limit on a message's text.
const maxTextChars = 1600

type sendRequest struct {
	To      string `json:"to"`
	Message string `json:"message"`
	From    string `json:"from"`
}

type sendResponse struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	From   string `json:"from"`
	To     string `json:"to"`
	Text   string `json:"text"`
}

// send queues an outbound SMS for the worker. An Idempotency-Key header makes a retried request return the
// same id instead of sending twice.
func (s *Server) send(c echo.Context) error {
	// Without this check a form-encoded body (curl -d without -H) binds as an empty request and is answered
	// as an invalid phone number.
	if mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType)); err != nil || mt != echo.MIMEApplicationJSON {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "Content-Type: want application/json")
	}
	var req sendRequest
	if err := c.Bind(&req); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "malformed JSON body: want {\"to\": \"+E164\", \"message\": \"text\"}")
	}
	to, err := phone.ParseE164(req.To)
	if err != nil {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "to: "+err.Error())
	}
	from := s.d.DefaultFrom
	if req.From != "" {
		if from, err = phone.ParseE164(req.From); err != nil {
			return echo.NewHTTPError(http.StatusUnprocessableEntity, "from: "+err.Error())
		}
	}
	if from == "" {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "from: required (TELNYX_PHONE_NUMBER is not configured)")
	}
	if strings.TrimSpace(req.Message) == "" {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "message: required")
	}
	if n := utf8.RuneCountInString(req.Message); n > maxTextChars {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "message: too long ("+itoa(n)+" characters, at most 1600)")
	}
	id := "snd_" + uuid.NewString()
	if k := c.Request().Header.Get("Idempotency-Key"); k != "" {
		if !validKey(k) {
			return echo.NewHTTPError(http.StatusBadRequest, "Idempotency-Key: letters, digits, '_', ':' and '-' only, at most 200 characters")
		}
		id = "snd_" + k
	}
	ctx := c.Request().Context()
	key := store.Key{Our: from, User: to}
	if conv, err := s.d.Store.Conversation(ctx, key); err == nil && conv.OptedOut {
		return echo.NewHTTPError(http.StatusConflict, "recipient opted out (STOP): nothing is sent to this number until they text START")
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return s.storeUnavailable("send")
	}
	if existing, err := s.d.Store.GetMessage(ctx, id); err == nil {
		// As Telnyx does, a key names one request: reusing it for another message is refused, not answered
		// with the first message as if this one had been queued.
		if existing.Our != from || existing.User != to || existing.Text != req.Message {
			return echo.NewHTTPError(http.StatusUnprocessableEntity,
				"Idempotency-Key: already used for a different request (to, from or message differ); use a new key for a new message")
		}
		return c.JSON(http.StatusAccepted, sendResponse{ID: id, Status: existing.Status, From: existing.Our, To: existing.User, Text: existing.Text})
	}
	now := s.d.Now().UTC()
	rec := store.Message{ID: id, Our: from, User: to, Text: req.Message, CreatedAt: now}
	if err := s.d.Store.QueueSend(ctx, rec); err != nil {
		return s.storeUnavailable("send")
	}
	m := events.Message{Kind: events.KindSend, ID: id, OurNumber: from, UserNumber: to, Text: req.Message, ReceivedAt: now, AcceptedAt: now}
	if _, err := s.publish(ctx, events.ConversationSubject(from, to), id, m.Encode()); err != nil {
		// Not queued: undo the record so GET /messages/{id} does not show a message that will never go.
		_ = s.d.Store.DeleteMessage(context.WithoutCancel(ctx), id)
		s.d.Log.Warn("queue unavailable", "component", "send", "err", err)
		return echo.NewHTTPError(http.StatusServiceUnavailable, "queue unavailable, retry later")
	}
	s.d.Log.Info("send queued", "component", "send", "msg_id", id, "to", phone.Mask(to))
	return c.JSON(http.StatusAccepted, sendResponse{ID: id, Status: store.StatusQueued, From: from, To: to, Text: req.Message})
}

// validKey: a Telnyx-safe key (ids.Valid) short enough to stay one with the "snd_" prefix.
func validKey(k string) bool { return len(k) <= 200 && ids.Valid(k) }
