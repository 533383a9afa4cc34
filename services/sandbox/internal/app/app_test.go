package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsconv/smsconv/services/sandbox/internal/app"
	"github.com/smsconv/smsconv/services/sandbox/internal/config"
	"github.com/smsconv/smsconv/services/sandbox/internal/sandboxtest"
)

func post(tb testing.TB, url, body string, out any) int {
	tb.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			tb.Fatal(err)
		}
	}
	return resp.StatusCode
}

func TestServeConversationWithReceipts(t *testing.T) {
	sb := sandboxtest.Start(t, nil)
	var out struct {
		Reply *struct{ ID, Text string }
	}
	if status := post(t, sb.URL+"/sandbox/inbound", `{"text":"hello","wait":"5s"}`, &out); status != 200 || out.Reply == nil {
		t.Fatalf("status %d, reply %+v", status, out.Reply)
	}
	if out.Reply.Text != "You said: hello" {
		t.Fatalf("reply %q", out.Reply.Text)
	}
	// The inbound text, then the two receipts of the reply.
	evs := sb.Ingress.WaitForEvents(3, 5*time.Second)
	if evs[1].EventType != "message.sent" || evs[2].EventType != "message.finalized" ||
		evs[1].MessageID != out.Reply.ID || evs[2].MessageID != out.Reply.ID || evs[2].Status != "delivered" {
		t.Fatalf("events %+v", evs)
	}
	if err := sb.Stop(5 * time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	probe, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, sb.URL+"/healthz", nil)
	if resp, err := http.DefaultClient.Do(probe); err == nil {
		resp.Body.Close()
		t.Fatal("server still answers after shutdown")
	}
}

func TestShutdownEndsReplyWaits(t *testing.T) {
	sb := sandboxtest.Start(t, nil)
	sb.Ingress.ReplyThrough("", "")
	answered := make(chan string, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, sb.URL+"/sandbox/inbound",
			strings.NewReader(`{"text":"hello","wait":"50s"}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- err.Error()
			return
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		answered <- string(raw)
	}()
	sb.Ingress.WaitForEvents(1, 5*time.Second)
	start := time.Now()
	if err := sb.Stop(5 * time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %v with a reply wait in flight", d)
	}
	if got := <-answered; !strings.Contains(got, `"timed_out":true`) {
		t.Fatalf("the waiting request got %s", got)
	}
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestGeneratedKeyIsLogged(t *testing.T) {
	cfg, err := config.Load([]string{"SANDBOX_ADDR=127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, ln, cfg, slog.New(slog.NewTextHandler(&logs, nil))) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	var out struct {
		PublicKey string `json:"public_key"`
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+ln.Addr().String()+"/sandbox/public-key", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.PublicKey) != 44 {
		t.Fatalf("public key %q: %v", out.PublicKey, err)
	}
	if !strings.Contains(logs.String(), "TELNYX_PUBLIC_KEY="+out.PublicKey) {
		t.Fatalf("the generated public key is not logged:\n%s", logs.String())
	}
}

func TestRunFailsOnBusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg, err := config.Load([]string{"SANDBOX_ADDR=" + ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	err = app.Run(context.Background(), cfg, "test", io.Discard)
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Run on a busy address: %v", err)
	}
}
