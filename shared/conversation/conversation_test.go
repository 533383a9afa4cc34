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
