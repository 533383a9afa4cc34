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

	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/services/worker/internal/consumer"
	"github.com/smsconv/smsconv/services/worker/internal/processor"
	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/deadletter"
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
	// handler, when set, is what the consumers call instead of proc.
	handler consumer.Handler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	_, js := natstest.Start(t).Connect(t)
	rs := redistest.Start(t)
	o := events.DefaultStreamOptions()
	o.Partitions, o.AckWait = partitions, 5*time.Second
	natstest.Topology(t, js, o)
	fake := telnyxtest.NewServer(t, fakeapi.Options{})
	client := telnyx.NewClient(telnyx.ClientOptions{BaseURL: fake.BaseURL(), APIKey: "k", Timeout: 2 * time.Second})
	proc := &processor.Processor{Store: store.New(rs.Client(), store.Options{Prefix: "t"}), Dialog: conversation.Seed,
		Sender: client, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return &env{t: t, js: js, fake: fake, proc: proc}
}

// start runs a consumer owning every partition until the test ends.
func (e *env) start(o consumer.Options) *consumer.Runner {
	e.t.Helper()
	ctx := context.Background()
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 200 * time.Millisecond
	}
	var h consumer.Handler = e.proc
	if e.handler != nil {
		h = e.handler
	}
	r, err := consumer.New(ctx, e.js, h, o, slog.New(slog.NewTextHandler(io.Discard, nil)))
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

func (e *env) dlq() []deadletter.Letter {
	e.t.Helper()
	out, err := deadletter.List(context.Background(), e.js, 0, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// waitIdle waits until the consumers are done with all they were given.
func (e *env) waitIdle() {
	e.t.Helper()
	natstest.WaitIdle(e.t, e.js, partitions)
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
	e.start(consumer.Options{MaxAttempts: 10})
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
	e.waitIdle()
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
	if len(dl) != 1 || dl[0].Class != deadletter.ClassPermanent || !strings.Contains(dl[0].Reason, "telnyx rejected") {
		t.Fatalf("dead letters: %d %+v", len(dl), dl)
	}
	if m := dl[0].Message; m == nil || m.ID != "x0" {
		t.Fatalf("dead letter does not hold the original message: %+v", dl[0])
	}
}

func TestRetriesExhaustedGoToDeadLetters(t *testing.T) {
	e := newEnv(t)
	e.fake.SetFailureRate(1, 500, "10007")
	e.publish("+12125550001", "y0", "m00")
	e.start(consumer.Options{MaxAttempts: 2})
	deadline := time.Now().Add(20 * time.Second)
	for len(e.dlq()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	dl := e.dlq()
	if len(dl) != 1 || dl[0].Class != deadletter.ClassExhausted || !strings.Contains(dl[0].Reason, "after 2 failed sends") {
		t.Fatalf("dead letters: %+v", dl)
	}
	// WORKER_MAX_ATTEMPTS counts HTTP requests: two failed sends are two requests, not two handlings of
	// three client retries each.
	if n := e.fake.Requests(); n != 2 {
		t.Fatalf("%d requests to Telnyx for MaxAttempts 2, want 2", n)
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
	if dl := e.dlq(); len(dl) != 1 || dl[0].Class != deadletter.ClassUndecodable || !strings.Contains(dl[0].Reason, "undecodable") {
		t.Fatalf("dead letters: %+v", dl)
	}
}

// gate holds every Handle until released and records how many ran at once.
type gate struct {
	next    consumer.Handler
	release chan struct{}

	mu       sync.Mutex
	cur, max int
}

func (g *gate) Handle(ctx context.Context, m events.Message, d processor.Delivery) processor.Result {
	g.mu.Lock()
	g.cur++
	g.max = max(g.max, g.cur)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.cur--
		g.mu.Unlock()
	}()
	select {
	case <-g.release:
	case <-ctx.Done():
	}
	return g.next.Handle(ctx, m, d)
}

func (g *gate) running() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cur
}

func TestMaxInFlightBoundsTheConversationsHandledAtOnce(t *testing.T) {
	e := newEnv(t)
	g := &gate{next: e.proc, release: make(chan struct{})}
	e.handler = g
	us := users(12)
	for _, u := range us {
		e.publish(u, u+"-0", "m00")
	}
	e.start(consumer.Options{MaxInFlight: 3})
	for deadline := time.Now().Add(20 * time.Second); g.running() < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d conversations handled at once, want 3", g.running())
		}
	}
	close(g.release)
	checkOrder(t, e.waitReplies(len(us)), us, 1)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.max != 3 {
		t.Fatalf("at most %d conversations were handled at once, want MaxInFlight = 3", g.max)
	}
}
