package telnyx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smsconv/smsconv/shared/conversation"
)

// Messaging event types this package reads. Other types parse as a Webhook and are the caller's to route.
const (
	EventMessageReceived  = "message.received"
	EventMessageSent      = "message.sent"
	EventMessageFinalized = "message.finalized"
)

// Delivery statuses of payload.to[].status in message.sent and message.finalized.
const (
	StatusQueued              = "queued"
	StatusSending             = "sending"
	StatusSent                = "sent"
	StatusExpired             = "expired"
	StatusSendingFailed       = "sending_failed"
	StatusDeliveryUnconfirmed = "delivery_unconfirmed"
	StatusDelivered           = "delivered"
	StatusDeliveryFailed      = "delivery_failed"
)

// finalStatus maps each known status to whether Telnyx will report nothing further about the message.
var finalStatus = map[string]bool{
	StatusQueued:              false,
	StatusSending:             false,
	StatusSent:                false,
	StatusExpired:             true,
	StatusSendingFailed:       true,
	StatusDeliveryUnconfirmed: true,
	StatusDelivered:           true,
	StatusDeliveryFailed:      true,
}

// ErrMalformed is wrapped by every webhook parse error; the message says what is wrong, never the body.
var ErrMalformed = errors.New("malformed webhook")

// ErrUnexpectedEvent is returned when a payload accessor is called on a webhook of another event type.
var ErrUnexpectedEvent = errors.New("unexpected event type")

// Webhook is the envelope of one Telnyx webhook delivery. Payload is kept raw: its shape depends on EventType.
type Webhook struct {
	EventType string
	// EventID is data.id, Telnyx's id of the event (the same across redeliveries). It may be empty; the
	// caller decides whether it can do without it.
	EventID    string
	OccurredAt time.Time
	// Attempt is meta.attempt, which counts deliveries of this event (0 when absent or unreadable).
	Attempt     int
	DeliveredTo string
	Payload     json.RawMessage
}

// InboundMessage is what this product reads from a message.received payload.
type InboundMessage struct {
	ID                 string
	Direction          string
	Type               string // SMS or MMS
	From               string // payload.from.phone_number
	To                 string // the first payload.to[].phone_number: our number
	Text               string // may be empty for an MMS carrying only media
	MessagingProfileID string
	AutoresponseType   string
	Media              []conversation.Media
	// ReceivedAt is payload.received_at, or the event's occurred_at when that is absent.
	ReceivedAt time.Time
	Parts      int
}

// ErrorDetail is one entry of a Telnyx errors[] array.
type ErrorDetail struct {
	Code   string
	Title  string
	Detail string
}

// DeliveryReceipt is what this product reads from a message.sent or message.finalized payload.
type DeliveryReceipt struct {
	MessageID string
	// Status is payload.to[0].status, lower-cased: one of the Status... constants, or a newer value.
	Status     string
	To         string
	Errors     []ErrorDetail
	OccurredAt time.Time
}

// Final reports whether r's status is one after which Telnyx reports nothing more about the message.
// Unknown statuses are not final.
func (r DeliveryReceipt) Final() bool { return finalStatus[r.Status] }

// envelope is the top level of a webhook, decoded in one pass. Every field type below accepts any JSON value,
// so the only type error Unmarshal can report is a data that is not an object; a meta of the wrong shape cannot
// make an otherwise good event unreadable.
type envelope struct {
	Data *dataFields `json:"data"`
	Meta metaFields  `json:"meta"`
}

type dataFields struct {
	EventType  flexString      `json:"event_type"`
	ID         flexString      `json:"id"`
	OccurredAt flexTime        `json:"occurred_at"`
	Payload    json.RawMessage `json:"payload"`
}

type metaFields struct {
	Attempt     flexInt
	DeliveredTo flexString
}

// UnmarshalJSON implements json.Unmarshaler; it never fails.
func (m *metaFields) UnmarshalJSON(b []byte) error {
	*m = metaFields{}
	if len(b) == 0 || b[0] != '{' {
		return nil
	}
	var f struct {
		Attempt     flexInt    `json:"attempt"`
		DeliveredTo flexString `json:"delivered_to"`
	}
	if json.Unmarshal(b, &f) == nil {
		*m = metaFields(f)
	}
	return nil
}

// ParseWebhook reads the envelope of a webhook body. It requires a JSON object with a data object carrying a
// non-empty event_type; everything else is read leniently and left zero when absent or of an unexpected type.
func ParseWebhook(body []byte) (Webhook, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return Webhook{}, fmt.Errorf("%w: empty body", ErrMalformed)
	}
	var env envelope
	err := json.Unmarshal(trimmed, &env)
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		// Report the offset in the caller's body, not in the trimmed one.
		off := se.Offset + int64(len(body)-len(bytes.TrimLeft(body, " \t\r\n")))
		return Webhook{}, fmt.Errorf("%w: invalid JSON at offset %d: %s", ErrMalformed, off, se.Error())
	}
	switch _, dataType := errors.AsType[*json.UnmarshalTypeError](err); {
	case trimmed[0] != '{':
		return Webhook{}, fmt.Errorf("%w: top level is not a JSON object", ErrMalformed)
	case dataType:
		return Webhook{}, fmt.Errorf("%w: data is not an object", ErrMalformed)
	case err != nil:
		return Webhook{}, fmt.Errorf("%w: %s", ErrMalformed, err.Error())
	case env.Data == nil:
		return Webhook{}, fmt.Errorf("%w: missing data", ErrMalformed)
	case env.Data.EventType == "":
		return Webhook{}, fmt.Errorf("%w: missing data.event_type", ErrMalformed)
	}
	return Webhook{
		EventType:   string(env.Data.EventType),
		EventID:     string(env.Data.ID),
		OccurredAt:  time.Time(env.Data.OccurredAt),
		Attempt:     clampInt(int64(env.Meta.Attempt)),
		DeliveredTo: string(env.Meta.DeliveredTo),
		Payload:     env.Data.Payload,
	}, nil
}

// requireObject reports raw, the value of field name, if it is absent or not a JSON object.
func requireObject(raw json.RawMessage, name string) error {
	switch {
	case len(raw) == 0:
		return fmt.Errorf("%w: missing %s", ErrMalformed, name)
	case raw[0] != '{':
		return fmt.Errorf("%w: %s is not an object", ErrMalformed, name)
	}
	return nil
}

type inboundPayload struct {
	ID                 flexString           `json:"id"`
	Direction          flexString           `json:"direction"`
	Type               flexString           `json:"type"`
	From               party                `json:"from"`
	To                 flexList[party]      `json:"to"`
	Text               flexString           `json:"text"`
	Media              flexList[mediaEntry] `json:"media"`
	MessagingProfileID flexString           `json:"messaging_profile_id"`
	AutoresponseType   flexString           `json:"autoresponse_type"`
	ReceivedAt         flexTime             `json:"received_at"`
	Parts              flexInt              `json:"parts"`
}

// InboundMessage reads the payload of a message.received webhook. It fails (wrapping ErrMalformed) when the
// payload id, from or to number is missing: without them the message cannot be deduplicated or answered. An
// empty text is not an error (an MMS may carry only media).
func (w Webhook) InboundMessage() (InboundMessage, error) {
	if w.EventType != EventMessageReceived {
		return InboundMessage{}, fmt.Errorf("%w: %q is not %s", ErrUnexpectedEvent, w.EventType, EventMessageReceived)
	}
	if err := requireObject(w.Payload, "data.payload"); err != nil {
		return InboundMessage{}, err
	}
	var p inboundPayload
	if err := json.Unmarshal(w.Payload, &p); err != nil {
		return InboundMessage{}, fmt.Errorf("%w: data.payload: %s", ErrMalformed, err.Error())
	}
	var to string
	if len(p.To) > 0 {
		to = string(p.To[0].PhoneNumber)
	}
	switch {
	case p.ID == "":
		return InboundMessage{}, fmt.Errorf("%w: missing data.payload.id", ErrMalformed)
	case p.From.PhoneNumber == "":
		return InboundMessage{}, fmt.Errorf("%w: missing data.payload.from.phone_number", ErrMalformed)
	case to == "":
		return InboundMessage{}, fmt.Errorf("%w: missing data.payload.to[0].phone_number", ErrMalformed)
	}
	m := InboundMessage{
		ID:                 string(p.ID),
		Direction:          string(p.Direction),
		Type:               string(p.Type),
		From:               string(p.From.PhoneNumber),
		To:                 to,
		Text:               string(p.Text),
		MessagingProfileID: string(p.MessagingProfileID),
		AutoresponseType:   string(p.AutoresponseType),
		ReceivedAt:         time.Time(p.ReceivedAt),
		Parts:              clampInt(int64(p.Parts)),
	}
	if m.ReceivedAt.IsZero() {
		m.ReceivedAt = w.OccurredAt
	}
	for _, e := range p.Media {
		// An attachment without a URL cannot be fetched or shown; keeping it would only mislead.
		if e.URL == "" {
			continue
		}
		m.Media = append(m.Media, conversation.Media{URL: string(e.URL), ContentType: string(e.ContentType), Size: int64(e.Size)})
	}
	return m, nil
}

type receiptPayload struct {
	ID          flexString           `json:"id"`
	To          flexList[party]      `json:"to"`
	Errors      flexList[errorEntry] `json:"errors"`
	CompletedAt flexTime             `json:"completed_at"`
	SentAt      flexTime             `json:"sent_at"`
}

// DeliveryReceipt reads the payload of a message.sent or message.finalized webhook. It fails (wrapping
// ErrMalformed) when the payload id or to[0].status is missing. OccurredAt is the event's occurred_at, or the
// payload's completed_at or sent_at when that is absent.
func (w Webhook) DeliveryReceipt() (DeliveryReceipt, error) {
	if w.EventType != EventMessageSent && w.EventType != EventMessageFinalized {
		return DeliveryReceipt{}, fmt.Errorf("%w: %q is not %s or %s", ErrUnexpectedEvent, w.EventType, EventMessageSent, EventMessageFinalized)
	}
	if err := requireObject(w.Payload, "data.payload"); err != nil {
		return DeliveryReceipt{}, err
	}
	var p receiptPayload
	if err := json.Unmarshal(w.Payload, &p); err != nil {
		return DeliveryReceipt{}, fmt.Errorf("%w: data.payload: %s", ErrMalformed, err.Error())
	}
	r := DeliveryReceipt{MessageID: string(p.ID), OccurredAt: w.OccurredAt}
	if len(p.To) > 0 {
		r.To = string(p.To[0].PhoneNumber)
		r.Status = strings.ToLower(strings.TrimSpace(string(p.To[0].Status)))
	}
	switch {
	case r.MessageID == "":
		return DeliveryReceipt{}, fmt.Errorf("%w: missing data.payload.id", ErrMalformed)
	case r.Status == "":
		return DeliveryReceipt{}, fmt.Errorf("%w: missing data.payload.to[0].status", ErrMalformed)
	}
	for _, t := range []flexTime{p.CompletedAt, p.SentAt} {
		if r.OccurredAt.IsZero() {
			r.OccurredAt = time.Time(t)
		}
	}
	for _, e := range p.Errors {
		d := ErrorDetail{Code: string(e.Code), Title: string(e.Title), Detail: string(e.Detail)}
		if d != (ErrorDetail{}) {
			r.Errors = append(r.Errors, d)
		}
	}
	return r, nil
}

// party is an entry of from or to[]: normally {phone_number, carrier, line_type, status}, but a bare string
// is read as the phone number.
type party struct {
	PhoneNumber flexString `json:"phone_number"`
	Status      flexString `json:"status"`
}

// UnmarshalJSON implements json.Unmarshaler; it never fails.
func (p *party) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0:
	case b[0] == '"':
		var s flexString
		_ = s.UnmarshalJSON(b)
		p.PhoneNumber = s
	case b[0] == '{':
		type fields party // no methods, so no recursion
		var f fields
		if json.Unmarshal(b, &f) == nil {
			*p = party(f)
		}
	}
	return nil
}

type mediaEntry struct {
	URL         flexString `json:"url"`
	ContentType flexString `json:"content_type"`
	Size        flexInt    `json:"size"`
}

type errorEntry struct {
	Code   flexString `json:"code"`
	Title  flexString `json:"title"`
	Detail flexString `json:"detail"`
}

// flexList reads a JSON array of T, or a single T where Telnyx sent one value instead of an array; anything
// else (null, a number) reads as empty. T must itself accept any JSON value.
type flexList[T any] []T

// UnmarshalJSON implements json.Unmarshaler; it never fails.
func (l *flexList[T]) UnmarshalJSON(b []byte) error {
	*l = nil
	switch {
	case len(b) == 0:
	case b[0] == '[':
		var items []T
		if json.Unmarshal(b, &items) == nil {
			*l = items
		}
	case b[0] == '{' || b[0] == '"':
		var item T
		if json.Unmarshal(b, &item) == nil {
			*l = flexList[T]{item}
		}
	}
	return nil
}

// flexString reads a JSON string, or a number or boolean as its text; null, objects and arrays read as "".
type flexString string

// UnmarshalJSON implements json.Unmarshaler; it never fails.
func (s *flexString) UnmarshalJSON(b []byte) error {
	*s = ""
	switch {
	case len(b) == 0:
	case b[0] == '"':
		// Fast path for the common string without escapes; the decoder has already checked the syntax.
		if inner := b[1 : len(b)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			*s = flexString(inner)
			return nil
		}
		var v string
		if json.Unmarshal(b, &v) == nil {
			*s = flexString(v)
		}
	case b[0] == '{' || b[0] == '[' || b[0] == 'n':
	default: // number, true, false
		*s = flexString(b)
	}
	return nil
}

// flexInt reads a JSON number or a string holding one (an integral float is accepted); anything else reads
// as 0.
type flexInt int64

// UnmarshalJSON implements json.Unmarshaler; it never fails.
func (n *flexInt) UnmarshalJSON(b []byte) error {
	var s flexString
	_ = s.UnmarshalJSON(b)
	*n = flexInt(parseLenientInt(strings.TrimSpace(string(s))))
	return nil
}

func parseLenientInt(s string) int64 {
	if s == "" {
		return 0
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f > math.MaxInt64 || f < math.MinInt64 {
		return 0
	}
	return int64(f)
}

// clampInt converts to int without wrapping on 32-bit platforms.
func clampInt(i int64) int {
	switch {
	case i > math.MaxInt:
		return math.MaxInt
	case i < math.MinInt:
		return math.MinInt
	}
	return int(i)
}

// timeLayouts are tried in order. RFC 3339 parsing accepts fractional seconds even though the layout has none.
var timeLayouts = []string{
	time.RFC3339,
	"2006-01-02T15:04:05Z0700",  // offset without a colon
	"2006-01-02 15:04:05Z07:00", // space instead of T
	"2006-01-02 15:04:05Z0700",
	"2006-01-02T15:04:05", // no zone: Telnyx means UTC
	"2006-01-02 15:04:05",
}

// flexTime reads a timestamp string in any of timeLayouts, or a number of Unix seconds, as UTC. Anything
// unreadable is the zero time rather than an error: no timestamp is worth losing a message over.
type flexTime time.Time

// UnmarshalJSON implements json.Unmarshaler; it never fails.
func (t *flexTime) UnmarshalJSON(b []byte) error {
	*t = flexTime{}
	if len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9') {
		if sec := parseLenientInt(string(b)); sec != 0 {
			*t = flexTime(time.Unix(sec, 0).UTC())
		}
		return nil
	}
	var s flexString
	_ = s.UnmarshalJSON(b)
	v := strings.TrimSpace(string(s))
	if v == "" {
		return nil
	}
	for _, layout := range timeLayouts {
		if tm, err := time.Parse(layout, v); err == nil {
			*t = flexTime(tm.UTC())
			return nil
		}
	}
	return nil
}
