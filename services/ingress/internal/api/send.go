package api

import (
	"context"
	"errors"
	"mime"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/smsconv/smsconv/services/ingress/internal/outbound"
	"github.com/smsconv/smsconv/shared/ids"
	"github.com/smsconv/smsconv/shared/phone"
)

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
	to, from, err := s.sendNumbers(req)
	if err != nil {
		return err
	}
	if err := outbound.CheckText(req.Message); err != nil {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, err.Error())
	}
	id := ids.Send(uuid.NewString())
	if k := c.Request().Header.Get("Idempotency-Key"); k != "" {
		if !validKey(k) {
			return echo.NewHTTPError(http.StatusBadRequest, "Idempotency-Key: letters, digits, '_', ':' and '-' only, at most 200 characters")
		}
		id = ids.Send(k)
	}
	q := outbound.Queue{Store: s.d.Store, Publish: func(ctx context.Context, subject, msgID string, data []byte) error {
		_, err := s.publish(ctx, subject, msgID, data, nil)
		return err
	}}
	rec, err := q.Send(c.Request().Context(), from, to, req.Message, id, s.d.Now())
	switch {
	case errors.Is(err, outbound.ErrOptedOut):
		return echo.NewHTTPError(http.StatusConflict, err.Error())
	case errors.Is(err, outbound.ErrKeyReused):
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "Idempotency-Key: "+err.Error())
	case errors.Is(err, outbound.ErrStore):
		return s.storeUnavailable("send")
	case err != nil:
		s.d.Log.Warn("queue unavailable", "component", "send", "err", err)
		return echo.NewHTTPError(http.StatusServiceUnavailable, "queue unavailable, retry later")
	}
	s.d.Log.Info("send queued", "component", "send", "msg_id", id, "to", phone.Mask(to))
	return c.JSON(http.StatusAccepted, sendResponse{ID: id, Status: rec.Status, From: rec.Our, To: rec.User, Text: rec.Text})
}

// sendNumbers checks the numbers of a send: to must be a valid number that is not ours (we would text
// ourselves, and answer) and costs no more than a message (premium-rate and shared-cost numbers are how toll
// fraud is paid); from must be one of ours when TELNYX_PHONE_NUMBER is set.
func (s *Server) sendNumbers(req sendRequest) (to, from string, err error) {
	from = s.d.DefaultFrom
	switch n, err := phone.Normalize(req.From); {
	case req.From == "":
	case err == nil && s.d.OurNumbers.Has(n):
		from = n
	case len(s.d.OurNumbers) > 0:
		return "", "", echo.NewHTTPError(http.StatusUnprocessableEntity, "from: not one of our numbers (TELNYX_PHONE_NUMBER)")
	default: // no numbers configured (development): any valid one
		if from, err = phone.ParseE164(req.From); err != nil {
			return "", "", echo.NewHTTPError(http.StatusUnprocessableEntity, "from: "+err.Error())
		}
	}
	if from == "" {
		return "", "", echo.NewHTTPError(http.StatusUnprocessableEntity, "from: required (TELNYX_PHONE_NUMBER is not configured)")
	}
	// Ours before valid: our numbers need only be possible ones (a test range), and the answer should say why.
	if n, err := phone.Normalize(req.To); err == nil && (n == from || s.d.OurNumbers.Has(n)) {
		return "", "", echo.NewHTTPError(http.StatusUnprocessableEntity, "to: one of our own numbers")
	}
	if to, err = phone.ParseE164(req.To); err != nil {
		return "", "", echo.NewHTTPError(http.StatusUnprocessableEntity, "to: "+err.Error())
	}
	if kind, charged := phone.Charged(to); charged {
		return "", "", echo.NewHTTPError(http.StatusUnprocessableEntity, "to: a "+kind+" number, which this API does not text")
	}
	return to, from, nil
}

// validKey: a Telnyx-safe key (ids.Valid) short enough to stay one with the "snd_" prefix.
func validKey(k string) bool { return len(k) <= 200 && ids.Valid(k) }
