package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/smsconv/smsconv/shared/deadletter"
	"github.com/smsconv/smsconv/shared/events"
)

// deadLetterJSON is a dead letter as GET /dead-letters answers it.
type deadLetterJSON struct {
	ID             uint64          `json:"id"`
	Reason         string          `json:"reason"`
	Class          string          `json:"class"`
	Attempts       int             `json:"attempts"`
	DeadLetteredAt time.Time       `json:"dead_lettered_at"`
	Message        *events.Message `json:"message,omitempty"`
	Raw            string          `json:"raw,omitempty"`
}

// listDeadLetters answers the dead letters oldest first; ?after=<id> pages, ?limit= bounds the page.
func (s *Server) listDeadLetters(c echo.Context) error {
	limit, err := queryInt(c, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	var after uint64
	if v := c.QueryParam("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "after: want a dead-letter id")
		}
		after = n
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
	defer cancel()
	letters, err := deadletter.List(ctx, s.d.JS, after, limit)
	if err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "queue unavailable, retry later")
	}
	out := make([]deadLetterJSON, len(letters))
	for i, l := range letters {
		out[i] = deadLetterJSON{ID: l.ID, Reason: l.Reason, Class: l.Class, Attempts: l.Attempts,
			DeadLetteredAt: l.DeadLetteredAt, Message: l.Message, Raw: string(l.Raw)}
	}
	if len(out) == limit {
		c.Response().Header().Set("Link", `</dead-letters?after=`+strconv.FormatUint(out[len(out)-1].ID, 10)+`&limit=`+strconv.Itoa(limit)+`>; rel="next"`)
	}
	return c.JSON(http.StatusOK, out)
}

// replayDeadLetter puts a dead letter back at the end of its conversation's queue and removes it from the
// dead-letter stream. A reply that had failed permanently is sent again.
func (s *Server) replayDeadLetter(c echo.Context) error {
	seq, err := strconv.ParseUint(c.Param("id"), 10, 64)
	if err != nil || seq == 0 {
		return echo.NewHTTPError(http.StatusBadRequest, "id: want a dead-letter id")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
	defer cancel()
	m, err := deadletter.Replay(ctx, s.d.JS, seq)
	switch {
	case errors.Is(err, deadletter.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, "dead letter not found")
	case errors.Is(err, deadletter.ErrNotReplayable):
		return echo.NewHTTPError(http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, deadletter.ErrNotDeleted):
		s.d.Log.Warn("replayed dead letter not deleted", "component", "dead_letters", "id", seq, "err", err)
	case err != nil:
		return echo.NewHTTPError(http.StatusServiceUnavailable, "queue unavailable, retry later")
	}
	s.d.Log.Info("dead letter replayed", "component", "dead_letters", "id", seq, "msg_id", m.ID)
	return c.JSON(http.StatusAccepted, map[string]any{"status": "replayed", "id": seq, "message_id": m.ID})
}
