package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/smsconv/smsconv/shared/ids"
	"github.com/smsconv/smsconv/shared/phone"
	"github.com/smsconv/smsconv/shared/sms"
	"github.com/smsconv/smsconv/shared/store"
)

// conversationJSON is the seed's shape ({phone_number, state, message_count, created_at}) plus our fields.
type conversationJSON struct {
	PhoneNumber  string            `json:"phone_number"`
	OurNumber    string            `json:"our_number"`
	State        string            `json:"state"`
	MessageCount int               `json:"message_count"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	OptedOut     bool              `json:"opted_out"`
	RateLimited  int               `json:"rate_limited"` // inbound messages left unanswered by the reply limit
	TakenOver    bool              `json:"taken_over"`
	FlowVersion  string            `json:"flow_version,omitempty"`
	Vars         map[string]string `json:"vars,omitempty"`
}

type messageJSON struct {
	ID         string    `json:"id"`
	Direction  string    `json:"direction"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Text       string    `json:"text"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	ReplyTo    string    `json:"reply_to,omitempty"`
	TelnyxID   string    `json:"telnyx_id,omitempty"`
	ErrorCode  string    `json:"error_code,omitempty"`
	ErrorTitle string    `json:"error_title,omitempty"`
	Media      any       `json:"media,omitempty"`
	// Encoding and Parts are how Telnyx bills an outbound text (gsm7 or ucs2, segments); SendAttempts the
	// requests made for it.
	Encoding     string `json:"encoding,omitempty"`
	Parts        int    `json:"parts,omitempty"`
	SendAttempts int    `json:"send_attempts,omitempty"`
	// UnknownOutcomeAt is when a send of it was first found with an unknown outcome (its answer was lost).
	UnknownOutcomeAt *time.Time `json:"unknown_outcome_at,omitempty"`
}

func toMessageJSON(m store.Message) messageJSON {
	j := messageJSON{ID: m.ID, Direction: m.Direction, Text: m.Text, Status: m.Status, CreatedAt: m.CreatedAt,
		UpdatedAt: m.UpdatedAt, ReplyTo: m.ReplyTo, TelnyxID: m.TelnyxID, ErrorCode: m.ErrorCode, ErrorTitle: m.ErrorTitle}
	if len(m.Media) > 0 {
		j.Media = m.Media
	}
	if m.Direction == store.DirectionInbound {
		j.From, j.To = m.User, m.Our
		return j
	}
	j.From, j.To = m.Our, m.User
	j.Encoding, j.Parts, j.SendAttempts = m.Encoding, m.Parts, m.SendAttempts
	if !m.UnknownAt.IsZero() {
		j.UnknownOutcomeAt = &m.UnknownAt
	}
	if j.Encoding == "" {
		// Not tried yet (BeginSend records them): the text's count is what it will be billed as.
		seg := sms.Count(m.Text)
		j.Encoding, j.Parts = string(seg.Encoding), seg.Parts
	}
	return j
}

func toConversationJSON(k store.Key, s store.Summary) conversationJSON {
	return conversationJSON{PhoneNumber: k.User, OurNumber: k.Our, State: s.State, MessageCount: s.MessageCount,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, OptedOut: s.OptedOut, RateLimited: s.RateLimited, TakenOver: s.TakenOver,
		FlowVersion: s.FlowVersion, Vars: s.Vars}
}

// listConversations answers a JSON array (the seed's shape); the next page is in the Link header.
func (s *Server) listConversations(c echo.Context) error {
	limit, err := queryInt(c, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	page, next, err := s.d.Store.List(c.Request().Context(), c.QueryParam("cursor"), limit)
	if err != nil {
		return s.storeUnavailable("list_conversations")
	}
	out := make([]conversationJSON, 0, len(page))
	for _, p := range page {
		out = append(out, toConversationJSON(p.Key, p))
	}
	if next != "" {
		q := url.Values{"cursor": {next}, "limit": {strconv.Itoa(limit)}}
		c.Response().Header().Set("Link", fmt.Sprintf(`</conversations?%s>; rel="next"`, q.Encode()))
	}
	return c.JSON(http.StatusOK, out)
}

// getConversation shows one conversation with its history. The conversation is (our number, phone): our
// number is ?our_number=, by default TELNYX_PHONE_NUMBER.
func (s *Server) getConversation(c echo.Context) error {
	user, err := phone.ParseURL(c.Param("phone"))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "phone: "+err.Error())
	}
	our := s.d.DefaultFrom
	if v := c.QueryParam("our_number"); v != "" {
		if our, err = phone.ParseURL(v); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "our_number: "+err.Error())
		}
	}
	if our == "" {
		return echo.NewHTTPError(http.StatusBadRequest, "our_number: required (TELNYX_PHONE_NUMBER is not configured)")
	}
	limit, err := queryInt(c, "history", 100, 0, 1000)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	k := store.Key{Our: our, User: user}
	conv, err := s.d.Store.Conversation(ctx, k)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "conversation not found")
	}
	if err != nil {
		return s.storeUnavailable("get_conversation")
	}
	hist, err := s.d.Store.History(ctx, k, limit)
	if err != nil {
		return s.storeUnavailable("get_conversation")
	}
	msgs := make([]messageJSON, 0, len(hist))
	for _, m := range hist {
		msgs = append(msgs, toMessageJSON(m))
	}
	return c.JSON(http.StatusOK, struct {
		conversationJSON
		Messages []messageJSON `json:"messages"`
	}{toConversationJSON(k, store.Summary{Key: k, Conversation: conv}), msgs})
}

func (s *Server) getMessage(c echo.Context) error {
	id := c.Param("id")
	m, err := s.d.Store.GetMessage(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) && !isKey(id) {
		// A Telnyx message id (as the webhook answer names it) is kept under its inbound key.
		m, err = s.d.Store.GetMessage(c.Request().Context(), ids.Inbound(id))
	}
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "message not found")
	}
	if err != nil {
		return s.storeUnavailable("get_message")
	}
	return c.JSON(http.StatusOK, toMessageJSON(m))
}

// isKey reports whether id is already one of our keys (ids' prefixes), not a raw Telnyx id.
func isKey(id string) bool {
	for _, p := range []string{ids.PrefixInbound, ids.PrefixReply, ids.PrefixSend, ids.PrefixOperator} {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

// queryInt reads the integer query parameter name (def when absent), answering 400 outside lo..hi.
func queryInt(c echo.Context, name string, def, lo, hi int) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("%s: want %d..%d", name, lo, hi))
	}
	return n, nil
}
