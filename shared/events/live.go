package events

import (
	"fmt"
	json "github.com/go-json-experiment/json/v1"

	"github.com/nats-io/nats.go"
)

// ChangesSubject is the core NATS subject on which the services announce that a conversation changed in the
// store (a message stored, a reply's status moved, a takeover). Live views (the console's Server-Sent Events)
// subscribe to it and read the store again: an announcement carries no data of its own, so a lost one only
// delays a view and never makes it wrong. That is why it is core NATS, at most once, and not a stream.
const ChangesSubject = "live.changes"

// Change announces that a conversation or one of its messages changed. A delivery receipt knows only the
// message: Our and User are then empty and a reader looks the message up.
type Change struct {
	Our       string `json:"our_number,omitempty"`
	User      string `json:"user_number,omitempty"`
	MessageID string `json:"message_id,omitempty"`
}

// Encode marshals c.
func (c Change) Encode() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // three strings always marshal
	}
	return b
}

// DecodeChange unmarshals a Change.
func DecodeChange(b []byte) (Change, error) {
	var c Change
	if err := json.Unmarshal(b, &c); err != nil {
		return Change{}, fmt.Errorf("decode change: %w", err)
	}
	return c, nil
}

// Announcer publishes changes on ChangesSubject. Its zero value, or one without a connection, announces
// nothing, so code that changes the store can announce unconditionally.
type Announcer struct {
	NC *nats.Conn
}

// Announce publishes c, best effort: a live view is a convenience, never a reason to fail or retry work.
func (a Announcer) Announce(c Change) {
	if a.NC == nil {
		return
	}
	_ = a.NC.Publish(ChangesSubject, c.Encode())
}

// TotalsSubject is the core NATS subject on which every worker answers a request with its Totals, so the
// console can chart the workers' own counters without knowing where each replica's /metrics is.
const TotalsSubject = "live.totals"

// Totals are one worker's counters since it started, read from its metrics registry.
type Totals struct {
	Worker string `json:"worker"`
	// Sent counts requests to Telnyx answered 2xx (replies and queued sends accepted); Failed the others.
	Sent   float64 `json:"sent"`
	Failed float64 `json:"failed"`
}
