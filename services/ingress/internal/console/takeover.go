package console

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/smsconv/smsconv/services/ingress/internal/outbound"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/ids"
	"github.com/smsconv/smsconv/shared/phone"
	"github.com/smsconv/smsconv/shared/store"
)

// operatorPrefix starts the id of every message an operator sends from the console, so the thread can
// tell them from the flow's replies and from POST /sms/send.
const operatorPrefix = ids.PrefixOperator

func takenOver(s store.Summary) bool { return s.TakenOver }

func isOperator(m store.Message) bool { return strings.HasPrefix(m.ID, operatorPrefix) }

// sendKey is a fresh key for the operator's message form: submitting the same form twice sends once.
func sendKey() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// takeOver hands the conversation to the operator: the flow stops answering, inbound messages are kept.
func (c *Console) takeOver(ctx echo.Context) error { return c.setTakenOver(ctx, true) }

// handBack returns the conversation to the flow, in the state it was in.
func (c *Console) handBack(ctx echo.Context) error { return c.setTakenOver(ctx, false) }

func (c *Console) setTakenOver(ctx echo.Context, on bool) error {
	k, err := c.threadKey(ctx)
	if err != nil {
		return c.render(ctx, http.StatusBadRequest, "error", pageData{Title: "Bad number", Error: err.Error()})
	}
	rctx := ctx.Request().Context()
	if _, err := c.d.Store.Conversation(rctx, k); errors.Is(err, store.ErrNotFound) {
		return c.render(ctx, http.StatusNotFound, "error", pageData{Title: "Not found", Error: "No conversation with that number."})
	} else if err != nil {
		return c.storeDown(ctx, err)
	}
	if err := c.d.Store.SetTakenOver(rctx, k, on); err != nil {
		return c.storeDown(ctx, err)
	}
	c.announce(k)
	what := "handed back to the flow"
	if on {
		what = "taken over"
	}
	c.d.Log.Info("conversation "+what, "component", "console", "user", phone.Mask(k.User))
	return ctx.Redirect(http.StatusSeeOther, threadURL(k)+"&done="+what)
}

// send queues the operator's message through the conversation's queue, like POST /sms/send.
func (c *Console) send(ctx echo.Context) error {
	k, err := c.threadKey(ctx)
	if err != nil {
		return c.render(ctx, http.StatusBadRequest, "error", pageData{Title: "Bad number", Error: err.Error()})
	}
	text, key := ctx.FormValue("text"), ctx.FormValue("key")
	textErr := outbound.CheckText(text) // the same rule as POST /sms/send
	switch {
	case strings.TrimSpace(text) == "":
		return c.render(ctx, http.StatusUnprocessableEntity, "error", pageData{Title: "Not sent", Error: "Type a message first."})
	case textErr != nil:
		return c.render(ctx, http.StatusUnprocessableEntity, "error", pageData{Title: "Not sent", Error: textErr.Error() + "."})
	case len(key) < 16 || len(key) > 64 || strings.Trim(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "":
		return c.render(ctx, http.StatusBadRequest, "error", pageData{Title: "Not sent", Error: "Reload the page and try again."})
	}
	rctx := ctx.Request().Context()
	conv, err := c.d.Store.Conversation(rctx, k)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return c.storeDown(ctx, err)
	}
	if !conv.TakenOver {
		return c.render(ctx, http.StatusConflict, "error", pageData{Title: "Not sent",
			Error: "Take the conversation over first, so the flow and you do not both answer."})
	}
	q := outbound.Queue{Store: c.d.Store, Publish: c.publish}
	_, err = q.Send(rctx, k.Our, k.User, text, ids.Operator(key), c.d.Now())
	switch {
	case errors.Is(err, outbound.ErrOptedOut):
		return c.render(ctx, http.StatusConflict, "error", pageData{Title: "Not sent", Error: "The user opted out (STOP): " +
			"nothing is sent to this number until they text START."})
	case errors.Is(err, outbound.ErrKeyReused):
		return c.render(ctx, http.StatusConflict, "error", pageData{Title: "Not sent",
			Error: "This form was already sent with another message. Reload the page to write a new one."})
	case err != nil:
		return c.storeDown(ctx, err)
	}
	c.d.Log.Info("operator message queued", "component", "console", "user", phone.Mask(k.User))
	return ctx.Redirect(http.StatusSeeOther, threadURL(k))
}

// announce tells every open console that the conversation changed.
func (c *Console) announce(k store.Key) {
	events.Announcer{NC: c.d.NC}.Announce(events.Change{Our: k.Our, User: k.User})
}
