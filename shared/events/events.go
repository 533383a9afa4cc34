// Package events defines what travels through NATS JetStream between the services: stream and subject
// names, the schemas of conversation work (Message) and delivery receipts (Receipt), and the one definition
// of the streams and consumers (the ingress ensures the streams, the workers the consumers). Dead letters
// have their own package, deadletter.
package events

import (
	"fmt"
	json "github.com/go-json-experiment/json/v1"
	"time"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/phone"
)

// Stream names.
const (
	// StreamConversations holds the work of every conversation (inbound messages, queued sends) on subjects
	// conv.<partition>.<our>.<user>, as a work queue: a message leaves the stream when a worker acks it.
	StreamConversations = "SMS_CONV"
	// StreamEvents holds other Telnyx events (delivery receipts, unknown types) for later consumers.
	StreamEvents = "SMS_EVENTS"
	// StreamDeadLetters holds messages that could not be processed, with the reason, until replayed.
	StreamDeadLetters = "SMS_DLQ"
)

// Kinds of conversation work.
const (
	KindInbound = "inbound" // a message a user texted us
	KindSend    = "send"    // an outbound message queued through POST /sms/send
)

// Message is one unit of conversation work on StreamConversations. It is our own schema, independent of
// Telnyx's webhook shape: the ingress reads the webhook leniently and publishes this.
type Message struct {
	Kind       string               `json:"kind"`
	ID         string               `json:"id"`                 // Telnyx message id (inbound) or our send id (send)
	EventID    string               `json:"event_id,omitempty"` // Telnyx event id (inbound)
	OurNumber  string               `json:"our_number"`
	UserNumber string               `json:"user_number"`
	Text       string               `json:"text"`
	Media      []conversation.Media `json:"media,omitempty"`
	// ReceivedAt is when Telnyx received the message (inbound) or the ingress accepted the send.
	ReceivedAt time.Time `json:"received_at"`
	AcceptedAt time.Time `json:"accepted_at"`
	// Attempt is Telnyx's meta.attempt of the accepted delivery.
	Attempt          int    `json:"attempt,omitempty"`
	AutoresponseType string `json:"autoresponse_type,omitempty"`
}

// Validate reports whether m can be processed at all.
func (m Message) Validate() error {
	switch {
	case m.Kind != KindInbound && m.Kind != KindSend:
		return fmt.Errorf("unknown kind %q", m.Kind)
	case m.ID == "":
		return fmt.Errorf("missing id")
	case m.OurNumber == "" || m.UserNumber == "":
		return fmt.Errorf("missing our or user number")
	}
	return nil
}

// Encode marshals m.
func (m Message) Encode() []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // a struct of strings, times and slices always marshals
	}
	return b
}

// Decode unmarshals and validates a Message.
func Decode(b []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return Message{}, fmt.Errorf("decode message: %w", err)
	}
	if err := m.Validate(); err != nil {
		return Message{}, fmt.Errorf("decode message: %w", err)
	}
	return m, nil
}

// ConversationSubject is the subject a conversation's work is published to. The stream's subject transform
// inserts the partition: conv.<our>.<user> is stored as conv.<partition>.<our>.<user>.
func ConversationSubject(our, user string) string {
	return "conv." + phone.Token(our) + "." + phone.Token(user)
}

// EventSubject is the subject for a Telnyx event that is not an inbound message.
func EventSubject(eventType string) string {
	return "events." + subjectToken(eventType)
}

// subjectToken keeps letters, digits, '_' and '-' and replaces anything else with '_'.
func subjectToken(s string) string {
	if s == "" {
		return "unknown"
	}
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Receipt event types: the Telnyx events that carry the delivery status of a message we sent.
const (
	EventMessageSent      = "message.sent"
	EventMessageFinalized = "message.finalized"
)

// ReceiptSubjects are the subjects receipts are published to, which the receipts consumer filters on.
func ReceiptSubjects() []string {
	return []string{EventSubject(EventMessageSent), EventSubject(EventMessageFinalized)}
}

// IsReceipt reports whether a Telnyx event type is a delivery receipt.
func IsReceipt(eventType string) bool {
	return eventType == EventMessageSent || eventType == EventMessageFinalized
}

// Receipt is the delivery status of one of our outbound messages, as the ingress read it from a Telnyx
// message.sent or message.finalized webhook. Like Message it is our own schema: the workers never parse
// Telnyx's webhook shape.
type Receipt struct {
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	// TelnyxID is the id Telnyx gave the message when it accepted the send.
	TelnyxID string `json:"telnyx_id"`
	// Status is Telnyx's to[].status, unmapped (queued, sending, sent, delivered, delivery_failed, ...).
	Status     string    `json:"status"`
	ErrorCode  string    `json:"error_code,omitempty"`
	ErrorTitle string    `json:"error_title,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
}

// Encode marshals r.
func (r Receipt) Encode() []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // a struct of strings and a time always marshals
	}
	return b
}

// DecodeReceipt unmarshals a Receipt and checks it names a message and a status.
func DecodeReceipt(b []byte) (Receipt, error) {
	var r Receipt
	if err := json.Unmarshal(b, &r); err != nil {
		return Receipt{}, fmt.Errorf("decode receipt: %w", err)
	}
	if r.TelnyxID == "" || r.Status == "" {
		return Receipt{}, fmt.Errorf("decode receipt: missing telnyx_id or status")
	}
	return r, nil
}
