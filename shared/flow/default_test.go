package flow_test

import (
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/conversation/dialogtest"
	"github.com/smsconv/smsconv/shared/flow"
)

func TestDefaultFlowReproducesSeed(t *testing.T) { dialogtest.Run(t, flow.Default()) }

func TestDefaultFlowSettings(t *testing.T) {
	f := flow.Default()
	if f.Name() != "default" || f.Version() != "default-1" || f.Expiry() != 0 || f.InitialState() != conversation.StateNew {
		t.Errorf("name %q version %q expiry %v initial %q", f.Name(), f.Version(), f.Expiry(), f.InitialState())
	}
	for _, s := range []string{conversation.StateNew, conversation.StateGreeted, conversation.StateInformed,
		conversation.StateReset, conversation.StateEnded} {
		if !f.HasState(s) {
			t.Errorf("default flow lacks the seed state %q", s)
		}
	}
}

// FuzzDefaultMatchesSeed feeds the same messages to the Go seed dialog and the default flow, from every seed state
// and count, and requires the same reply and conversation. As a plain test it runs the corpus below.
func FuzzDefaultMatchesSeed(f *testing.F) {
	for _, s := range []string{"hello", "HI", " hey ", "start", "help", "info", "status", "reset", "stop", "quit",
		"end", "", " ", "stop all", "hello there", "he llo", "STATUS\n", "\tinfo\t", "ＨＥＬＬＯ", "İnfo", "ß", "quit!",
		"{{ .Text }}", "'", "héllo 👋"} {
		f.Add(s, uint8(0), uint8(3))
	}
	for _, s := range dialogtest.LongEchoes { // both bound the echo the same way
		f.Add(s, uint8(1), uint8(2))
	}
	states := []string{conversation.StateNew, conversation.StateGreeted, conversation.StateInformed,
		conversation.StateReset, conversation.StateEnded}
	f.Fuzz(func(t *testing.T, text string, state, count uint8) {
		start := dialogtest.Start
		now := start.Add(time.Duration(count) * time.Hour)
		c := conversation.New(start)
		c.State, c.MessageCount, c.UpdatedAt = states[int(state)%len(states)], int(count), now.Add(-time.Minute)
		in := conversation.Inbound{Text: text}
		want, got := conversation.Seed.Step(c, in, now), flow.Default().Step(c, in, now)
		w, g := want.Conversation, got.Conversation
		if got.Reply != want.Reply || got.HasReply != want.HasReply || g.State != w.State ||
			g.MessageCount != w.MessageCount || !g.CreatedAt.Equal(w.CreatedAt) || g.OptedOut != w.OptedOut {
			t.Errorf("%q in %q/%d:\nseed %+v\nflow %+v", text, c.State, c.MessageCount, want, got)
		}
	})
}

// TestDefaultFlowBoundsEcho: the real default flow answers a 5,000-character message (and other long ones)
// within Telnyx's 10 segments, keeping its own words and shortening the echo.
func TestDefaultFlowBoundsEcho(t *testing.T) { dialogtest.RunBoundedEcho(t, flow.Default()) }
