package conversation_test

import (
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/conversation/dialogtest"
)

func TestSeedDialog(t *testing.T) { dialogtest.Run(t, conversation.Seed) }

func TestSeedDialogIsPure(t *testing.T) {
	c := conversation.New(dialogtest.Start)
	c.Vars = map[string]string{"a": "b"}
	now := dialogtest.Start.Add(time.Hour)
	a := conversation.Seed.Step(c, conversation.Inbound{Text: "info"}, now)
	b := conversation.Seed.Step(c, conversation.Inbound{Text: "info"}, now)
	if a.Reply != b.Reply || a.Conversation.State != b.Conversation.State || c.State != conversation.StateNew {
		t.Fatalf("step is not pure: %+v vs %+v, input now %q", a, b, c.State)
	}
}

func TestSeedDialogBoundsEcho(t *testing.T) { dialogtest.RunBoundedEcho(t, conversation.Seed) }

func TestKeyword(t *testing.T) {
	tests := []struct{ in, want string }{
		{"stop", "stop"}, {"  STOP\n", "stop"}, {"Stop  All", "stop all"}, {"stop\tall", "stop all"},
		{"ＨＥＬＬＯ", "ｈｅｌｌｏ"}, {"", ""}, {" \u00a0 ", ""}, {"héllo  wörld", "héllo wörld"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := conversation.Keyword(tc.in); got != tc.want {
				t.Fatalf("Keyword(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestOptWords(t *testing.T) {
	tests := []struct {
		text       string
		out, optIn bool
	}{
		{"STOP", true, false}, {"stop all", true, false}, {" Stop  All ", true, false}, {"stopall", true, false},
		{"unsubscribe", true, false}, {"cancel", true, false}, {"end", true, false}, {"quit", true, false},
		{"start", false, true}, {"UNSTOP", false, true},
		{"stop please", false, false}, {"hello", false, false}, {"", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			if conversation.IsOptOut(tc.text) != tc.out || conversation.IsOptIn(tc.text) != tc.optIn {
				t.Fatalf("IsOptOut %v IsOptIn %v, want %v %v", conversation.IsOptOut(tc.text), conversation.IsOptIn(tc.text), tc.out, tc.optIn)
			}
		})
	}
}

func TestReceivedAt(t *testing.T) {
	a := time.Date(2024, 5, 14, 20, 0, 0, 0, time.FixedZone("x", 3600))
	b := a.Add(time.Hour)
	tests := []struct {
		name  string
		times []time.Time
		want  time.Time
	}{
		{"first wins", []time.Time{a, b}, a.UTC()},
		{"zero skipped", []time.Time{{}, b}, b.UTC()},
		{"all zero", []time.Time{{}, {}}, time.Time{}},
		{"none", nil, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := conversation.ReceivedAt(tc.times...); !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Fatalf("ReceivedAt = %v, want %v in UTC", got, tc.want)
			}
		})
	}
}
