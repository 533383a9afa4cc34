// Package ingresstest is a stand-in for our ingress in the sandbox's tests: it verifies Telnyx webhook signatures
// with crypto/ed25519 (independently of the code under test), records the events, and can answer each inbound
// text the way a worker would, by sending a reply through a Telnyx API.
package ingresstest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// maxSkew is the timestamp tolerance of Telnyx's SDKs.
const maxSkew = 300 * time.Second

// Event is the part of a verified webhook the tests look at.
type Event struct {
	EventType, EventID, MessageID string
	From, To, Text, Status        string
	DeliveredTo                   string
}

// Ingress is a running stand-in ingress.
type Ingress struct {
	// URL is where webhooks go.
	URL string

	pub ed25519.PublicKey
	tb  testing.TB

	mu        sync.Mutex
	status    int
	body      string
	replyBase string
	apiKey    string
	events    []Event
	rejected  int
	replyErrs []error
	changed   chan struct{}
	wg        sync.WaitGroup
}

// New starts an ingress that accepts webhooks signed by pub, answering 200 until SetAnswer.
func New(tb testing.TB, pub ed25519.PublicKey) *Ingress {
	tb.Helper()
	in := &Ingress{pub: pub, tb: tb, status: http.StatusOK, body: `{"status":"accepted"}`, changed: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(in.serve))
	in.URL = srv.URL + "/webhooks/sms"
	tb.Cleanup(func() {
		srv.Close()
		in.wg.Wait()
	})
	return in
}

// SetAnswer makes the ingress answer verified webhooks with status and body.
func (in *Ingress) SetAnswer(status int, body string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.status, in.body = status, body
}

// ReplyThrough makes the ingress answer every inbound text with "You said: TEXT", sent through the Telnyx API
// at baseURL (…/v2) with apiKey, as a worker would. An empty baseURL stops replying.
func (in *Ingress) ReplyThrough(baseURL, apiKey string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.replyBase, in.apiKey = baseURL, apiKey
}

// Events returns the verified events received so far.
func (in *Ingress) Events() []Event {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Event(nil), in.events...)
}

// Rejected returns how many webhooks failed verification.
func (in *Ingress) Rejected() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.rejected
}

// ReplyErrors returns the errors of replies that could not be sent.
func (in *Ingress) ReplyErrors() []error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]error(nil), in.replyErrs...)
}

// WaitForEvents waits until n verified events arrived, failing the test after timeout.
func (in *Ingress) WaitForEvents(n int, timeout time.Duration) []Event {
	in.tb.Helper()
	deadline := time.After(timeout)
	for {
		in.mu.Lock()
		if len(in.events) >= n {
			out := append([]Event(nil), in.events...)
			in.mu.Unlock()
			return out
		}
		changed := in.changed
		in.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			got := in.Events()
			in.tb.Fatalf("ingresstest: %d events after %s, want %d: %+v", len(got), timeout, n, got)
			return got
		}
	}
}

// verify checks the signature as Telnyx's SDKs do.
func (in *Ingress) verify(r *http.Request, body []byte) bool {
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get("telnyx-signature-ed25519"))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return false
	}
	ts := r.Header.Get("telnyx-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if skew := time.Since(time.Unix(sec, 0)); skew > maxSkew || skew < -maxSkew {
		return false
	}
	return ed25519.Verify(in.pub, []byte(ts+"|"+string(body)), sig)
}

// webhook is the part of Telnyx's envelope the stand-in reads.
type webhook struct {
	Data struct {
		EventType string `json:"event_type"`
		ID        string `json:"id"`
		Payload   struct {
			ID   string `json:"id"`
			From struct {
				PhoneNumber string `json:"phone_number"`
			} `json:"from"`
			To []struct {
				PhoneNumber string `json:"phone_number"`
				Status      string `json:"status"`
			} `json:"to"`
			Text string `json:"text"`
		} `json:"payload"`
	} `json:"data"`
	Meta struct {
		DeliveredTo string `json:"delivered_to"`
	} `json:"meta"`
}

func (in *Ingress) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var wh webhook
	if err != nil || !in.verify(r, body) || json.Unmarshal(body, &wh) != nil || len(wh.Data.Payload.To) == 0 {
		in.mu.Lock()
		in.rejected++
		in.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid signature"}`)
		return
	}
	p := wh.Data.Payload
	ev := Event{EventType: wh.Data.EventType, EventID: wh.Data.ID, MessageID: p.ID, From: p.From.PhoneNumber,
		To: p.To[0].PhoneNumber, Text: p.Text, Status: p.To[0].Status, DeliveredTo: wh.Meta.DeliveredTo}

	in.mu.Lock()
	status, answer, replyBase, apiKey := in.status, in.body, in.replyBase, in.apiKey
	if status >= 200 && status <= 299 {
		in.events = append(in.events, ev)
		close(in.changed)
		in.changed = make(chan struct{})
		if ev.EventType == "message.received" && replyBase != "" {
			in.wg.Add(1)
			go func() {
				defer in.wg.Done()
				in.reply(replyBase, apiKey, ev)
			}()
		}
	}
	in.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

// reply sends "You said: TEXT" back to the user, after the webhook was answered, as a queue-backed worker would.
func (in *Ingress) reply(baseURL, apiKey string, ev Event) {
	body, _ := json.Marshal(map[string]string{"from": ev.To, "to": ev.From, "text": "You said: " + ev.Text})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/messages", bytes.NewReader(body))
	if err == nil {
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "reply-"+ev.MessageID)
		var resp *http.Response
		resp, err = http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("reply answered HTTP %d", resp.StatusCode)
			}
		}
	}
	if err != nil {
		in.mu.Lock()
		in.replyErrs = append(in.replyErrs, err)
		in.mu.Unlock()
	}
}
