package simulator

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/services/sandbox/internal/ingresstest"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
	"github.com/smsconv/smsconv/shared/telnyx/telnyxtest"
)

const (
	ourNumber  = "+12125550100"
	userNumber = "+13125550123"
	apiKey     = "KEY_sandbox"
)

type env struct {
	fake    *telnyxtest.Server
	ingress *ingresstest.Ingress
	sim     *Simulator
}

// newEnv wires a simulator to a fake Telnyx server and a stand-in ingress that replies through the fake.
func newEnv(tb testing.TB, receipts bool, delay time.Duration) env {
	tb.Helper()
	signer, err := fakeapi.GenerateSigner()
	if err != nil {
		tb.Fatal(err)
	}
	in := ingresstest.New(tb, signer.PublicKey())
	fake := telnyxtest.NewServer(tb, fakeapi.Options{APIKey: apiKey})
	in.ReplyThrough(fake.BaseURL(), apiKey)
	sim := New(fake.Fake, signer, Settings{WebhookURL: in.URL, OurNumber: ourNumber, UserNumber: userNumber,
		Receipts: receipts, ReceiptDelay: delay, WebhookTimeout: 2 * time.Second}, slog.New(slog.DiscardHandler))
	tb.Cleanup(sim.Close)
	return env{fake: fake, ingress: in, sim: sim}
}

func TestSendWaitsForReply(t *testing.T) {
	e := newEnv(t, false, 0)
	res, err := e.sim.Send(context.Background(), Text{Text: "hello", Wait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.WebhookStatus != 200 || res.Reply == nil || res.TimedOut {
		t.Fatalf("Send = %+v", res)
	}
	if res.Reply.Text != "You said: hello" || res.Reply.From != ourNumber || res.Reply.To != userNumber {
		t.Errorf("reply = %+v", res.Reply)
	}
	evs := e.ingress.Events()
	if len(evs) != 1 {
		t.Fatalf("ingress events = %+v", evs)
	}
	ev := evs[0]
	if ev.EventType != "message.received" || ev.EventID != res.EventID || ev.MessageID != res.MessageID ||
		ev.From != userNumber || ev.To != ourNumber || ev.Text != "hello" || ev.DeliveredTo != e.ingress.URL {
		t.Errorf("ingress saw %+v, result %+v", ev, res)
	}
}

func TestSendExplicitNumbersAndMedia(t *testing.T) {
	e := newEnv(t, false, 0)
	res, err := e.sim.Send(context.Background(), Text{From: "+447911123456", To: "+15550009999",
		Media: []fakeapi.Media{{URL: "https://example.com/cat.jpg"}}, Wait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reply == nil || res.Reply.To != "+447911123456" || res.Reply.From != "+15550009999" {
		t.Fatalf("reply = %+v", res.Reply)
	}
}

func TestSendPicksTheRightConversation(t *testing.T) {
	e := newEnv(t, false, 0)
	e.ingress.ReplyThrough("", "") // reply by hand below
	done := make(chan Result, 1)
	go func() {
		res, err := e.sim.Send(context.Background(), Text{Text: "hi", Wait: 5 * time.Second})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	e.ingress.WaitForEvents(1, 5*time.Second)
	sendVia(t, e.fake, ourNumber, "+15559998888", "to someone else")
	sendVia(t, e.fake, "+15550002000", userNumber, "from another of our numbers")
	sendVia(t, e.fake, ourNumber, userNumber, "the reply")
	res := <-done
	if res.Reply == nil || res.Reply.Text != "the reply" {
		t.Fatalf("reply = %+v", res.Reply)
	}
}

func sendVia(tb testing.TB, fake *telnyxtest.Server, from, to, text string) {
	tb.Helper()
	body := `{"from":"` + from + `","to":"` + to + `","text":"` + text + `"}`
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, fake.BaseURL()+"/messages", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		tb.Fatalf("send status %d", resp.StatusCode)
	}
}

func TestSendTimesOut(t *testing.T) {
	e := newEnv(t, false, 0)
	e.ingress.ReplyThrough("", "")
	start := time.Now()
	res, err := e.sim.Send(context.Background(), Text{Text: "anyone?", Wait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut || res.Reply != nil || res.WebhookStatus != 200 {
		t.Fatalf("Send = %+v", res)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Fatalf("waited %v", d)
	}
}

func TestSendWithoutWait(t *testing.T) {
	e := newEnv(t, false, 0)
	res, err := e.sim.Send(context.Background(), Text{Text: "fire and forget"})
	if err != nil || res.Reply != nil || res.TimedOut || res.EventID == "" {
		t.Fatalf("Send = %+v, %v", res, err)
	}
}

func TestSendRejected(t *testing.T) {
	e := newEnv(t, false, 0)
	e.ingress.SetAnswer(http.StatusServiceUnavailable, `{"error":"nats down"}`)
	res, err := e.sim.Send(context.Background(), Text{Text: "hello", Wait: 5 * time.Second})
	if !errors.Is(err, ErrWebhookRejected) {
		t.Fatalf("err = %v", err)
	}
	if res.WebhookStatus != 503 || res.WebhookBody != `{"error":"nats down"}` || res.Reply != nil {
		t.Fatalf("Send = %+v", res)
	}
}

func TestSendBadSignatureIsRejected(t *testing.T) {
	e := newEnv(t, false, 0)
	other, _ := fakeapi.GenerateSigner()
	e.sim.signer = other // the ingress trusts another key
	res, err := e.sim.Send(context.Background(), Text{Text: "hello"})
	if !errors.Is(err, ErrWebhookRejected) || res.WebhookStatus != 401 || !strings.Contains(res.WebhookBody, "invalid signature") {
		t.Fatalf("Send = %+v, %v", res, err)
	}
}

func TestSendUnreachable(t *testing.T) {
	e := newEnv(t, false, 0)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	e.sim.set.WebhookURL = closed.URL
	res, err := e.sim.Send(context.Background(), Text{Text: "hello"})
	if !errors.Is(err, ErrWebhookFailed) || res.WebhookStatus != 0 {
		t.Fatalf("Send = %+v, %v", res, err)
	}
}

func TestSendInvalid(t *testing.T) {
	e := newEnv(t, false, 0)
	tests := []struct {
		name string
		in   Text
	}{
		{"bad from", Text{From: "12345", Text: "x"}},
		{"bad to", Text{To: "+1", Text: "x"}},
		{"nothing to send", Text{}},
		{"media without url", Text{Media: []fakeapi.Media{{ContentType: "image/png"}}}},
		{"wait too long", Text{Text: "x", Wait: 2 * MaxWait}},
		{"negative wait", Text{Text: "x", Wait: -time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.sim.Send(context.Background(), tc.in); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	if n := len(e.ingress.Events()) + e.ingress.Rejected(); n != 0 {
		t.Fatalf("invalid texts reached the ingress: %d", n)
	}
}

func TestSendCallerGoesAway(t *testing.T) {
	e := newEnv(t, false, 0)
	e.ingress.ReplyThrough("", "")
	ctx, cancel := context.WithCancel(context.Background())
	go func() { e.ingress.WaitForEvents(1, 5*time.Second); cancel() }()
	_, err := e.sim.Send(ctx, Text{Text: "hello", Wait: 30 * time.Second})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestReceipts(t *testing.T) {
	e := newEnv(t, true, 10*time.Millisecond)
	e.ingress.ReplyThrough("", "")
	sendVia(t, e.fake, ourNumber, userNumber, "Hello!")
	msg := e.fake.Messages()[0]
	evs := e.ingress.WaitForEvents(2, 5*time.Second)
	want := []struct{ typ, status string }{{"message.sent", "sent"}, {"message.finalized", "delivered"}}
	for i, w := range want {
		ev := evs[i]
		if ev.EventType != w.typ || ev.Status != w.status || ev.MessageID != msg.ID || ev.From != ourNumber ||
			ev.To != userNumber || ev.Text != "Hello!" {
			t.Errorf("event %d = %+v, want %s/%s for %s", i, ev, w.typ, w.status, msg.ID)
		}
	}
	if evs[0].EventID == evs[1].EventID {
		t.Error("both receipts have one event id")
	}
}

func TestReceiptsGoToTheSendsWebhookURL(t *testing.T) {
	e := newEnv(t, true, 0)
	other := ingresstest.New(t, e.sim.signer.PublicKey())
	body := `{"from":"` + ourNumber + `","to":"` + userNumber + `","text":"hi","webhook_url":"` + other.URL + `"}`
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, e.fake.BaseURL()+"/messages", bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	other.WaitForEvents(2, 5*time.Second)
	if n := len(e.ingress.Events()); n != 0 {
		t.Fatalf("default ingress got %d receipts", n)
	}
}

func TestReceiptsOff(t *testing.T) {
	e := newEnv(t, false, 0)
	sendVia(t, e.fake, ourNumber, userNumber, "Hello!")
	// The send hook runs on the send's request, so any receipts it scheduled are in the wait group by now;
	// waiting for it means every receipt the simulator meant to post has been posted.
	e.sim.wg.Wait()
	if n := len(e.ingress.Events()); n != 0 {
		t.Fatalf("%d receipts with receipts off", n)
	}
}

func TestCloseCancelsPendingReceipts(t *testing.T) {
	e := newEnv(t, true, time.Hour)
	sendVia(t, e.fake, ourNumber, userNumber, "Hello!")
	start := time.Now()
	e.sim.Close()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v", d)
	}
	sendVia(t, e.fake, ourNumber, userNumber, "after close") // must not start a receipt goroutine
	if n := len(e.ingress.Events()); n != 0 {
		t.Fatalf("%d receipts after Close", n)
	}
}

func TestPlausibleNumber(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"+13125550123", true}, {"+447911123456", true}, {"+12345678", true}, {"+123456789012345", true},
		{"13125550123", false}, {"+1234567", false}, {"+1234567890123456", false}, {"+05551230000", false},
		{"+1555123000a", false}, {"", false}, {"+", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := PlausibleNumber(tc.in); got != tc.want {
				t.Fatalf("PlausibleNumber(%q) = %v", tc.in, got)
			}
		})
	}
}
