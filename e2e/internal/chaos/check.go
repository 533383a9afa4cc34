package chaos

import (
	"fmt"
	"sort"

	"github.com/smsconv/smsconv/e2e/internal/stack"
)

// maxExamples bounds the examples of each kind of violation kept for the report.
const maxExamples = 5

// Findings compare what the phones received with what they should have.
type Findings struct {
	// RepliesExpected counts the replies owed: one per accepted inbound message.
	RepliesExpected int `json:"replies_expected"`
	// RepliesReceived counts the owed replies that arrived (each once, however often it arrived).
	RepliesReceived int `json:"replies_received"`
	// Delivered counts every message the conversations' phones received, duplicates included.
	Delivered int `json:"delivered"`
	// Missing replies never arrived; MissingIDs names their inbound messages.
	Missing    int      `json:"missing"`
	MissingIDs []string `json:"missing_ids,omitempty"`
	// Duplicates counts second and later arrivals of the same reply (by Idempotency-Key or by text).
	Duplicates int `json:"duplicates"`
	// OutOfOrder counts replies that arrived after the reply to a later message of the same conversation.
	OutOfOrder              int `json:"out_of_order"`
	ConversationsOutOfOrder int `json:"conversations_out_of_order"`
	// WrongText counts replies that carry an owed reply's key but not its text (e.g. a wrong message count).
	WrongText int `json:"wrong_text"`
	// Unexpected counts messages to the users that match no owed reply.
	Unexpected int `json:"unexpected"`
	// Examples shows a few violations, for debugging.
	Examples []string `json:"examples,omitempty"`
}

// Evaluate checks the delivered messages against the conversations. accepted says which inbound messages
// (by message id) the ingress accepted: only those are owed a reply. Replies to messages in exempt (replayed
// dead letters, which come back after the conversation moved on by design) are not held to the order.
func Evaluate(convs []Conversation, accepted map[string]bool, delivered []stack.Delivered, exempt map[string]bool) Findings {
	var f Findings
	byUser := map[string][]stack.Delivered{}
	for _, d := range delivered {
		byUser[d.To] = append(byUser[d.To], d)
	}
	examples := map[string]int{}
	example := func(kind, format string, args ...any) {
		if examples[kind] < maxExamples {
			examples[kind]++
			f.Examples = append(f.Examples, kind+": "+fmt.Sprintf(format, args...))
		}
	}
	for _, c := range convs {
		byKey := map[string]int{}
		byText := map[string]int{}
		for i, m := range c.Messages {
			byKey[m.ReplyKey] = i
			byText[m.Reply] = i
		}
		got := byUser[c.User]
		f.Delivered += len(got)
		seen := make([]int, len(c.Messages))
		highest, disordered := -1, false
		for _, d := range got {
			i, ok := byKey[d.IdempotencyKey]
			if ok && d.Text != c.Messages[i].Reply {
				f.WrongText++
				example("wrong text", "%s: reply to %q = %q, want %q", c.User, c.Messages[i].Text, d.Text, c.Messages[i].Reply)
			}
			if !ok {
				if i, ok = byText[d.Text]; !ok {
					f.Unexpected++
					example("unexpected", "%s received %q (key %q)", c.User, d.Text, d.IdempotencyKey)
					continue
				}
			}
			seen[i]++
			if seen[i] > 1 {
				f.Duplicates++
				example("duplicate", "%s received the reply to %q %d times", c.User, c.Messages[i].Text, seen[i])
				continue
			}
			if exempt[c.Messages[i].MsgID] {
				continue
			}
			if i < highest {
				f.OutOfOrder++
				disordered = true
				example("out of order", "%s received the reply to %q after the reply to %q", c.User, c.Messages[i].Text, c.Messages[highest].Text)
			}
			highest = max(highest, i)
		}
		if disordered {
			f.ConversationsOutOfOrder++
		}
		for i, m := range c.Messages {
			if !accepted[m.MsgID] {
				continue
			}
			f.RepliesExpected++
			if seen[i] > 0 {
				f.RepliesReceived++
				continue
			}
			f.Missing++
			f.MissingIDs = append(f.MissingIDs, m.MsgID)
		}
	}
	sort.Strings(f.MissingIDs)
	if len(f.MissingIDs) > 0 {
		example("missing", "%d replies, first %s", len(f.MissingIDs), f.MissingIDs[0])
	}
	return f
}

// StateMismatches compares each conversation's message count in Redis (through GET /conversations) with the
// number of its accepted inbound messages: a message counted twice or lost changes it.
func StateMismatches(convs []Conversation, accepted map[string]bool, listed []stack.ConversationSummary) (int, []string) {
	counts := map[string]int{}
	for _, l := range listed {
		counts[l.PhoneNumber] = l.MessageCount
	}
	var n int
	var examples []string
	for _, c := range convs {
		want := 0
		for _, m := range c.Messages {
			if accepted[m.MsgID] {
				want++
			}
		}
		if got, ok := counts[c.User]; (ok || want > 0) && got != want {
			n++
			if len(examples) < maxExamples {
				examples = append(examples, fmt.Sprintf("state: %s has message_count %d, want %d", c.User, got, want))
			}
		}
	}
	return n, examples
}
