// Package conversation is the pure core of the product: a conversation's state and the step that advances it
// by one inbound message. Nothing here does I/O; Redis, NATS and HTTP sit around it.
package conversation

import (
	"strconv"
	"strings"
	"time"

	"github.com/smsconv/smsconv/shared/sms"
)

// The states of the seed dialog.
const (
	StateNew      = "new"
	StateGreeted  = "greeted"
	StateInformed = "informed"
	StateReset    = "reset"
	StateEnded    = "ended"
)

// Conversation is the stored state of one conversation, keyed by (our number, user number).
type Conversation struct {
	State        string            `json:"state"`
	MessageCount int               `json:"message_count"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	Vars         map[string]string `json:"vars,omitempty"`
	OptedOut     bool              `json:"opted_out,omitempty"`
	FlowVersion  string            `json:"flow_version,omitempty"`
	// RateLimited counts inbound messages left unanswered by the per-user reply limit (kept by the store).
	RateLimited int `json:"rate_limited,omitempty"`
	// TakenOver is set while an operator answers the user from the console: inbound messages are stored but
	// the flow does not run, so it resumes in the same state when handed back.
	TakenOver bool `json:"taken_over,omitempty"`
}

// New returns the state of a conversation that has not seen a message yet.
func New(now time.Time) Conversation {
	return Conversation{State: StateNew, CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
}

// Media is one attachment of an inbound MMS.
type Media struct {
	URL         string `json:"url"`
	ContentType string `json:"content_type,omitempty"`
	Size        int64  `json:"size,omitempty"`
}

// Inbound is what the dialog sees of one inbound message.
type Inbound struct {
	Text  string
	Media []Media
}

// Result is the outcome of one step: the new conversation and the reply to send, if any.
type Result struct {
	Conversation Conversation
	Reply        string
	HasReply     bool
}

// Dialog advances a conversation by one inbound message. Implementations must be pure and deterministic:
// the same conversation, message and time give the same result.
type Dialog interface {
	Step(c Conversation, in Inbound, now time.Time) Result
	// Version identifies the dialog definition; it is stored with each conversation.
	Version() string
}

// Keyword is the one normal form of a message for keyword matching, used by the seed dialog, flows and the
// opt-out words: trimmed, lower-cased, and runs of inner whitespace collapsed to one space ("Stop  All" is
// "stop all"). Most messages are already in that form, so it checks before building a new string.
func Keyword(text string) string {
	s := strings.TrimSpace(text)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 0x80 || ('A' <= ch && ch <= 'Z') || ch < ' ' || (ch == ' ' && i > 0 && s[i-1] == ' ') {
			return strings.Join(strings.Fields(strings.ToLower(s)), " ")
		}
	}
	return s
}

// The words Telnyx itself acts on (in Keyword form): after an opt-out word Telnyx blocks every message to the
// number (a send answers 40300) until an opt-in word. They are here, once, so our records agree with Telnyx's.
var (
	optOutWords = map[string]bool{"stop": true, "stopall": true, "stop all": true, "unsubscribe": true,
		"cancel": true, "end": true, "quit": true}
	optInWords = map[string]bool{"start": true, "unstop": true}
)

// IsOptOut reports whether text, as Telnyx reads it, opts the sender out of messaging.
func IsOptOut(text string) bool { return optOutWords[Keyword(text)] }

// IsOptIn reports whether text, as Telnyx reads it, opts the sender back in.
func IsOptIn(text string) bool { return optInWords[Keyword(text)] }

// ReceivedAt is the one fallback for when a message happened: the first non-zero of times, in the caller's
// order of preference (for an inbound message: Telnyx's received_at, the event's occurred_at, when the ingress
// accepted it, now), in UTC. It is zero only when every time is.
func ReceivedAt(times ...time.Time) time.Time {
	for _, t := range times {
		if !t.IsZero() {
			return t.UTC()
		}
	}
	return time.Time{}
}

// Seed is the dialog of Telnyx's "Two-Way SMS Chat" example, reproduced byte for byte.
var Seed Dialog = seedDialog{}

type seedDialog struct{}

// Reply texts of the seed dialog, verbatim.
const (
	ReplyGreeting = "Hello! Welcome to Telnyx SMS. Type 'help' for available commands or 'info' to learn more about our services."
	ReplyHelp     = "Available commands:\n• 'info' - Learn about Telnyx\n• 'status' - Check your conversation stats\n• 'reset' - Start over\n• 'stop' - End conversation"
	ReplyInfo     = "Telnyx provides programmable SMS, Voice, and IoT connectivity APIs. Visit telnyx.com to get started with our developer-friendly platform!"
	ReplyReset    = "Conversation reset! Type 'hello' to start fresh."
	ReplyStop     = "Thanks for trying Telnyx SMS! Conversation ended. Text 'hello' anytime to start again."
)

func (seedDialog) Version() string { return "seed-1" }

func (seedDialog) Step(c Conversation, in Inbound, now time.Time) Result {
	now = now.UTC()
	c.MessageCount++
	c.UpdatedAt = now
	c.FlowVersion = "seed-1"
	var reply string
	switch Keyword(in.Text) {
	case "hello", "hi", "hey", "start":
		c.State = StateGreeted
		reply = ReplyGreeting
	case "help":
		reply = ReplyHelp
	case "info":
		c.State = StateInformed
		reply = ReplyInfo
	case "status":
		reply = "Conversation started: " + c.CreatedAt.UTC().Format("2006-01-02 15:04") +
			"\nMessages exchanged: " + strconv.Itoa(c.MessageCount) +
			"\nCurrent state: " + c.State
	case "reset":
		// The seed replaces the conversation: a new creation time and a count of one (this message).
		c = Conversation{State: StateReset, MessageCount: 1, CreatedAt: now, UpdatedAt: now, FlowVersion: c.FlowVersion, OptedOut: c.OptedOut}
		reply = ReplyReset
	case "stop", "quit", "end":
		c.State = StateEnded
		reply = ReplyStop
	default:
		// The echo is bounded the way flows bound theirs (sms.Quote), so a long message still gets an answer
		// Telnyx accepts and the default flow keeps replying exactly as this dialog does.
		reply, _ = sms.Quote(in.Text, sms.MaxParts, func(q string) (string, error) {
			return "You said: '" + q + "'\n\nI didn't understand that command. Type 'help' to see available options.", nil
		})
	}
	return Result{Conversation: c, Reply: reply, HasReply: true}
}
