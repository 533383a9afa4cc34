// Package dialogtest holds the seed dialog's specification as a table, so every Dialog implementation that
// claims to reproduce the seed (the Go one and the default flow file) is checked against the same cases.
package dialogtest

import (
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/sms"
)

// Turn is one inbound message and what must come of it.
type Turn struct {
	Text      string
	WantState string
	WantCount int
	WantReply string
}

// Case is a named transcript starting from a new conversation created at Start.
type Case struct {
	Name  string
	Turns []Turn
}

// Start is the creation time of every transcript's conversation; each turn happens one minute after the last.
var Start = time.Date(2026, 6, 18, 12, 0, 0, 0, time.UTC)

// SeedCases is the brief's dialog table as transcripts.
func SeedCases() []Case {
	unknown := func(s string) string {
		return "You said: '" + s + "'\n\nI didn't understand that command. Type 'help' to see available options."
	}
	return []Case{
		{"greetings", []Turn{
			{"hello", "greeted", 1, conversation.ReplyGreeting},
			{"HI", "greeted", 2, conversation.ReplyGreeting},
			{"  Hey  ", "greeted", 3, conversation.ReplyGreeting},
			{"start", "greeted", 4, conversation.ReplyGreeting},
		}},
		{"help keeps state", []Turn{
			{"help", "new", 1, conversation.ReplyHelp},
			{"hello", "greeted", 2, conversation.ReplyGreeting},
			{"Help", "greeted", 3, conversation.ReplyHelp},
		}},
		{"info", []Turn{
			{"info", "informed", 1, conversation.ReplyInfo},
		}},
		{"status reports count, start and state", []Turn{
			{"hello", "greeted", 1, conversation.ReplyGreeting},
			{"info", "informed", 2, conversation.ReplyInfo},
			{"status", "informed", 3, "Conversation started: 2026-06-18 12:00\nMessages exchanged: 3\nCurrent state: informed"},
		}},
		{"reset replaces the conversation", []Turn{
			{"hello", "greeted", 1, conversation.ReplyGreeting},
			{"reset", "reset", 1, conversation.ReplyReset},
			{"status", "reset", 2, "Conversation started: 2026-06-18 12:01\nMessages exchanged: 2\nCurrent state: reset"},
		}},
		{"stop words end", []Turn{
			{"stop", "ended", 1, conversation.ReplyStop},
			{"QUIT", "ended", 2, conversation.ReplyStop},
			{"end", "ended", 3, conversation.ReplyStop},
			{"hello", "greeted", 4, conversation.ReplyGreeting},
		}},
		{"anything else echoes the original text", []Turn{
			{"What's up?", "new", 1, unknown("What's up?")},
			{"  hello there ", "new", 2, unknown("  hello there ")},
			{"", "new", 3, unknown("")},
			{"héllo 👋", "new", 4, unknown("héllo 👋")},
		}},
	}
}

// Run checks d against every seed case.
func Run(t *testing.T, d conversation.Dialog) {
	t.Helper()
	for _, tc := range SeedCases() {
		t.Run(tc.Name, func(t *testing.T) {
			c := conversation.New(Start)
			now := Start
			for i, turn := range tc.Turns {
				res := d.Step(c, conversation.Inbound{Text: turn.Text}, now)
				if !res.HasReply {
					t.Fatalf("turn %d %q: no reply", i, turn.Text)
				}
				if res.Reply != turn.WantReply {
					t.Errorf("turn %d %q: reply\n got %q\nwant %q", i, turn.Text, res.Reply, turn.WantReply)
				}
				if res.Conversation.State != turn.WantState {
					t.Errorf("turn %d %q: state %q, want %q", i, turn.Text, res.Conversation.State, turn.WantState)
				}
				if res.Conversation.MessageCount != turn.WantCount {
					t.Errorf("turn %d %q: count %d, want %d", i, turn.Text, res.Conversation.MessageCount, turn.WantCount)
				}
				c = res.Conversation
				now = now.Add(time.Minute)
			}
		})
	}
}

// LongEchoes are messages whose echo would be over Telnyx's 10 segments (GSM-7, UCS-2 with emoji, extension
// characters, and one just over the limit).
var LongEchoes = map[string]string{
	"5000 GSM-7 characters":      strings.Repeat("x", 5000),
	"5000 emoji":                 strings.Repeat("😀", 5000),
	"5000 extension characters":  strings.Repeat("{", 5000),
	"just over 10 GSM-7 parts":   strings.Repeat("y", 1530-85+1),
	"mixed scripts and controls": strings.Repeat("héllo\n€ мир 👋 ", 400),
}

// RunBoundedEcho checks that d answers every LongEchoes message with the seed's unknown-command reply, its
// echo shortened with sms.Marker, within sms.MaxParts segments.
func RunBoundedEcho(t *testing.T, d conversation.Dialog) {
	t.Helper()
	const head, tail = "You said: '", "'\n\nI didn't understand that command. Type 'help' to see available options."
	for name, text := range LongEchoes {
		t.Run(name, func(t *testing.T) {
			res := d.Step(conversation.New(Start), conversation.Inbound{Text: text}, Start)
			if !res.HasReply || !sms.Fits(res.Reply, sms.MaxParts) {
				t.Fatalf("reply of %d segments (has reply %v), want at most %d", sms.Count(res.Reply).Parts, res.HasReply, sms.MaxParts)
			}
			quoted, hasHead := strings.CutPrefix(res.Reply, head)
			quoted, hasTail := strings.CutSuffix(quoted, sms.Marker+tail)
			if !hasHead || !hasTail || !strings.HasPrefix(text, quoted) || len(quoted) < 100 {
				t.Fatalf("reply is not the unknown-command reply with a shortened echo: %.80q...", res.Reply)
			}
		})
	}
}
