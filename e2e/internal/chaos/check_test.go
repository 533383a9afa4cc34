package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/stack"
)

var t0 = time.Date(2026, 6, 18, 12, 0, 0, 0, time.UTC)

// replies returns what a correct system delivers for convs, in order, one conversation after the other.
func replies(convs []Conversation) []stack.Delivered {
	var out []stack.Delivered
	for _, c := range convs {
		for _, m := range c.Messages {
			out = append(out, stack.Delivered{To: c.User, Text: m.Reply, IdempotencyKey: m.ReplyKey})
		}
	}
	return out
}

func allAccepted(convs []Conversation) map[string]bool {
	out := map[string]bool{}
	for _, c := range convs {
		for _, m := range c.Messages {
			out[m.MsgID] = true
		}
	}
	return out
}

func TestPlan(t *testing.T) {
	convs := Plan("r7", 3, 2, true, t0)
	if len(convs) != 3 || convs[0].User == convs[1].User {
		t.Fatalf("conversations: %+v", convs)
	}
	m := convs[1].Messages
	if len(m) != 3 {
		t.Fatalf("want 2 texts and a status, got %d", len(m))
	}
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"first text", m[0].Text, "m0"},
		{"unknown reply", m[0].Reply, "You said: 'm0'\n\nI didn't understand that command. Type 'help' to see available options."},
		{"reply key", m[0].ReplyKey, "rpl_msg-r7-0001-000:1"},
		{"event id", m[0].EventID, "evt-r7-0001-000"},
		{"status text", m[2].Text, "status"},
		{"status reply", m[2].Reply, "Conversation started: 2026-06-18 12:00\nMessages exchanged: 3\nCurrent state: new"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
	if n := len(Plan("r", 1, 4, false, t0)[0].Messages); n != 4 {
		t.Errorf("without status: %d messages, want 4", n)
	}
}

func TestUserNumbersAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for i := range MaxConversations {
		n := UserNumber(i)
		if seen[n] || len(n) != 12 || !strings.HasPrefix(n, "+1212555") {
			t.Fatalf("UserNumber(%d) = %q (seen before: %v)", i, n, seen[n])
		}
		seen[n] = true
	}
}

func TestEvaluate(t *testing.T) {
	convs := Plan("r", 2, 3, true, t0)
	good := replies(convs)
	a, b := convs[0], convs[1]
	tests := []struct {
		name      string
		delivered func() []stack.Delivered
		accepted  func(map[string]bool)
		exempt    map[string]bool
		want      Findings
	}{
		{
			name:      "all replies once in order",
			delivered: func() []stack.Delivered { return good },
			want:      Findings{RepliesExpected: 8, RepliesReceived: 8, Delivered: 8},
		},
		{
			name: "conversations interleaved is fine",
			delivered: func() []stack.Delivered {
				var out []stack.Delivered
				for i := range 4 {
					out = append(out, good[i], good[4+i])
				}
				return out
			},
			want: Findings{RepliesExpected: 8, RepliesReceived: 8, Delivered: 8},
		},
		{
			name:      "a reply missing",
			delivered: func() []stack.Delivered { return append(append([]stack.Delivered{}, good[:2]...), good[3:]...) },
			want: Findings{RepliesExpected: 8, RepliesReceived: 7, Delivered: 7, Missing: 1,
				MissingIDs: []string{a.Messages[2].MsgID}},
		},
		{
			name:      "a reply not owed: its message was never accepted",
			delivered: func() []stack.Delivered { return append(append([]stack.Delivered{}, good[:2]...), good[3:]...) },
			accepted:  func(m map[string]bool) { delete(m, a.Messages[2].MsgID) },
			want:      Findings{RepliesExpected: 7, RepliesReceived: 7, Delivered: 7},
		},
		{
			name:      "the same reply twice (same key)",
			delivered: func() []stack.Delivered { return append(append([]stack.Delivered{}, good...), good[1]) },
			want:      Findings{RepliesExpected: 8, RepliesReceived: 8, Delivered: 9, Duplicates: 1},
		},
		{
			name: "the same reply text under another key",
			delivered: func() []stack.Delivered {
				d := good[5]
				d.IdempotencyKey = "other"
				return append(append([]stack.Delivered{}, good...), d)
			},
			want: Findings{RepliesExpected: 8, RepliesReceived: 8, Delivered: 9, Duplicates: 1},
		},
		{
			name: "two replies swapped",
			delivered: func() []stack.Delivered {
				out := append([]stack.Delivered{}, good...)
				out[4], out[5] = out[5], out[4]
				return out
			},
			want: Findings{RepliesExpected: 8, RepliesReceived: 8, Delivered: 8, OutOfOrder: 1, ConversationsOutOfOrder: 1},
		},
		{
			name: "first reply last",
			delivered: func() []stack.Delivered {
				return append(append([]stack.Delivered{}, good[1:]...), good[0])
			},
			want: Findings{RepliesExpected: 8, RepliesReceived: 8, Delivered: 8, OutOfOrder: 1, ConversationsOutOfOrder: 1},
		},
		{
			name: "a replayed reply late is exempt from order",
			delivered: func() []stack.Delivered {
				return append(append([]stack.Delivered{}, good[1:]...), good[0])
			},
			exempt: map[string]bool{a.Messages[0].MsgID: true},
			want:   Findings{RepliesExpected: 8, RepliesReceived: 8, Delivered: 8},
		},
		{
			name: "a status reply with the wrong count",
			delivered: func() []stack.Delivered {
				out := append([]stack.Delivered{}, good...)
				out[7].Text = StatusReply(t0, 5)
				return out
			},
			want: Findings{RepliesExpected: 8, RepliesReceived: 8, Delivered: 8, WrongText: 1},
		},
		{
			name: "a message nobody asked for",
			delivered: func() []stack.Delivered {
				return append(append([]stack.Delivered{}, good...), stack.Delivered{To: b.User, Text: "Hello!"})
			},
			want: Findings{RepliesExpected: 8, RepliesReceived: 8, Delivered: 9, Unexpected: 1},
		},
		{
			name: "messages to other numbers are ignored",
			delivered: func() []stack.Delivered {
				return append(append([]stack.Delivered{}, good...), stack.Delivered{To: "+13125550000", Text: "x"})
			},
			want: Findings{RepliesExpected: 8, RepliesReceived: 8, Delivered: 8},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			accepted := allAccepted(convs)
			if tc.accepted != nil {
				tc.accepted(accepted)
			}
			got := Evaluate(convs, accepted, tc.delivered(), tc.exempt)
			got.Examples = nil
			if !equalFindings(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func equalFindings(a, b Findings) bool {
	if len(a.MissingIDs) != len(b.MissingIDs) {
		return false
	}
	for i := range a.MissingIDs {
		if a.MissingIDs[i] != b.MissingIDs[i] {
			return false
		}
	}
	a.MissingIDs, b.MissingIDs = nil, nil
	return a.RepliesExpected == b.RepliesExpected && a.RepliesReceived == b.RepliesReceived &&
		a.Delivered == b.Delivered && a.Missing == b.Missing && a.Duplicates == b.Duplicates &&
		a.OutOfOrder == b.OutOfOrder && a.ConversationsOutOfOrder == b.ConversationsOutOfOrder &&
		a.WrongText == b.WrongText && a.Unexpected == b.Unexpected
}

func TestEvaluateExplainsViolations(t *testing.T) {
	convs := Plan("r", 1, 2, false, t0)
	d := replies(convs)
	got := Evaluate(convs, allAccepted(convs), []stack.Delivered{d[1], d[0], d[0]}, nil)
	joined := strings.Join(got.Examples, "\n")
	for _, want := range []string{"out of order: +12125550000 received the reply to \"m0\" after the reply to \"m1\"",
		"duplicate: +12125550000 received the reply to \"m0\" 2 times"} {
		if !strings.Contains(joined, want) {
			t.Errorf("examples %q lack %q", joined, want)
		}
	}
}

func TestStateMismatches(t *testing.T) {
	convs := Plan("r", 3, 2, false, t0)
	accepted := allAccepted(convs)
	tests := []struct {
		name   string
		listed []stack.ConversationSummary
		want   int
	}{
		{"all counts right", []stack.ConversationSummary{
			{PhoneNumber: convs[0].User, MessageCount: 2}, {PhoneNumber: convs[1].User, MessageCount: 2},
			{PhoneNumber: convs[2].User, MessageCount: 2}}, 0},
		{"a message counted twice", []stack.ConversationSummary{
			{PhoneNumber: convs[0].User, MessageCount: 3}, {PhoneNumber: convs[1].User, MessageCount: 2},
			{PhoneNumber: convs[2].User, MessageCount: 2}}, 1},
		{"a conversation lost", []stack.ConversationSummary{
			{PhoneNumber: convs[0].User, MessageCount: 2}, {PhoneNumber: convs[1].User, MessageCount: 2}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, ex := StateMismatches(convs, accepted, tc.listed); got != tc.want {
				t.Errorf("got %d (%v), want %d", got, ex, tc.want)
			}
		})
	}
}

func TestReportViolations(t *testing.T) {
	clean := Report{InboundPlanned: 10, InboundAccepted: 10}
	tests := []struct {
		name   string
		change func(r *Report)
		want   string // "" for no violation
	}{
		{"clean", func(*Report) {}, ""},
		{"missing", func(r *Report) { r.Missing, r.MissingDeadLettered = 2, 1 }, "2 replies missing (1 of them dead-lettered)"},
		{"duplicates", func(r *Report) { r.Duplicates = 1 }, "1 duplicate replies"},
		{"out of order", func(r *Report) { r.OutOfOrder, r.ConversationsOutOfOrder = 3, 2 }, "3 replies out of order in 2 conversations"},
		{"unexpected dead letters", func(r *Report) { r.UnexpectedDeadLetters = 1 }, "1 unexpected dead letters"},
		{"not accepted", func(r *Report) { r.InboundAccepted = 9 }, "1 of 10 inbound messages were never accepted"},
		{"race", func(r *Report) { r.DataRaces = 1 }, "1 data races"},
		{"crash", func(r *Report) { r.UnexpectedExits = []string{"worker-2 (exit status 2)"} }, "exited by itself: worker-2"},
		{"state", func(r *Report) { r.StateMismatches = 4 }, "4 conversations with a wrong message count"},
		{"fault", func(r *Report) { r.FaultProblems = []string{"restart nats: boom"} }, "fault: restart nats: boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := clean
			tc.change(&r)
			v := r.violations()
			switch {
			case tc.want == "" && len(v) != 0:
				t.Errorf("violations %q, want none", v)
			case tc.want != "" && (len(v) != 1 || !strings.Contains(v[0], tc.want)):
				t.Errorf("violations %q, want one containing %q", v, tc.want)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(o *Options)
		want   string
	}{
		{"defaults", func(*Options) {}, ""},
		{"no conversations", func(o *Options) { o.Conversations = 0 }, "conversations 0"},
		{"too many conversations", func(o *Options) { o.Conversations = MaxConversations + 1 }, "conversations"},
		{"ack wait below the worker's minimum", func(o *Options) { o.AckWait = time.Second }, "ack wait 1s"},
		{"failure rate 1 never drains", func(o *Options) { o.FailureRate = 1 }, "failure rate 1"},
		{"burst without size", func(o *Options) { o.RateLimitBurst = 0 }, "rate-limit burst 0"},
		{"no duration", func(o *Options) { o.Duration = 0 }, "duration 0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			tc.change(&o)
			err := o.validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestReplyLatency(t *testing.T) {
	convs := Plan("r", 1, 4, false, t0)
	accepted := map[string]time.Time{}
	var delivered []stack.Delivered
	for i, m := range convs[0].Messages {
		accepted[m.MsgID] = t0
		delivered = append(delivered, stack.Delivered{To: convs[0].User, IdempotencyKey: m.ReplyKey,
			At: t0.Add(time.Duration(i+1) * 100 * time.Millisecond)})
	}
	// A second arrival does not count, nor a replayed message.
	delivered = append(delivered, stack.Delivered{IdempotencyKey: convs[0].Messages[0].ReplyKey, At: t0.Add(time.Hour)})
	got := replyLatency(convs, accepted, delivered, map[string]bool{convs[0].Messages[3].MsgID: true})
	if want := (Latency{P50Ms: 200, P99Ms: 300, MaxMs: 300}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := replyLatency(convs, nil, delivered, nil); got != (Latency{}) {
		t.Fatalf("nothing accepted: got %+v", got)
	}
}
