package telnyx

import (
	"bytes"
	"errors"
	"fmt"
	json "github.com/go-json-experiment/json/v1"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/phone"
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

// Bounds on what a webhook may carry. Event types, ids and numbers become parts of NATS subjects, Redis keys
// and message ids, and text is escaped into an event; anything longer is refused as unusable rather than
// passed on to break a publish or a key.
const (
	MaxEventType = 64
	MaxID        = 128
	MaxText      = 64 << 10 // bytes: JSON escaping may grow it six-fold, still far below NATS' 1 MiB
	MaxMedia     = 32
	MaxURL       = 2048
)

// Lengths at which descriptive fields, which reach no key, are cut rather than refused.
const (
	maxShort = 64  // content type, status, error code, autoresponse type
	maxTitle = 512 // error title
)

// ErrUnusable is wrapped by every error saying a webhook cannot be used: whatever is wrong, sending it again
// will not help, so a caller keeps a signed one for inspection and answers 2xx (Telnyx retries anything else).
// The message says what is wrong, never the body.
var ErrUnusable = errors.New("unusable webhook")

// ErrMalformed is the kind of ErrUnusable for a body that is not a readable webhook at all (not JSON, no event
// type, a required field missing); errors.Is(err, ErrUnusable) holds for it too.
var ErrMalformed error = &classError{msg: "malformed webhook", class: ErrUnusable}

// classError is a sentinel that belongs to a wider class.
type classError struct {
	msg   string
	class error
}

func (e *classError) Error() string { return e.msg }
func (e *classError) Unwrap() error { return e.class }

// ErrUnexpectedEvent is returned when a payload accessor is called on a webhook of another event type.
var ErrUnexpectedEvent = errors.New("unexpected event type")

// Webhook is the envelope of one Telnyx webhook delivery. Payload is kept raw: its shape depends on EventType.
type Webhook struct {
	// EventType is at most MaxEventType letters, digits, '.', '_' or '-'.
	EventType string
	// EventID is data.id, Telnyx's id of the event (the same across redeliveries): at most MaxID printable
	// ASCII characters, no space. It may be empty; the caller decides whether it can do without it.
	EventID    string
	OccurredAt time.Time
	// Attempt is meta.attempt, which counts deliveries of this event (0 when absent or unreadable).
	Attempt int
	Payload json.RawMessage
}

// InboundMessage is what this product reads from a message.received payload. Every field is bounded: ids as
// Webhook.EventID, numbers in E.164, Text at most MaxText bytes, at most MaxMedia attachments.
type InboundMessage struct {
	ID               string
	From             string // payload.from.phone_number, in E.164
	To               string // the first payload.to[].phone_number, in E.164: our number
	Text             string // may be empty for an MMS carrying only media
	AutoresponseType string
	Media            []conversation.Media
	// ReceivedAt is payload.received_at, or the event's occurred_at when that is absent (conversation.ReceivedAt).
	ReceivedAt time.Time
	// Recipients are the numbers the message was sent to, normalized to E.164 (phone.Normalize) and without
	// repeats: to[] then cc[], at most MaxRecipients entries read, those that are not numbers skipped. In a
	// group MMS to[0] may be another user's number, so the caller picks ours from this list rather than
	// trusting To.
	Recipients []string
}

// ErrorDetail is one entry of a Telnyx errors[] array.
type ErrorDetail struct {
	Code  string
	Title string
}

// DeliveryReceipt is what this product reads from a message.sent or message.finalized payload.
type DeliveryReceipt struct {
	MessageID string
	// Status is payload.to[0].status, lower-cased: one of the Status... constants, or a newer value.
	Status     string
	Errors     []ErrorDetail
	OccurredAt time.Time
}

// envelope is the top level of a webhook, decoded in one pass. Telnyx's documentation shows events wrapped in
// data ({"data":{"event_type",...,"payload"},"meta"}) and, on its callback reference pages, the same event at
// the top level ({"record_type":"event","event_type",...,"payload"}), and records such as link clicks with no
// event at all ({"record_type":"link_clicked",...}); all are read. Every field type below accepts any JSON
// value, so the only type error Unmarshal can report is a data that is not an object.
type envelope struct {
	Data *eventFields `json:"data"`
	eventFields
}

// eventFields are the fields of an event, in data or at the top level.
type eventFields struct {
	EventType  flexString      `json:"event_type"`
	RecordType flexString      `json:"record_type"`
	ID         flexString      `json:"id"`
	OccurredAt flexTime        `json:"occurred_at"`
	Payload    json.RawMessage `json:"payload"`
	Meta       *metaFields     `json:"meta"`
}

type metaFields struct {
	Attempt flexInt
}

// UnmarshalJSON implements json.Unmarshaler; it never fails.
func (m *metaFields) UnmarshalJSON(b []byte) error {
	*m = metaFields{}
	if len(b) == 0 || b[0] != '{' {
		return nil
	}
	var f struct {
		Attempt flexInt `json:"attempt"`
	}
	if json.Unmarshal(b, &f) == nil {
		*m = metaFields(f)
	}
	return nil
}

// ParseWebhook reads the envelope of a webhook body in any of the shapes described at envelope. It requires a
// JSON object carrying an event type (or, for a bare record, a record_type); everything else is read leniently
// and left zero when absent or of an unexpected type. Errors wrap ErrUnusable (most of them ErrMalformed).
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
	}
	ev, where := env.eventFields, ""
	if env.Data != nil {
		ev, where = *env.Data, "data."
	}
	eventType := string(ev.EventType)
	if eventType == "" && ev.RecordType != "event" && ev.RecordType != "message" {
		eventType = string(ev.RecordType) // a bare record (link_clicked) names its kind here
	}
	switch {
	case eventType == "" && env.Data == nil && env.EventType == "" && env.RecordType == "":
		return Webhook{}, fmt.Errorf("%w: missing data", ErrMalformed)
	case eventType == "":
		return Webhook{}, fmt.Errorf("%w: missing %sevent_type", ErrMalformed, where)
	}
	if err := checkToken(where+"event_type", eventType, MaxEventType, false); err != nil {
		return Webhook{}, err
	}
	if err := checkToken(where+"id", string(ev.ID), MaxID, true); err != nil && ev.ID != "" {
		return Webhook{}, err
	}
	payload := ev.Payload
	if len(payload) == 0 && ev.RecordType != "" && ev.RecordType != "event" {
		payload = recordOf(trimmed, env.Data != nil) // the record itself is what the event is about
	}
	meta := env.Meta
	if meta == nil {
		meta = ev.Meta
	}
	w := Webhook{EventType: eventType, EventID: string(ev.ID), OccurredAt: time.Time(ev.OccurredAt), Payload: payload}
	if meta != nil {
		w.Attempt = clampInt(max(int64(meta.Attempt), 0))
	}
	return w, nil
}

// recordOf is the raw record of a bare-record webhook: data, or the whole body. Decoding data a second time costs
// nothing on the usual path, which has a payload.
func recordOf(body []byte, inData bool) json.RawMessage {
	if !inData {
		return body
	}
	var r struct {
		Data json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal(body, &r) // already decoded once without error
	return r.Data
}

// checkToken refuses a value that is too long for a subject, key or id, or has a character that would break
// one: an event type (part of a subject) may have letters, digits, '.', '_' and '-'; an id (a message id header,
// a key) any printable ASCII but space, which excludes the CR and LF that would end a header.
func checkToken(name, v string, limit int, id bool) error {
	if v == "" {
		return fmt.Errorf("%w: missing %s", ErrMalformed, name)
	}
	if len(v) > limit {
		return fmt.Errorf("%w: %s is %d bytes, at most %d", ErrUnusable, name, len(v), limit)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		switch {
		case ok || id && c > ' ' && c < 0x7F:
		case c >= 0x80:
			return fmt.Errorf("%w: %s has a non-ASCII character", ErrUnusable, name)
		default:
			return fmt.Errorf("%w: %s has a character %q that it may not have", ErrUnusable, name, c)
		}
	}
	return nil
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
	ID               flexString           `json:"id"`
	From             party                `json:"from"`
	To               flexList[party]      `json:"to"`
	CC               flexList[party]      `json:"cc"`
	Text             flexString           `json:"text"`
	Media            flexList[mediaEntry] `json:"media"`
	AutoresponseType flexString           `json:"autoresponse_type"`
	ReceivedAt       flexTime             `json:"received_at"`
}

// InboundMessage reads the payload of a message.received webhook. It fails (wrapping ErrMalformed) when the
// payload id, from or to number is missing, and (wrapping ErrUnusable) when a field is over its bound or a
// number is not one (phone.Normalize): such a message cannot be deduplicated, filed or answered. An empty text
// is not an error (an MMS may carry only media).
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
	var to flexString
	if len(p.To) > 0 {
		to = p.To[0].PhoneNumber
	}
	if err := checkToken("data.payload.id", string(p.ID), MaxID, true); err != nil {
		return InboundMessage{}, err
	}
	from, err := number("data.payload.from.phone_number", p.From.PhoneNumber)
	if err != nil {
		return InboundMessage{}, err
	}
	ours, err := number("data.payload.to[0].phone_number", to)
	if err != nil {
		return InboundMessage{}, err
	}
	if len(p.Text) > MaxText {
		return InboundMessage{}, fmt.Errorf("%w: data.payload.text is %d bytes, at most %d", ErrUnusable, len(p.Text), MaxText)
	}
	if len(p.Media) > MaxMedia {
		return InboundMessage{}, fmt.Errorf("%w: data.payload.media has %d entries, at most %d", ErrUnusable, len(p.Media), MaxMedia)
	}
	m := InboundMessage{
		ID:               string(p.ID),
		From:             from,
		To:               ours,
		Text:             string(p.Text),
		AutoresponseType: truncate(string(p.AutoresponseType), maxShort),
		ReceivedAt:       conversation.ReceivedAt(time.Time(p.ReceivedAt), w.OccurredAt),
		Recipients:       recipients(p.To, p.CC),
	}
	for i, e := range p.Media {
		switch {
		case e.URL == "":
			continue // an attachment without a URL cannot be fetched or shown; keeping it would only mislead
		case len(e.URL) > MaxURL:
			return InboundMessage{}, fmt.Errorf("%w: data.payload.media[%d].url is %d bytes, at most %d", ErrUnusable, i, len(e.URL), MaxURL)
		}
		m.Media = append(m.Media, conversation.Media{URL: string(e.URL), ContentType: truncate(string(e.ContentType), maxShort), Size: max(int64(e.Size), 0)})
	}
	return m, nil
}

// MaxRecipients is how many entries of to[] and cc[] InboundMessage reads into Recipients: a group MMS has a
// handful; the rest of a longer list is not worth the parsing.
const MaxRecipients = 32

func recipients(to, cc flexList[party]) []string {
	var out []string
	for i, e := range slices.Concat(to, cc) {
		if i == MaxRecipients {
			break
		}
		if n, err := phone.Normalize(string(e.PhoneNumber)); err == nil && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// number normalizes a phone number field (phone.Normalize).
func number(name string, v flexString) (string, error) {
	if v == "" {
		return "", fmt.Errorf("%w: missing %s", ErrMalformed, name)
	}
	n, err := phone.Normalize(string(v))
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrUnusable, name, err)
	}
	return n, nil
}

type receiptPayload struct {
	ID          flexString           `json:"id"`
	To          flexList[party]      `json:"to"`
	Errors      flexList[errorEntry] `json:"errors"`
	CompletedAt flexTime             `json:"completed_at"`
	SentAt      flexTime             `json:"sent_at"`
}

// maxErrors is how many errors[] entries a receipt keeps: only the first is recorded.
const maxErrors = 10

// DeliveryReceipt reads the payload of a message.sent or message.finalized webhook. It fails (wrapping
// ErrMalformed) when the payload id or to[0].status is missing, and (wrapping ErrUnusable) when the id is over
// its bound. OccurredAt is the event's occurred_at, or the payload's completed_at or sent_at when that is absent.
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
	if err := checkToken("data.payload.id", string(p.ID), MaxID, true); err != nil {
		return DeliveryReceipt{}, err
	}
	r := DeliveryReceipt{
		MessageID:  string(p.ID),
		OccurredAt: conversation.ReceivedAt(w.OccurredAt, time.Time(p.CompletedAt), time.Time(p.SentAt)),
	}
	if len(p.To) > 0 {
		r.Status = truncate(strings.ToLower(strings.TrimSpace(string(p.To[0].Status))), maxShort)
	}
	if r.Status == "" {
		return DeliveryReceipt{}, fmt.Errorf("%w: missing data.payload.to[0].status", ErrMalformed)
	}
	for _, e := range p.Errors {
		d := ErrorDetail{Code: truncate(string(e.Code), maxShort), Title: truncate(string(e.Title), maxTitle)}
		if d != (ErrorDetail{}) && len(r.Errors) < maxErrors {
			r.Errors = append(r.Errors, d)
		}
	}
	return r, nil
}

// truncate cuts s to at most n bytes at a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
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

// errorEntry is an entry of errors[], in a receipt or in an API answer (client.go reads Detail).
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

// Timestamps outside [minTime, maxTime] read as absent: before Unix time they are nonsense, and after year 9999
// json.Marshal of a time.Time fails, which would make an event impossible to encode anywhere downstream.
var (
	minTime = time.Unix(0, 0).UTC()
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// flexTime reads a timestamp string in any of timeLayouts, or a number of Unix seconds, as UTC. Anything
// unreadable or out of range is the zero time rather than an error: no timestamp is worth losing a message over.
type flexTime time.Time

// UnmarshalJSON implements json.Unmarshaler; it never fails.
func (t *flexTime) UnmarshalJSON(b []byte) error {
	*t = flexTime{}
	var tm time.Time
	if len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9') {
		if sec := parseLenientInt(string(b)); sec != 0 {
			tm = time.Unix(sec, 0).UTC()
		}
	} else {
		tm = parseTime(b)
	}
	if !tm.Before(minTime) && !tm.After(maxTime) {
		*t = flexTime(tm)
	}
	return nil
}

// parseTime reads a JSON string in any of timeLayouts; anything else is the zero time.
func parseTime(b []byte) time.Time {
	var s flexString
	_ = s.UnmarshalJSON(b)
	v := strings.TrimSpace(string(s))
	if v == "" || len(v) > 64 {
		return time.Time{}
	}
	for _, layout := range timeLayouts {
		if tm, err := time.Parse(layout, v); err == nil {
			return tm.UTC()
		}
	}
	return time.Time{}
}
