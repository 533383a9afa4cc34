package api

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/services/sandbox/internal/ingresstest"
	"github.com/smsconv/smsconv/services/sandbox/internal/simulator"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
)

const (
	ourNumber  = "+12125550100"
	userNumber = "+13125550123"
	apiKey     = "KEY_sandbox"
)

type env struct {
	url     string
	fake    *fakeapi.Fake
	signer  *fakeapi.Signer
	ingress *ingresstest.Ingress
}

// newEnv serves the sandbox API over HTTP, with a stand-in ingress that replies through the sandbox's own
// Telnyx API, as the real ingress and worker do.
func newEnv(tb testing.TB, defaults Defaults) env {
	tb.Helper()
	signer, err := fakeapi.GenerateSigner()
	if err != nil {
		tb.Fatal(err)
	}
	in := ingresstest.New(tb, signer.PublicKey())
	fake := fakeapi.NewFake(fakeapi.Options{APIKey: apiKey, Latency: defaults.Latency})
	defaults.Apply(fake)
	log := slog.New(slog.DiscardHandler)
	sim := simulator.New(fake, signer, simulator.Settings{WebhookURL: in.URL, OurNumber: ourNumber,
		UserNumber: userNumber, WebhookTimeout: 2 * time.Second}, log)
	srv := httptest.NewServer(New(fake, sim, signer.PublicKeyBase64(), defaults, log))
	tb.Cleanup(srv.Close)
	tb.Cleanup(sim.Close)
	in.ReplyThrough(srv.URL+"/v2", apiKey)
	return env{url: srv.URL, fake: fake, signer: signer, ingress: in}
}

// call sends a request with an optional JSON body and decodes a JSON answer into out (if not nil).
func call(tb testing.TB, method, url, body string, out any) (int, string) {
	tb.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.Fatalf("%s %s: answer is not JSON: %v: %s", method, url, err, raw)
		}
	}
	return resp.StatusCode, string(raw)
}

// sendSMS sends through the sandbox's Telnyx API and returns the status and Telnyx error code.
func sendSMS(tb testing.TB, e env, to, text string) (int, string) {
	tb.Helper()
	var out struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	status, _ := call(tb, http.MethodPost, e.url+"/v2/messages",
		`{"from":"`+ourNumber+`","to":"`+to+`","text":"`+text+`"}`, &out)
	if len(out.Errors) > 0 {
		return status, out.Errors[0].Code
	}
	return status, ""
}

func TestFaults(t *testing.T) {
	e := newEnv(t, Defaults{FailureStatus: 500})
	tests := []struct {
		name       string
		faults     string
		check      func(t *testing.T, f FaultsResponse)
		wantSends  []int
		wantCodes  []string
		afterFault func(t *testing.T)
	}{
		{name: "fail next with 429", faults: `{"fail_next":2,"status":429,"code":"10011"}`,
			check:     func(t *testing.T, f FaultsResponse) { eq(t, f.FailNext == 2 && f.FailNextStatus == 429, f) },
			wantSends: []int{429, 429, 200}, wantCodes: []string{"10011", "10011", ""}},
		{name: "fail next defaults to 500", faults: `{"fail_next":1}`,
			check:     func(t *testing.T, f FaultsResponse) { eq(t, f.FailNext == 1 && f.FailNextStatus == 500, f) },
			wantSends: []int{500, 200}, wantCodes: []string{"10007", ""}},
		{name: "fail after send", faults: `{"fail_after_send":1,"status":502}`,
			check: func(t *testing.T, f FaultsResponse) {
				eq(t, f.FailAfterSend == 1 && f.FailAfterSendStatus == 502, f)
			},
			wantSends: []int{502, 200}, wantCodes: []string{"10007", ""}},
		{name: "failure rate 1", faults: `{"failure_rate":1,"status":503}`,
			check:     func(t *testing.T, f FaultsResponse) { eq(t, f.FailureRate == 1 && f.FailureStatus == 503, f) },
			wantSends: []int{503, 503}, wantCodes: []string{"10007", "10007"}},
		{name: "failure rate off", faults: `{"failure_rate":0}`,
			check:     func(t *testing.T, f FaultsResponse) { eq(t, f.FailureRate == 0, f) },
			wantSends: []int{200}, wantCodes: []string{""}},
		{name: "opt out", faults: `{"opt_out":"` + userNumber + `"}`,
			check: func(t *testing.T, f FaultsResponse) {
				eq(t, len(f.OptedOut) == 1 && f.OptedOut[0] == userNumber, f)
			},
			wantSends: []int{403}, wantCodes: []string{"40300"}},
		{name: "opt in", faults: `{"opt_in":"` + userNumber + `"}`,
			check:     func(t *testing.T, f FaultsResponse) { eq(t, len(f.OptedOut) == 0 && f.OptedOut != nil, f) },
			wantSends: []int{200}, wantCodes: []string{""}},
		{name: "rate limit per number", faults: `{"rate_limits":{"per_number":2}}`,
			check:     func(t *testing.T, f FaultsResponse) { eq(t, f.RateLimits.PerNumber == 2, f) },
			wantSends: []int{200, 200, 429}, wantCodes: []string{"", "", "10011"}},
		{name: "rate limit queue then 40318", faults: `{"rate_limits":{"per_number":1,"queue":"1s"}}`,
			check:     func(t *testing.T, f FaultsResponse) { eq(t, f.RateLimits.Queue == "1s" && f.RateRefused == 0, f) },
			wantSends: []int{200, 200, 429}, wantCodes: []string{"", "", "40318"}},
		{name: "rate limits off", faults: `{"rate_limits":{}}`,
			check:     func(t *testing.T, f FaultsResponse) { eq(t, f.RateLimits.PerNumber == 0, f) },
			wantSends: []int{200, 200, 200}, wantCodes: []string{"", "", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f FaultsResponse
			if status, raw := call(t, http.MethodPost, e.url+"/sandbox/faults", tc.faults, &f); status != 200 {
				t.Fatalf("POST /sandbox/faults: %d %s", status, raw)
			}
			tc.check(t, f)
			for i, want := range tc.wantSends {
				status, code := sendSMS(t, e, userNumber, "hi")
				if status != want || code != tc.wantCodes[i] {
					t.Fatalf("send %d: %d %q, want %d %q", i, status, code, want, tc.wantCodes[i])
				}
			}
			var now FaultsResponse
			call(t, http.MethodGet, e.url+"/sandbox/faults", "", &now)
			if now.FailNext != 0 || now.FailAfterSend != 0 {
				t.Errorf("GET /sandbox/faults after the sends: %+v", now)
			}
		})
	}
}

func eq(tb testing.TB, ok bool, got any) {
	tb.Helper()
	if !ok {
		tb.Fatalf("unexpected: %+v", got)
	}
}

func TestLatencyFault(t *testing.T) {
	e := newEnv(t, Defaults{FailureStatus: 500})
	var f FaultsResponse
	call(t, http.MethodPost, e.url+"/sandbox/faults", `{"latency":"150ms"}`, &f)
	if f.Latency != "150ms" {
		t.Fatalf("latency = %q", f.Latency)
	}
	start := time.Now()
	if status, _ := sendSMS(t, e, userNumber, "slow"); status != 200 {
		t.Fatalf("status %d", status)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("answered in %v", d)
	}
}

func TestFaultsInvalid(t *testing.T) {
	e := newEnv(t, Defaults{FailureStatus: 500})
	tests := []struct{ name, body, want string }{
		{"not json", `{`, "invalid JSON"},
		{"unknown field", `{"fail_nxt":1}`, "unknown field"},
		{"negative fail_next", `{"fail_next":-1}`, "fail_next"},
		{"negative fail_after_send", `{"fail_after_send":-1}`, "fail_after_send"},
		{"rate above 1", `{"failure_rate":1.5}`, "failure_rate"},
		{"status 200", `{"fail_next":1,"status":200}`, "status"},
		{"status alone", `{"status":429}`, "give one of them"},
		{"bad latency", `{"latency":"soon"}`, "latency"},
		{"latency too long", `{"latency":"2m"}`, "latency"},
		{"bad opt_out", `{"opt_out":"5551230000"}`, "opt_out"},
		{"negative rate", `{"rate_limits":{"account":-1}}`, "rate_limits"},
		{"bad queue", `{"rate_limits":{"per_number":1,"queue":"long"}}`, "rate_limits"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out struct{ Error string }
			status, raw := call(t, http.MethodPost, e.url+"/sandbox/faults", tc.body, &out)
			if status != 400 || !strings.Contains(out.Error, tc.want) {
				t.Fatalf("got %d %s, want 400 mentioning %q", status, raw, tc.want)
			}
		})
	}
	if f := e.fake.Faults(); f.FailNext != 0 || f.FailureRate != 0 || f.Latency != 0 {
		t.Fatalf("an invalid request changed the faults: %+v", f)
	}
}

func TestInboxAndReset(t *testing.T) {
	e := newEnv(t, Defaults{FailureStatus: 500, Latency: 5 * time.Millisecond})
	for _, to := range []string{userNumber, userNumber, "+15551230001"} {
		if status, _ := sendSMS(t, e, to, "hi"); status != 200 {
			t.Fatalf("send: %d", status)
		}
	}
	var all, mine []fakeapi.SentMessage
	call(t, http.MethodGet, e.url+"/sandbox/messages", "", &all)
	call(t, http.MethodGet, e.url+"/sandbox/messages?to=%2B13125550123", "", &mine)
	if len(all) != 3 || len(mine) != 2 || mine[0].To != userNumber || mine[0].Text != "hi" || mine[0].ID == "" {
		t.Fatalf("inbox: all %+v, mine %+v", all, mine)
	}

	call(t, http.MethodPost, e.url+"/sandbox/faults", `{"latency":"1s","fail_next":5}`, nil)
	if status, _ := call(t, http.MethodDelete, e.url+"/sandbox/messages", "", nil); status != http.StatusNoContent {
		t.Fatalf("DELETE status %d", status)
	}
	status, raw := call(t, http.MethodGet, e.url+"/sandbox/messages", "", nil)
	if status != 200 || strings.TrimSpace(raw) != "[]" {
		t.Fatalf("after reset: %d %s", status, raw)
	}
	var f FaultsResponse
	call(t, http.MethodGet, e.url+"/sandbox/faults", "", &f)
	if f.Latency != "5ms" || f.FailNext != 0 {
		t.Fatalf("reset did not restore the configured faults: %+v", f)
	}
}

func TestInbound(t *testing.T) {
	e := newEnv(t, Defaults{FailureStatus: 500})
	var out InboundResponse
	status, raw := call(t, http.MethodPost, e.url+"/sandbox/inbound", `{"text":"hello","wait":"5s"}`, &out)
	if status != 200 {
		t.Fatalf("status %d: %s", status, raw)
	}
	if out.WebhookStatus != 200 || out.Reply == nil || out.Reply.Text != "You said: hello" || out.TimedOut ||
		out.Reply.From != ourNumber || out.Reply.To != userNumber || out.EventID == "" {
		t.Fatalf("answer = %s", raw)
	}
	evs := e.ingress.Events()
	if len(evs) != 1 || evs[0].EventID != out.EventID || evs[0].From != userNumber || evs[0].To != ourNumber {
		t.Fatalf("ingress saw %+v", evs)
	}

	t.Run("media as strings and objects", func(t *testing.T) {
		body := `{"from":"+447911123456","media":["https://example.com/a.jpg",{"url":"https://example.com/b.png","content_type":"image/png"}],"wait":"5s"}`
		var out InboundResponse
		if status, raw := call(t, http.MethodPost, e.url+"/sandbox/inbound", body, &out); status != 200 || out.Reply == nil {
			t.Fatalf("%d %s", status, raw)
		}
		if out.Reply.To != "+447911123456" {
			t.Fatalf("reply to %s", out.Reply.To)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		e.ingress.ReplyThrough("", "")
		var out InboundResponse
		status, raw := call(t, http.MethodPost, e.url+"/sandbox/inbound", `{"text":"anyone?","wait":"100ms"}`, &out)
		if status != 200 || !out.TimedOut || out.Reply != nil || !strings.Contains(raw, `"reply":null`) {
			t.Fatalf("%d %s", status, raw)
		}
	})
}

func TestInboundRejected(t *testing.T) {
	e := newEnv(t, Defaults{FailureStatus: 500})
	e.ingress.SetAnswer(http.StatusUnauthorized, `{"error":"invalid signature"}`)
	var out InboundResponse
	status, raw := call(t, http.MethodPost, e.url+"/sandbox/inbound", `{"text":"hello","wait":"5s"}`, &out)
	if status != http.StatusBadGateway || out.WebhookStatus != 401 || out.WebhookBody != `{"error":"invalid signature"}` ||
		out.Error == "" || out.Reply != nil {
		t.Fatalf("%d %s", status, raw)
	}
}

func TestInboundInvalid(t *testing.T) {
	e := newEnv(t, Defaults{FailureStatus: 500})
	tests := []struct{ name, body, want string }{
		{"not json", `hello`, "invalid JSON"},
		{"bad wait", `{"text":"x","wait":"soon"}`, "wait"},
		{"bad from", `{"text":"x","from":"123"}`, "from"},
		{"empty", `{}`, "text or media"},
		{"unknown field", `{"txt":"x"}`, "unknown field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out struct{ Error string }
			if status, raw := call(t, http.MethodPost, e.url+"/sandbox/inbound", tc.body, &out); status != 400 ||
				!strings.Contains(out.Error, tc.want) {
				t.Fatalf("%d %s", status, raw)
			}
		})
	}
}

func TestPublicKeyVerifiesWebhooks(t *testing.T) {
	e := newEnv(t, Defaults{FailureStatus: 500})
	var out struct {
		PublicKey string `json:"public_key"`
	}
	call(t, http.MethodGet, e.url+"/sandbox/public-key", "", &out)
	pub, err := base64.StdEncoding.DecodeString(out.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("public key %q: %v", out.PublicKey, err)
	}
	// The stand-in ingress verifies with the signing key; the published key must be that key.
	if !ed25519.PublicKey(pub).Equal(e.signer.PublicKey()) {
		t.Fatal("the published key is not the signing key")
	}
	var res InboundResponse
	if status, raw := call(t, http.MethodPost, e.url+"/sandbox/inbound", `{"text":"x"}`, &res); status != 200 {
		t.Fatalf("%d %s", status, raw)
	}
	if e.ingress.Rejected() != 0 || len(e.ingress.Events()) != 1 {
		t.Fatalf("ingress: %d rejected, %d accepted", e.ingress.Rejected(), len(e.ingress.Events()))
	}
}

func TestMiscEndpoints(t *testing.T) {
	e := newEnv(t, Defaults{FailureStatus: 500})
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantBody           string
	}{
		{"healthz", http.MethodGet, "/healthz", 200, `"status":"ok"`},
		{"unknown path", http.MethodGet, "/nope", 404, `"error":"not found"`},
		{"unknown telnyx path", http.MethodPost, "/v2/calls", 404, `"code":"10005"`},
		{"wrong api key", http.MethodPost, "/v2/messages", 401, `"code":"10009"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(context.Background(), tc.method, e.url+tc.path, strings.NewReader("{}"))
			req.Header.Set("Authorization", "Bearer wrong")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(raw), tc.wantBody) {
				t.Fatalf("%d %s", resp.StatusCode, raw)
			}
		})
	}
}
