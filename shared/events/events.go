// Package events defines what travels through NATS JetStream between the services: stream and subject names,
// headers, the message schema, and the idempotent set-up of streams and consumers that both services run at
// start.
package events

import (
	"encoding/json"
	"fmt"
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

// Headers set on published messages.
const (
	HeaderMsgID  = "Nats-Msg-Id"
	HeaderReplay = "Sms-Replay"
	// Dead-letter headers.
	HeaderDLQReason   = "Sms-Dlq-Reason"
	HeaderDLQClass    = "Sms-Dlq-Class"
	HeaderDLQSubject  = "Sms-Dlq-Subject"
	HeaderDLQSeq      = "Sms-Dlq-Stream-Seq"
	HeaderDLQAttempts = "Sms-Dlq-Attempts"
	HeaderDLQTime     = "Sms-Dlq-Time"
	// HeaderTraceParent carries W3C trace context across the queue.
	HeaderTraceParent = "traceparent"
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

// DeadLetterSubject is the subject of a dead letter of the given kind.
func DeadLetterSubject(kind string) string { return "dlq." + subjectToken(kind) }
