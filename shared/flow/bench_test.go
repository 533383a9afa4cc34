package flow_test

import (
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/flow"
)

// BenchmarkStep measures the default flow on a mix of the seed's messages: constant replies, the status template
// and the echo of unknown text.
func BenchmarkStep(b *testing.B) {
	f := flow.Default()
	msgs := []conversation.Inbound{{Text: "hello"}, {Text: "Help"}, {Text: "info"}, {Text: "status"},
		{Text: "What's up?"}, {Text: "stop"}}
	now := time.Date(2026, 6, 18, 12, 0, 0, 0, time.UTC)
	c := conversation.New(now)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		res := f.Step(c, msgs[i%len(msgs)], now)
		c = res.Conversation
	}
}

// BenchmarkStepConstantReply is the common case: a keyword with a literal reply.
func BenchmarkStepConstantReply(b *testing.B) {
	f := flow.Default()
	now := time.Date(2026, 6, 18, 12, 0, 0, 0, time.UTC)
	c := conversation.New(now)
	in := conversation.Inbound{Text: "hello"}
	b.ReportAllocs()
	for b.Loop() {
		c = f.Step(c, in, now).Conversation
	}
}
