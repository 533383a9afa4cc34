package conversation_test

import (
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/conversation"
)

// BenchmarkSeedStep is one step of the seed dialog on a mix of its messages: constant replies, the status
// template and the echo of unknown text.
func BenchmarkSeedStep(b *testing.B) {
	msgs := []conversation.Inbound{{Text: "hello"}, {Text: "Help"}, {Text: " info "}, {Text: "status"},
		{Text: "What's up?"}, {Text: "stop"}, {Text: "reset"}}
	now := time.Date(2026, 6, 18, 12, 0, 0, 0, time.UTC)
	c := conversation.New(now)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		res := conversation.Seed.Step(c, msgs[i%len(msgs)], now)
		if !res.HasReply {
			b.Fatalf("no reply to %q", msgs[i%len(msgs)].Text)
		}
		c = res.Conversation
	}
}

// BenchmarkSeedStepGreeting is the common case: a keyword with a constant reply.
func BenchmarkSeedStepGreeting(b *testing.B) {
	now := time.Date(2026, 6, 18, 12, 0, 0, 0, time.UTC)
	c := conversation.New(now)
	in := conversation.Inbound{Text: "hello"}
	b.ReportAllocs()
	for b.Loop() {
		c = conversation.Seed.Step(c, in, now).Conversation
	}
}
