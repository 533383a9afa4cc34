package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/phone"
	"github.com/smsconv/smsconv/shared/store"
)

// historyShown is how many of a conversation's last messages the thread shows.
const historyShown = 200

// Thread is one conversation as the thread page shows it.
type Thread struct {
	Key       store.Key
	Conv      conversation.Conversation
	TakenOver bool
	Messages  []store.Message
	// CSRF and SendKey go in the forms (the fragments render without the page).
	CSRF, SendKey string
}

// thread shows one conversation as a chat. ?fragment=messages answers only the bubbles (live updates).
func (c *Console) thread(ctx echo.Context) error {
	k, err := c.threadKey(ctx)
	if err != nil {
		return c.render(ctx, http.StatusBadRequest, "error", pageData{Title: "Bad number", Error: err.Error()})
	}
	rctx := ctx.Request().Context()
	conv, err := c.d.Store.Conversation(rctx, k)
	if errors.Is(err, store.ErrNotFound) {
		return c.render(ctx, http.StatusNotFound, "error", pageData{Title: "Not found", Error: "No conversation with that number."})
	}
	if err != nil {
		return c.storeDown(ctx, err)
	}
	hist, err := c.d.Store.History(rctx, k, historyShown)
	if err != nil {
		return c.storeDown(ctx, err)
	}
	t := Thread{Key: k, Conv: conv, TakenOver: takenOver(store.Summary{Key: k, Conversation: conv}), Messages: hist,
		SendKey: sendKey()}
	if s, ok := ctx.Get(sessionKey).(session); ok {
		t.CSRF = c.keys.csrfToken(s)
	}
	return c.render(ctx, http.StatusOK, "thread", pageData{Title: phone.Mask(k.User), Nav: "list", Data: t,
		Flash: ctx.QueryParam("done")})
}

// threadKey reads the conversation from the path (the user) and ?our_number= (default TELNYX_PHONE_NUMBER).
func (c *Console) threadKey(ctx echo.Context) (store.Key, error) {
	user, err := phone.ParseURL(ctx.Param("phone"))
	if err != nil {
		return store.Key{}, err
	}
	our := c.d.DefaultOur
	if v := ctx.QueryParam("our_number"); v != "" {
		if our, err = phone.ParseURL(v); err != nil {
			return store.Key{}, err
		}
	}
	if our == "" {
		return store.Key{}, errors.New("our_number: required (TELNYX_PHONE_NUMBER is not configured)")
	}
	return store.Key{Our: our, User: user}, nil
}

// threadURL is the thread page of k.
func threadURL(k store.Key) string {
	return "/console/conversations/" + url.PathEscape(k.User) + "?our_number=" + url.QueryEscape(k.Our)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func fmtClock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("15:04:05")
}

// statusClass is the CSS class of a message status (a fixed set, so no user data reaches a class name).
func statusClass(s string) string {
	switch s {
	case store.StatusReceived, store.StatusPending, store.StatusQueued, store.StatusSent, store.StatusDelivered,
		store.StatusFailed, store.StatusBlocked, store.StatusSkipped:
		return "st-" + s
	}
	return "st-other"
}

// actionURL is the URL of a thread's form action (takeover, handback, send).
func actionURL(k store.Key, action string) string {
	return "/console/conversations/" + url.PathEscape(k.User) + "/" + action + "?our_number=" + url.QueryEscape(k.Our)
}

func isImage(contentType string) bool { return strings.HasPrefix(contentType, "image/") }
