package consumer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/services/worker/internal/consumer"
	"github.com/smsconv/smsconv/services/worker/internal/processor"
	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/natstest"
	"github.com/smsconv/smsconv/shared/redistest"
	"github.com/smsconv/smsconv/shared/store"
	"github.com/smsconv/smsconv/shared/telnyx"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
	"github.com/smsconv/smsconv/shared/telnyx/telnyxtest"
)

const (
	our        = "+15550001000"
	partitions = 4
)

type env struct {
	t    *testing.T
	js   jetstream.JetStream
	fake *telnyxtest.Server
	proc *processor.Processor
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ns := natstest.Start(t)
	rs := redistest.Start(t)
	nc, err := nats.Connect(ns.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	o := events.DefaultStreamOptions()
	o.Partitions, o.AckWait = partitions, 5*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := events.EnsureStreams(ctx, js, o); err != nil {
		t.Fatal(err)
	}
	fake := telnyxtest.NewServer(t, fakeapi.Options{})
	client := telnyx.NewClient(telnyx.ClientOptions{BaseURL: fake.BaseURL(), APIKey: "k", MaxAttempts: 1,
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Timeout: 2 * time.Second})
	proc := &processor.Processor{Store: store.New(rs.Client(), store.Options{Prefix: "t"}), Dialog: conversation.Seed,
		Sender: client, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return &env{t: t, js: js, fake: fake, proc: proc}
}

// start runs a consumer owning every partition until the test ends.
func (e *env) start(o consumer.Options) *consumer.Runner {
	e.t.Helper()
	ctx := context.Background()
	if o.AckWait == 0 {
		o.AckWait = 5 * time.Second
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 200 * time.Millisecond
	}
	r, err := consumer.New(ctx, e.js, e.proc, o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		e.t.Fatal(err)
	}
	all := make([]int, partitions)
	for i := range all {
		all[i] = i
	}
	r.Assign(all)
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
	})
	return r
}

func (e *env) publish(user, id, text string) {
	e.t.Helper()
	m := events.Message{Kind: events.KindInbound, ID: id, OurNumber: our, UserNumber: user, Text: text, AcceptedAt: time.Now().UTC()}
	if _, err := e.js.Publish(context.Background(), events.ConversationSubject(our, user), m.Encode(), jetstream.WithMsgID(id)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) waitReplies(n int) []fakeapi.SentMessage {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := e.fake.WaitForMessages(ctx, n)
	if err != nil {
		e.t.Fatalf("waiting for %d replies: got %d: %v", n, len(e.fake.Messages()), err)
	}
	return got
}

func (e *env) dlq() []*jetstream.RawStreamMsg {
	e.t.Helper()
	s, err := e.js.Stream(context.Background(), events.StreamDeadLetters)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := uint64(1); ; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			return out
		}
		out = append(out, m)
	}
}

// checkOrder asserts every user got exactly the unknown-command echoes of 1..n in order.
func checkOrder(t *testing.T, sent []fakeapi.SentMessage, users []string, n int) {
	t.Helper()
	per := map[string][]string{}
	for _, m := range sent {
		per[m.To] = append(per[m.To], m.Text)
	}
	for _, u := range users {
		got := per[u]
		if len(got) != n {
			t.Fatalf("%s got %d replies, want %d: %q", u, len(got), n, got)
		}
		for i, text := range got {
			if want := fmt.Sprintf("You said: 'm%02d'", i); !strings.HasPrefix(text, want) {
				t.Fatalf("%s reply %d = %q, want it to start %q (order broken)", u, i, text, want)
			}
		}
	}
}

func users(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+1212555%04d", i)
	}
	return out
}

func TestOrderPerConversationAcrossManyConversations(t *testing.T) {
	e := newEnv(t)
	us := users(20)
	const per = 10
	for i := range per {
		for _, u := range us {
			e.publish(u, fmt.Sprintf("%s-%02d", u, i), fmt.Sprintf("m%02d", i))
		}
	}
	e.start(consumer.Options{MaxInFlight: 8})
	sent := e.waitReplies(len(us) * per)
	checkOrder(t, sent, us, per)
}

func TestFailingMessageHoldsBackItsConversationOnly(t *testing.T) {
	e := newEnv(t)
	e.fake.FailNext(2, 500, "10007") // the first two sends fail: a retry must not let m01 overtake m00
	a, b := "+12125550001", "+12125550002"
	e.publish(a, "a0", "m00")
	e.publish(a, "a1", "m01")
	e.start(consumer.Options{RetryInPlace: 1, MaxAttempts: 10})
	e.publish(b, "b0", "m00")
	sent := e.waitReplies(3)
	checkOrder(t, sent, []string{a}, 2)
}

func TestTwoConsumersOnTheSamePartitionsKeepOrderAndExactlyOnce(t *testing.T) {
	e := newEnv(t)
	us := users(10)
	const per = 12
	// Both runners own every partition at once: the worst case of an ownership move. The stream-head check
	// and Redis deduplication must still give each user their replies once, in order.
	e.start(consumer.Options{MaxInFlight: 4})
	e.start(consumer.Options{MaxInFlight: 4})
	var wg sync.WaitGroup
	for _, u := range us {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				e.publish(u, fmt.Sprintf("%s-%02d", u, i), fmt.Sprintf("m%02d", i))
			}
		}()
	}
	wg.Wait()
	sent := e.waitReplies(len(us) * per)
	time.Sleep(300 * time.Millisecond) // a duplicate would arrive now
	if n := len(e.fake.Messages()); n != len(us)*per {
		t.Fatalf("%d replies, want %d", n, len(us)*per)
	}
	checkOrder(t, sent, us, per)
}

func TestPermanentFailureIsDeadLetteredAndConversationMovesOn(t *testing.T) {
	e := newEnv(t)
	e.fake.FailNext(1, 422, "10015")
	u := "+12125550001"
	e.publish(u, "x0", "m00")
	e.publish(u, "x1", "m01")
	e.start(consumer.Options{})
	sent := e.waitReplies(1)
	if !strings.HasPrefix(sent[0].Text, "You said: 'm01'") {
		t.Fatalf("after the dead letter the next reply is %q", sent[0].Text)
	}
	dl := e.dlq()
	if len(dl) != 1 || dl[0].Header.Get(events.HeaderDLQClass) != "permanent" || !strings.Contains(dl[0].Header.Get(events.HeaderDLQReason), "telnyx rejected") {
		t.Fatalf("dead letters: %d %v", len(dl), dl)
	}
	if m, err := events.Decode(dl[0].Data); err != nil || m.ID != "x0" {
		t.Fatalf("dead letter does not hold the original message: %v %v", m, err)
	}
}

func TestRetriesExhaustedGoToDeadLetters(t *testing.T) {
	e := newEnv(t)
	e.fake.SetFailureRate(1, 500, "10007")
	e.publish("+12125550001", "y0", "m00")
	e.start(consumer.Options{RetryInPlace: 1, MaxAttempts: 2})
	deadline := time.Now().Add(20 * time.Second)
	for len(e.dlq()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	dl := e.dlq()
	if len(dl) != 1 || dl[0].Header.Get(events.HeaderDLQClass) != "exhausted" || !strings.Contains(dl[0].Header.Get(events.HeaderDLQReason), "after 2 failed sends") {
		t.Fatalf("dead letters: %+v", dl)
	}
}

func TestUndecodableMessageIsDeadLettered(t *testing.T) {
	e := newEnv(t)
	if _, err := e.js.Publish(context.Background(), events.ConversationSubject(our, "+12125550001"), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	e.start(consumer.Options{})
	deadline := time.Now().Add(10 * time.Second)
	for len(e.dlq()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if dl := e.dlq(); len(dl) != 1 || !strings.Contains(dl[0].Header.Get(events.HeaderDLQReason), "undecodable") {
		t.Fatalf("dead letters: %+v", dl)
	}
}
