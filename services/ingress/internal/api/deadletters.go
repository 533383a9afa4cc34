package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/shared/events"
)

type deadLetterJSON struct {
	ID             uint64          `json:"id"`
	Reason         string          `json:"reason"`
	Class          string          `json:"class"`
	Attempts       int             `json:"attempts"`
	DeadLetteredAt time.Time       `json:"dead_lettered_at"`
	Message        *events.Message `json:"message,omitempty"`
	Raw            string          `json:"raw,omitempty"`
}

func toDeadLetter(m *jetstream.RawStreamMsg) deadLetterJSON {
	d := deadLetterJSON{ID: m.Sequence, Reason: m.Header.Get(events.HeaderDLQReason), Class: m.Header.Get(events.HeaderDLQClass)}
	d.Attempts, _ = strconv.Atoi(m.Header.Get(events.HeaderDLQAttempts))
	d.DeadLetteredAt, _ = time.Parse(time.RFC3339Nano, m.Header.Get(events.HeaderDLQTime))
	if msg, err := events.Decode(m.Data); err == nil {
		d.Message = &msg
	} else {
		d.Raw = string(m.Data)
	}
	return d
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
	st, err := s.d.JS.Stream(ctx, events.StreamDeadLetters)
	if err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "queue unavailable, retry later")
	}
	out := []deadLetterJSON{}
	seq := after + 1
	for len(out) < limit {
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject("dlq.>"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return echo.NewHTTPError(http.StatusServiceUnavailable, "queue unavailable, retry later")
		}
		out = append(out, toDeadLetter(m))
		seq = m.Sequence + 1
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
	st, err := s.d.JS.Stream(ctx, events.StreamDeadLetters)
	if err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "queue unavailable, retry later")
	}
	raw, err := st.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "dead letter not found")
	}
	if err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "queue unavailable, retry later")
	}
	m, err := events.Decode(raw.Data)
	if err != nil {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "dead letter cannot be replayed: "+err.Error())
	}
	hdr := nats.Header{}
	hdr.Set(events.HeaderReplay, "1")
	if _, err := s.publish(ctx, events.ConversationSubject(m.OurNumber, m.UserNumber), "replay-"+strconv.FormatUint(seq, 10), m.Encode(), hdr); err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "queue unavailable, retry later")
	}
	if err := st.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		s.d.Log.Warn("replayed dead letter not deleted", "component", "dead_letters", "id", seq, "err", err)
	}
	s.d.Log.Info("dead letter replayed", "component", "dead_letters", "id", seq, "msg_id", m.ID)
	return c.JSON(http.StatusAccepted, map[string]any{"status": "replayed", "id": seq, "message_id": m.ID})
}
