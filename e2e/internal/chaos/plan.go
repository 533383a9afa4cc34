package chaos

import (
	"fmt"
	"strconv"
	"time"

	"github.com/smsconv/smsconv/shared/ids"
)

// Inbound is one text a user sends, with the reply the seed dialog must answer.
type Inbound struct {
	EventID string
	MsgID   string
	Text    string
	At      time.Time
	// Reply is the exact text the user must receive; ReplyKey the Idempotency-Key it must carry.
	Reply    string
	ReplyKey string
}

// Conversation is what one user sends, in order.
type Conversation struct {
	User     string
	Messages []Inbound
}

// The seed dialog's answers, written out here rather than taken from shared/conversation so the suite is an
// independent check of the dialog as well.
const (
	unknownPrefix = "You said: '"
	unknownSuffix = "'\n\nI didn't understand that command. Type 'help' to see available options."
)

// UnknownReply is the seed dialog's answer to a text that is no command.
func UnknownReply(text string) string { return unknownPrefix + text + unknownSuffix }

// StatusReply is the seed dialog's answer to "status" for a conversation that has only seen unknown texts.
func StatusReply(created time.Time, count int) string {
	return "Conversation started: " + created.UTC().Format("2006-01-02 15:04") +
		"\nMessages exchanged: " + strconv.Itoa(count) + "\nCurrent state: new"
}

// replyKey is the worker's deterministic reply id: the first reply to inbound message msgID (shared/ids).
func replyKey(msgID string) string { return ids.Reply(msgID, 1) }

// UserNumber is the phone of conversation i: a distinct valid US number for i < MaxConversations.
func UserNumber(i int) string { return fmt.Sprintf("+1212555%04d", i%MaxConversations) }

// Plan builds the conversations of a run. run distinguishes the ids of different runs; t0 is the time the
// users' first texts carry (so the status reply's start time is known).
func Plan(run string, conversations, perConversation int, status bool, t0 time.Time) []Conversation {
	out := make([]Conversation, conversations)
	for c := range out {
		conv := Conversation{User: UserNumber(c)}
		n := perConversation
		if status {
			n++
		}
		for i := range n {
			text := "m" + strconv.Itoa(i)
			reply := UnknownReply(text)
			if status && i == perConversation {
				text, reply = "status", StatusReply(t0, n)
			}
			id := fmt.Sprintf("%s-%04d-%03d", run, c, i)
			conv.Messages = append(conv.Messages, Inbound{EventID: "evt-" + id, MsgID: "msg-" + id, Text: text,
				At: t0.Add(time.Duration(i) * time.Second), Reply: reply, ReplyKey: replyKey("msg-" + id)})
		}
		out[c] = conv
	}
	return out
}
