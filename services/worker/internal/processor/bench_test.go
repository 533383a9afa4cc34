package processor_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsconv/smsconv/services/worker/internal/processor"
	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/redistest"
	"github.com/smsconv/smsconv/shared/store"
	"github.com/smsconv/smsconv/shared/telnyx"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
	"github.com/smsconv/smsconv/shared/telnyx/telnyxtest"
)

// BenchmarkHandle is the worker's hot path for a new user's "hello": everything Handle does against a real
// Redis and a fake Telnyx over HTTP (the dialog step, the commit, the send and its record), one message at a
// time. The NATS side (order check, ack) is the consumer's and not in it.
func BenchmarkHandle(b *testing.B) {
	for _, bc := range []struct {
		name     string
		parallel bool
	}{{"serial", false}, {"parallel16", true}} {
		b.Run(bc.name, func(b *testing.B) {
			rs := redistest.Start(b)
			fake := telnyxtest.NewServer(b, fakeapi.Options{APIKey: "key"})
			p := &processor.Processor{Store: store.New(rs.Client(), store.Options{Prefix: "b"}), Dialog: conversation.Seed,
				Sender: telnyx.NewClient(telnyx.ClientOptions{BaseURL: fake.BaseURL(), APIKey: "key", Timeout: 5 * time.Second}),
				Log:    slog.New(slog.NewTextHandler(io.Discard, nil)), Cache: processor.NewCache(1000)}
			msg := func(i int) events.Message {
				id := "bench-" + strconv.Itoa(i)
				return events.Message{Kind: events.KindInbound, ID: id, EventID: "evt-" + id, OurNumber: our,
					UserNumber: "+1212555" + strconv.Itoa(1_000_000 + i%1_000_000)[1:], Text: "hello", ReceivedAt: t0, AcceptedAt: t0}
			}
			handle := func(i int) {
				if res := p.Handle(context.Background(), msg(i), processor.Delivery{}); res.Outcome != processor.Done {
					b.Errorf("message %d: %v %s %v", i, res.Outcome, res.Reason, res.Err)
				}
			}
			b.ReportAllocs()
			if !bc.parallel {
				i := 0
				for b.Loop() {
					handle(i)
					i++
				}
				return
			}
			b.SetParallelism(8) // 16 goroutines on 2 cores: the closed-loop benchmark's clients
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					handle(int(next.Add(1)))
				}
			})
		})
	}
}
