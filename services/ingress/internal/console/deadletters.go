package console

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/shared/deadletter"
	"github.com/smsconv/smsconv/shared/store"
)

// deadLettersShown is the page size of the dead-letter list, and how many mark conversations as failing.
const deadLettersShown = 100

// failing is the conversations with a dead letter waiting to be replayed.
func (c *Console) failing(ctx context.Context) (map[store.Key]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	letters, err := deadletter.List(ctx, c.d.JS, 0, 1000)
	if err != nil {
		return nil, err
	}
	out := map[store.Key]bool{}
	for _, l := range letters {
		if l.Message != nil {
			out[store.Key{Our: l.Message.OurNumber, User: l.Message.UserNumber}] = true
		}
	}
	return out, nil
}

// DeadLetters is the dead-letter page.
type DeadLetters struct {
	Letters []deadletter.Letter
	// Next is the id to page after, 0 on the last page.
	Next uint64
}

func (c *Console) deadLetters(ctx echo.Context) error {
	after, _ := strconv.ParseUint(ctx.QueryParam("after"), 10, 64)
	rctx, cancel := context.WithTimeout(ctx.Request().Context(), 5*time.Second)
	defer cancel()
	letters, err := deadletter.List(rctx, c.d.JS, after, deadLettersShown)
	if err != nil {
		return c.storeDown(ctx, err)
	}
	d := DeadLetters{Letters: letters}
	if len(letters) == deadLettersShown {
		d.Next = letters[len(letters)-1].ID
	}
	return c.render(ctx, http.StatusOK, "deadletters", pageData{Title: "Dead letters", Nav: "dead", Data: d,
		Flash: ctx.QueryParam("done")})
}

// replay puts one dead letter back at the end of its conversation's queue (the API's replay).
func (c *Console) replay(ctx echo.Context) error {
	id, err := strconv.ParseUint(ctx.Param("id"), 10, 64)
	if err != nil || id == 0 {
		return c.render(ctx, http.StatusBadRequest, "error", pageData{Title: "Bad id", Error: "Not a dead-letter id."})
	}
	rctx, cancel := context.WithTimeout(ctx.Request().Context(), 5*time.Second)
	defer cancel()
	m, err := deadletter.Replay(rctx, c.d.JS, id)
	switch {
	case errors.Is(err, deadletter.ErrNotFound):
		return c.render(ctx, http.StatusNotFound, "error", pageData{Title: "Not found", Error: "That dead letter is gone (replayed already?)."})
	case errors.Is(err, deadletter.ErrNotReplayable):
		return c.render(ctx, http.StatusUnprocessableEntity, "error", pageData{Title: "Not replayable", Error: err.Error()})
	case errors.Is(err, deadletter.ErrNotDeleted):
		c.d.Log.Warn("replayed dead letter not deleted", "component", "console", "id", id, "err", err)
	case err != nil:
		return c.storeDown(ctx, err)
	}
	c.d.Log.Info("dead letter replayed", "component", "console", "id", id, "msg_id", m.ID)
	c.announce(store.Key{Our: m.OurNumber, User: m.UserNumber})
	return ctx.Redirect(http.StatusSeeOther, "/console/dead-letters?done=Replayed+dead+letter+"+strconv.FormatUint(id, 10))
}

// publish is the console's queue publish: JetStream with a deduplication id, acknowledged.
func (c *Console) publish(ctx context.Context, subject, msgID string, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	msg := nats.NewMsg(subject)
	msg.Data = data
	_, err := c.d.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID))
	return err
}
