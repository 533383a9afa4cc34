package fakeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer is a Fake on an httptest server (telnyxtest.Server, which this package cannot import).
type testServer struct {
	*Fake
	URL string
}

func (s *testServer) BaseURL() string { return s.URL + "/v2" }

func newServer(tb testing.TB, o Options) *testServer {
	tb.Helper()
	srv := httptest.NewServer(NewFake(o))
	tb.Cleanup(srv.Close)
	return &testServer{Fake: srv.Config.Handler.(*Fake), URL: srv.URL}
}

const (
	testKey  = "KEY_test"
	ourNum   = "+12125550100"
	userNum  = "+13125550123"
	userNum2 = "+15551230001"
)

// sendResp is what a test sees of one POST /v2/messages.
type sendResp struct {
	status int
	header http.Header
	raw    []byte
	data   map[string]any
	errs   []apiError
}

func (r sendResp) code() string {
	if len(r.errs) == 0 {
		return ""
	}
	return r.errs[0].Code
}

// reqOpt adjusts a request before it is sent.
type reqOpt func(*http.Request)

func withIdem(key string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Idempotency-Key", key) }
}
func withAuth(v string) reqOpt { return func(r *http.Request) { r.Header.Set("Authorization", v) } }

// post sends body to the fake's POST /v2/messages with the test key.
func post(tb testing.TB, srv *testServer, body string, opts ...reqOpt) sendResp {
	tb.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.BaseURL()+"/messages", strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	for _, o := range opts {
		o(req)
	}
	return do(tb, req)
}

func do(tb testing.TB, req *http.Request) sendResp {
	tb.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("send: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	out := sendResp{status: resp.StatusCode, header: resp.Header, raw: raw}
	var body struct {
		Data   map[string]any `json:"data"`
		Errors []apiError     `json:"errors"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		tb.Fatalf("response is not JSON: %v: %s", err, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("Content-Type = %q", ct)
	}
	out.data, out.errs = body.Data, body.Errors
	return out
}

func sms(from, to, text string) string {
	b, _ := json.Marshal(map[string]any{"from": from, "to": to, "text": text})
	return string(b)
}

func fixedClock(t time.Time) (func() time.Time, func(time.Duration)) {
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return t }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); t = t.Add(d) }
	return now, advance
}

func TestSendSuccess(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 30, 45, 123e6, time.UTC)
	now, _ := fixedClock(at)
	srv := newServer(t, Options{APIKey: testKey, Now: now})
	body := `{"from":"+12125550100","to":"+13125550123","text":"Hello!","messaging_profile_id":"prof-1",` +
		`"webhook_url":"https://example.com/hook","unknown_field":true}`
	r := post(t, srv, body, withIdem("reply:abc:0"))
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	d := r.data
	id, _ := d["id"].(string)
	checks := map[string]any{
		"record_type": "message", "direction": "outbound", "type": "SMS", "text": "Hello!",
		"messaging_profile_id": "prof-1", "encoding": "GSM-7", "parts": 1.0, "webhook_url": "https://example.com/hook",
		"received_at": "2026-03-01T12:30:45.123+00:00", "cost": nil, "sent_at": nil, "completed_at": nil,
	}
	for k, want := range checks {
		if d[k] != want {
			t.Errorf("data.%s = %#v, want %#v", k, d[k], want)
		}
	}
	if len(id) != 36 || id[14] != '4' {
		t.Errorf("id %q is not a v4 UUID", id)
	}
	from, _ := d["from"].(map[string]any)
	if from["phone_number"] != ourNum || from["carrier"] != "Telnyx" || from["line_type"] != "Wireless" {
		t.Errorf("from = %v", from)
	}
	to, _ := d["to"].([]any)
	if len(to) != 1 {
		t.Fatalf("to = %v", d["to"])
	}
	to0 := to[0].(map[string]any)
	if to0["phone_number"] != userNum || to0["status"] != "queued" || to0["carrier"] == "" {
		t.Errorf("to[0] = %v", to0)
	}
	for _, k := range []string{"media", "errors", "tags", "cc"} {
		if v, ok := d[k].([]any); !ok || len(v) != 0 {
			t.Errorf("data.%s = %#v, want []", k, d[k])
		}
	}

	got := srv.Messages()
	want := SentMessage{ID: id, From: ourNum, To: userNum, Text: "Hello!", IdempotencyKey: "reply:abc:0",
		MessagingProfileID: "prof-1", WebhookURL: "https://example.com/hook", At: at}
	if len(got) != 1 || !equalMsg(got[0], want) {
		t.Fatalf("Messages() = %+v, want [%+v]", got, want)
	}
	if srv.Requests() != 1 {
		t.Errorf("Requests() = %d", srv.Requests())
	}
}

func equalMsg(a, b SentMessage) bool {
	return a.ID == b.ID && a.From == b.From && a.To == b.To && a.Text == b.Text && a.IdempotencyKey == b.IdempotencyKey &&
		a.MessagingProfileID == b.MessagingProfileID && a.WebhookURL == b.WebhookURL && a.At.Equal(b.At) &&
		strings.Join(a.MediaURLs, ",") == strings.Join(b.MediaURLs, ",")
}

func TestSendVariants(t *testing.T) {
	tests := []struct {
		name                string
		body                string
		wantType, wantEnc   string
		wantParts, wantMedi int
		wantTo              string
	}{
		{"to as one-element array", `{"from":"+12125550100","to":["+13125550123"],"text":"hi"}`, "SMS", "GSM-7", 1, 0, userNum},
		{"mms without text", `{"from":"+12125550100","to":"+13125550123","media_urls":["https://example.com/a.jpg"]}`, "MMS", "GSM-7", 1, 1, userNum},
		{"alphanumeric sender", `{"from":"ACME Co","to":"+447911123456","text":"hi"}`, "SMS", "GSM-7", 1, 0, "+447911123456"},
		{"short code sender", `{"from":"12345","to":"+13125550123","text":"hi"}`, "SMS", "GSM-7", 1, 0, userNum},
		{"number pool sender", `{"messaging_profile_id":"p1","to":"+13125550123","text":"hi"}`, "SMS", "GSM-7", 1, 0, userNum},
		{"unicode text", `{"from":"+12125550100","to":"+13125550123","text":"héllo • 👋"}`, "SMS", "UCS-2", 1, 0, userNum},
		{"long text", sms(ourNum, userNum, strings.Repeat("a", 161)), "SMS", "GSM-7", 2, 0, userNum},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, Options{})
			r := post(t, srv, tc.body)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			if r.data["type"] != tc.wantType || r.data["encoding"] != tc.wantEnc || r.data["parts"] != float64(tc.wantParts) {
				t.Errorf("type/encoding/parts = %v/%v/%v", r.data["type"], r.data["encoding"], r.data["parts"])
			}
			media, _ := r.data["media"].([]any)
			if len(media) != tc.wantMedi {
				t.Errorf("media = %v", r.data["media"])
			}
			msgs := srv.Messages()
			if len(msgs) != 1 || msgs[0].To != tc.wantTo || len(msgs[0].MediaURLs) != tc.wantMedi {
				t.Errorf("Messages() = %+v", msgs)
			}
		})
	}
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name       string
		apiKey     string // Options.APIKey
		body       string
		opts       []reqOpt
		path       string
		method     string
		wantStatus int
		wantCode   string
		wantTitle  string
		wantSource string
	}{
		{name: "no authorization", body: sms(ourNum, userNum, "hi"), opts: []reqOpt{withAuth("")},
			wantStatus: 401, wantCode: "10009", wantTitle: "Authentication failed"},
		{name: "basic scheme", body: sms(ourNum, userNum, "hi"), opts: []reqOpt{withAuth("Basic " + testKey)},
			wantStatus: 401, wantCode: "10009", wantTitle: "Authentication failed"},
		{name: "empty bearer", body: sms(ourNum, userNum, "hi"), opts: []reqOpt{withAuth("Bearer ")},
			wantStatus: 401, wantCode: "10009", wantTitle: "Authentication failed"},
		{name: "wrong key", apiKey: "KEY_other", body: sms(ourNum, userNum, "hi"),
			wantStatus: 401, wantCode: "10009", wantTitle: "Authentication failed"},
		{name: "invalid json", body: `{"from":`, wantStatus: 400, wantCode: "10015", wantTitle: "Bad Request"},
		{name: "wrong field type", body: `{"from":"+12125550100","to":"+13125550123","text":5}`,
			wantStatus: 400, wantCode: "10015", wantTitle: "Bad Request"},
		{name: "missing to", body: `{"from":"+12125550100","text":"hi"}`,
			wantStatus: 422, wantCode: "10004", wantTitle: "Missing required parameter", wantSource: "/to"},
		{name: "to without plus", body: sms(ourNum, "13125550123", "hi"),
			wantStatus: 422, wantCode: "40310", wantTitle: "Invalid 'to' address", wantSource: "/to"},
		{name: "to too short", body: sms(ourNum, "+1555123", "hi"),
			wantStatus: 422, wantCode: "40310", wantTitle: "Invalid 'to' address", wantSource: "/to"},
		{name: "to too long", body: sms(ourNum, "+1234567890123456", "hi"),
			wantStatus: 422, wantCode: "40310", wantTitle: "Invalid 'to' address", wantSource: "/to"},
		{name: "to with letters", body: sms(ourNum, "+1555ABC0000", "hi"),
			wantStatus: 422, wantCode: "40310", wantTitle: "Invalid 'to' address", wantSource: "/to"},
		{name: "two recipients", body: `{"from":"+12125550100","to":["+13125550123","+15551230001"],"text":"hi"}`,
			wantStatus: 422, wantCode: "40310", wantTitle: "Invalid 'to' address", wantSource: "/to"},
		{name: "missing from", body: `{"to":"+13125550123","text":"hi"}`,
			wantStatus: 422, wantCode: "10004", wantTitle: "Missing required parameter", wantSource: "/from"},
		{name: "blank from", body: sms(" ", userNum, "hi"),
			wantStatus: 422, wantCode: "40305", wantTitle: "Invalid 'from' address", wantSource: "/from"},
		{name: "invalid from", body: sms("+1-555-000", userNum, "hi"),
			wantStatus: 422, wantCode: "40305", wantTitle: "Invalid 'from' address", wantSource: "/from"},
		{name: "no text nor media", body: sms(ourNum, userNum, ""),
			wantStatus: 422, wantCode: "10004", wantTitle: "Missing required parameter", wantSource: "/text"},
		{name: "text too long", body: sms(ourNum, userNum, strings.Repeat("x", MaxTextLength+1)),
			wantStatus: 422, wantCode: "10015", wantTitle: "Bad Request", wantSource: "/text"},
		// 671 UCS-2 units are 11 segments though far under 1,600 characters.
		{name: "text over 10 segments", body: sms(ourNum, userNum, strings.Repeat("ж", 671)),
			wantStatus: 422, wantCode: "10015", wantTitle: "Bad Request", wantSource: "/text"},
		{name: "bad media url", body: `{"from":"+12125550100","to":"+13125550123","media_urls":["ftp://x/a.jpg"]}`,
			wantStatus: 422, wantCode: "10003", wantTitle: "Invalid URL", wantSource: "/media_urls/0"},
		{name: "bad webhook url", body: `{"from":"+12125550100","to":"+13125550123","text":"hi","webhook_url":"not a url"}`,
			wantStatus: 422, wantCode: "10003", wantTitle: "Invalid URL", wantSource: "/webhook_url"},
		{name: "form content type", body: sms(ourNum, userNum, "hi"),
			opts:       []reqOpt{func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }},
			wantStatus: 415, wantCode: "10014", wantTitle: "Unsupported Media Type"},
		{name: "idempotency key with spaces", body: sms(ourNum, userNum, "hi"), opts: []reqOpt{withIdem("a b")},
			wantStatus: 422, wantCode: "10015", wantTitle: "Bad Request"},
		{name: "idempotency key too long", body: sms(ourNum, userNum, "hi"), opts: []reqOpt{withIdem(strings.Repeat("k", 256))},
			wantStatus: 422, wantCode: "10015", wantTitle: "Bad Request"},
		{name: "unknown path", path: "/v2/message", body: sms(ourNum, userNum, "hi"),
			wantStatus: 404, wantCode: "10005", wantTitle: "Resource not found"},
		{name: "get", method: http.MethodGet, wantStatus: 405, wantCode: "10015", wantTitle: "Bad Request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, Options{APIKey: tc.apiKey})
			path, method := tc.path, tc.method
			if path == "" {
				path = "/v2/messages"
			}
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequestWithContext(context.Background(), method, srv.URL+path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+testKey)
			req.Header.Set("Content-Type", "application/json")
			for _, o := range tc.opts {
				o(req)
			}
			r := do(t, req)
			if r.status != tc.wantStatus || r.code() != tc.wantCode {
				t.Fatalf("got %d %q, want %d %q: %s", r.status, r.code(), tc.wantStatus, tc.wantCode, r.raw)
			}
			e := r.errs[0]
			if e.Title != tc.wantTitle || e.Detail == "" {
				t.Errorf("error = %+v, want title %q and a detail", e, tc.wantTitle)
			}
			if tc.wantSource != "" && (e.Source == nil || e.Source.Pointer != tc.wantSource) {
				t.Errorf("source = %+v, want %q", e.Source, tc.wantSource)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("a failed send was recorded: %d messages", n)
			}
			wantReqs := 1
			if tc.wantStatus == 404 || tc.wantStatus == 405 {
				wantReqs = 0
			}
			if srv.Requests() != wantReqs {
				t.Errorf("Requests() = %d, want %d", srv.Requests(), wantReqs)
			}
		})
	}
}

func TestAnyKeyAcceptedWithoutAPIKey(t *testing.T) {
	srv := newServer(t, Options{})
	r := post(t, srv, sms(ourNum, userNum, "hi"), withAuth("Bearer whatever"))
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
}

func TestIdempotency(t *testing.T) {
	now, advance := fixedClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	srv := newServer(t, Options{Now: now})
	body := sms(ourNum, userNum, "Hello!")

	first := post(t, srv, body, withIdem("k-1"))
	replay := post(t, srv, body, withIdem("k-1"))
	if first.status != 200 || replay.status != 200 {
		t.Fatalf("statuses %d, %d", first.status, replay.status)
	}
	if !bytes.Equal(first.raw, replay.raw) {
		t.Errorf("replay body differs:\n%s\n%s", first.raw, replay.raw)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("replay added a message: %d", n)
	}

	t.Run("different body is rejected", func(t *testing.T) {
		r := post(t, srv, sms(ourNum, userNum, "Hello?"), withIdem("k-1"))
		if r.status != 422 || r.code() != "10015" || !strings.Contains(r.errs[0].Detail, "Idempotency-Key") {
			t.Fatalf("got %d %s", r.status, r.raw)
		}
	})
	t.Run("whitespace counts as a different body", func(t *testing.T) {
		r := post(t, srv, body+" ", withIdem("k-1"))
		if r.status != 422 {
			t.Fatalf("got %d %s", r.status, r.raw)
		}
	})
	t.Run("other key sends again", func(t *testing.T) {
		r := post(t, srv, body, withIdem("k-2"))
		if r.status != 200 || r.data["id"] == first.data["id"] {
			t.Fatalf("got %d %s", r.status, r.raw)
		}
	})
	t.Run("keys are scoped to the api key", func(t *testing.T) {
		r := post(t, srv, body, withIdem("k-1"), withAuth("Bearer KEY_other"))
		if r.status != 200 || r.data["id"] == first.data["id"] {
			t.Fatalf("got %d %s", r.status, r.raw)
		}
	})
	t.Run("no key sends every time", func(t *testing.T) {
		a, b := post(t, srv, body), post(t, srv, body)
		if a.data["id"] == b.data["id"] {
			t.Fatal("two sends without a key got one id")
		}
	})
	t.Run("replayed until 24h, then a new send", func(t *testing.T) {
		advance(IdempotencyTTL - time.Second)
		if r := post(t, srv, body, withIdem("k-1")); r.data["id"] != first.data["id"] {
			t.Fatalf("not replayed before expiry: %s", r.raw)
		}
		advance(2 * time.Second)
		if r := post(t, srv, body, withIdem("k-1")); r.status != 200 || r.data["id"] == first.data["id"] {
			t.Fatalf("replayed after expiry: %s", r.raw)
		}
	})
	if got := len(srv.MessagesTo(userNum)); got != 6 {
		t.Errorf("MessagesTo = %d, want 6", got)
	}
}

func TestIdempotencyFailuresNotStored(t *testing.T) {
	tests := []struct {
		name   string
		inject func(*Fake)
		clear  func(*Fake)
		status int
	}{
		{"injected 500", func(f *Fake) { f.FailNext(1, 500, "") }, func(*Fake) {}, 500},
		{"injected 429", func(f *Fake) { f.FailNext(1, 429, "") }, func(*Fake) {}, 429},
		{"opt-out", func(f *Fake) { f.OptOut(userNum) }, func(f *Fake) { f.OptIn(userNum) }, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, Options{})
			body := sms(ourNum, userNum, "hi")
			tc.inject(srv.Fake)
			if r := post(t, srv, body, withIdem("k")); r.status != tc.status {
				t.Fatalf("first: %d %s", r.status, r.raw)
			}
			tc.clear(srv.Fake)
			if r := post(t, srv, body, withIdem("k")); r.status != 200 {
				t.Fatalf("retry after failure: %d %s", r.status, r.raw)
			}
			if n := len(srv.Messages()); n != 1 || srv.Requests() != 2 {
				t.Fatalf("messages %d requests %d, want 1 and 2", n, srv.Requests())
			}
		})
	}
}

func TestReplayBypassesInjectedFaults(t *testing.T) {
	srv := newServer(t, Options{})
	body := sms(ourNum, userNum, "hi")
	first := post(t, srv, body, withIdem("k"))
	srv.FailNext(1, 500, "")
	if r := post(t, srv, body, withIdem("k")); r.status != 200 || r.data["id"] != first.data["id"] {
		t.Fatalf("replay with a pending fault: %d %s", r.status, r.raw)
	}
	if srv.Faults().FailNext != 1 {
		t.Fatalf("the replay consumed the fault: %+v", srv.Faults())
	}
	if r := post(t, srv, body, withIdem("other")); r.status != 500 {
		t.Fatalf("new key with a pending fault: %d %s", r.status, r.raw)
	}
}

func TestConcurrentSameKeyMakesOneMessage(t *testing.T) {
	srv := newServer(t, Options{Latency: 20 * time.Millisecond}) // the latency lines the requests up
	body := sms(ourNum, userNum, "only once")
	const n = 16
	ids := make([]any, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := post(t, srv, body, withIdem("same-key"))
			ids[i], statuses[i] = r.data["id"], r.status
		})
	}
	wg.Wait()
	for i := range n {
		if statuses[i] != 200 || ids[i] != ids[0] {
			t.Fatalf("request %d: status %d id %v, first id %v", i, statuses[i], ids[i], ids[0])
		}
	}
	if got := len(srv.Messages()); got != 1 {
		t.Fatalf("%d messages, want 1", got)
	}
	if srv.Requests() != n {
		t.Fatalf("Requests() = %d, want %d", srv.Requests(), n)
	}
}

func TestFailNext(t *testing.T) {
	tests := []struct {
		name      string
		n, status int
		code      string
		wantCode  string
		wantTitle string
	}{
		{"429 derives 10011", 2, 429, "", "10011", "Too many requests"},
		{"500 derives 10007", 1, 500, "", "10007", "Unexpected error"},
		{"503 derives 10007", 1, 503, "", "10007", "Unexpected error"},
		{"explicit code", 1, 401, "10009", "10009", "Authentication failed"},
		{"408 derives 10008", 1, 408, "", "10008", "Request timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, Options{})
			srv.FailNext(tc.n, tc.status, tc.code)
			for i := range tc.n {
				r := post(t, srv, sms(ourNum, userNum, "hi"))
				if r.status != tc.status || r.code() != tc.wantCode || r.errs[0].Title != tc.wantTitle {
					t.Fatalf("send %d: %d %s", i, r.status, r.raw)
				}
				if tc.status == 429 {
					for h, want := range map[string]string{"Retry-After": "1", "X-Ratelimit-Remaining": "0",
						"X-Ratelimit-Limit": "100", "X-Ratelimit-Reset": "1"} {
						if got := r.header.Get(h); got != want {
							t.Errorf("%s = %q, want %q", h, got, want)
						}
					}
				}
			}
			if r := post(t, srv, sms(ourNum, userNum, "hi")); r.status != 200 {
				t.Fatalf("send after the faults: %d %s", r.status, r.raw)
			}
			if srv.Requests() != tc.n+1 || len(srv.Messages()) != 1 {
				t.Fatalf("requests %d messages %d", srv.Requests(), len(srv.Messages()))
			}
		})
	}
}

func TestFailureRate(t *testing.T) {
	srv := newServer(t, Options{})
	draws := []float64{0.1, 0.9, 0.29, 0.3, 0.95}
	var mu sync.Mutex
	srv.random = func() float64 { mu.Lock(); defer mu.Unlock(); d := draws[0]; draws = draws[1:]; return d }
	srv.SetFailureRate(0.3, 503, "")
	want := []int{503, 200, 503, 200, 200}
	for i, w := range want {
		if r := post(t, srv, sms(ourNum, userNum, "hi")); r.status != w {
			t.Fatalf("send %d: %d, want %d: %s", i, r.status, w, r.raw)
		}
	}
	if got := len(srv.Messages()); got != 3 {
		t.Fatalf("%d messages, want 3", got)
	}

	t.Run("rate 1 fails everything", func(t *testing.T) {
		srv := newServer(t, Options{})
		srv.SetFailureRate(1, 500, "")
		for range 5 {
			if r := post(t, srv, sms(ourNum, userNum, "hi")); r.status != 500 || r.code() != "10007" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
		}
		srv.SetFailureRate(0, 500, "")
		if r := post(t, srv, sms(ourNum, userNum, "hi")); r.status != 200 {
			t.Fatalf("rate 0 still fails: %d", r.status)
		}
		if srv.Requests() != 6 || len(srv.Messages()) != 1 {
			t.Fatalf("requests %d messages %d", srv.Requests(), len(srv.Messages()))
		}
	})
}

func TestOptOut(t *testing.T) {
	srv := newServer(t, Options{})
	srv.OptOut(userNum)
	r := post(t, srv, sms(ourNum, userNum, "hi"))
	if r.status != 403 || r.code() != "40300" || r.errs[0].Title != "Blocked due to STOP message" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if r := post(t, srv, sms(ourNum, userNum2, "hi")); r.status != 200 {
		t.Fatalf("other number blocked: %d", r.status)
	}
	if f := srv.Faults(); len(f.OptedOut) != 1 || f.OptedOut[0] != userNum {
		t.Errorf("Faults().OptedOut = %v", f.OptedOut)
	}
	srv.OptIn(userNum)
	if r := post(t, srv, sms(ourNum, userNum, "hi")); r.status != 200 {
		t.Fatalf("after OptIn: %d", r.status)
	}
	if got := len(srv.MessagesTo(userNum)); got != 1 {
		t.Fatalf("MessagesTo = %d, want 1", got)
	}
}

func TestLatency(t *testing.T) {
	srv := newServer(t, Options{})
	srv.SetLatency(150 * time.Millisecond)
	start := time.Now()
	post(t, srv, sms(ourNum, userNum, "hi"))
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("answered in %v", d)
	}

	t.Run("client giving up sends nothing", func(t *testing.T) {
		// The fake behind a handler that says when it has returned: the check below runs once the handler
		// has finished with the abandoned request, so it cannot pass just by looking too early.
		f := NewFake(Options{Latency: 150 * time.Millisecond})
		returned := make(chan struct{}, 1)
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.ServeHTTP(w, r)
			returned <- struct{}{}
		}))
		t.Cleanup(hs.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, hs.URL+"/v2/messages", strings.NewReader(sms(ourNum, userNum2, "x")))
		req.Header.Set("Authorization", "Bearer k")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatal("request did not time out")
		}
		select {
		case <-returned:
		case <-time.After(30 * time.Second):
			t.Fatal("the fake's handler did not return after the client gave up")
		}
		if f.Requests() != 1 {
			t.Fatalf("the fake saw %d requests, want 1", f.Requests())
		}
		if got := len(f.MessagesTo(userNum2)); got != 0 {
			t.Fatalf("%d messages to a caller that gave up", got)
		}
	})
}

func TestWaitForMessages(t *testing.T) {
	srv := newServer(t, Options{})
	go func() {
		time.Sleep(50 * time.Millisecond)
		post(t, srv, sms(ourNum, userNum, "one"))
		post(t, srv, sms(ourNum, userNum, "two"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := srv.WaitForMessages(ctx, 2)
	if err != nil || len(got) != 2 || got[0].Text != "one" || got[1].Text != "two" {
		t.Fatalf("WaitForMessages = %+v, %v", got, err)
	}

	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	got, err = srv.WaitForMessages(short, 3)
	if !errors.Is(err, context.DeadlineExceeded) || len(got) != 2 {
		t.Fatalf("WaitForMessages past deadline = %d messages, %v", len(got), err)
	}
}

func TestReset(t *testing.T) {
	srv := newServer(t, Options{Latency: 10 * time.Millisecond})
	body := sms(ourNum, userNum, "hi")
	first := post(t, srv, body, withIdem("k"))
	srv.FailNext(3, 500, "")
	srv.SetFailureRate(0.5, 500, "")
	srv.OptOut(userNum2)
	srv.SetLatency(time.Second)
	srv.Reset()

	if n, r := len(srv.Messages()), srv.Requests(); n != 0 || r != 0 {
		t.Fatalf("after Reset: %d messages, %d requests", n, r)
	}
	f := srv.Faults()
	if f.FailNext != 0 || f.FailureRate != 0 || len(f.OptedOut) != 0 || f.Latency != 10*time.Millisecond {
		t.Fatalf("after Reset: faults %+v", f)
	}
	if r := post(t, srv, body, withIdem("k")); r.status != 200 || r.data["id"] == first.data["id"] {
		t.Fatalf("idempotency record survived Reset: %s", r.raw)
	}
}

func TestOnSend(t *testing.T) {
	srv := newServer(t, Options{})
	var mu sync.Mutex
	var seen []SentMessage
	srv.OnSend(func(m SentMessage) { mu.Lock(); defer mu.Unlock(); seen = append(seen, m) })
	body := sms(ourNum, userNum, "hi")
	r := post(t, srv, body, withIdem("k"))
	mu.Lock()
	n := len(seen)
	mu.Unlock()
	if n != 1 || seen[0].ID != r.data["id"] {
		t.Fatalf("hook saw %+v after the answer to %v", seen, r.data["id"])
	}
	post(t, srv, body, withIdem("k")) // a replay
	srv.FailNext(1, 500, "")
	post(t, srv, sms(ourNum, userNum, "x")) // a failure
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 {
		t.Fatalf("hook called for a replay or failure: %+v", seen)
	}
}

func TestMessagesAreCopies(t *testing.T) {
	srv := newServer(t, Options{})
	post(t, srv, `{"from":"+12125550100","to":"+13125550123","media_urls":["https://example.com/a.png"]}`)
	got := srv.Messages()
	got[0].MediaURLs[0] = "changed"
	got[0].Text = "changed"
	again := srv.Messages()
	if again[0].MediaURLs[0] != "https://example.com/a.png" || again[0].Text != "" {
		t.Fatalf("Messages() exposes internal state: %+v", again[0])
	}
	if got := srv.MessagesTo("+19999999999"); got == nil || len(got) != 0 {
		t.Fatalf("MessagesTo(unknown) = %#v, want empty non-nil", got)
	}
}

func TestEncodingAndParts(t *testing.T) {
	tests := []struct {
		name, text string
		enc        string
		parts      int
	}{
		{"empty", "", "GSM-7", 1},
		{"ascii", "hello", "GSM-7", 1},
		{"160 gsm", strings.Repeat("a", 160), "GSM-7", 1},
		{"161 gsm", strings.Repeat("a", 161), "GSM-7", 2},
		{"306 gsm", strings.Repeat("a", 306), "GSM-7", 2},
		{"307 gsm", strings.Repeat("a", 307), "GSM-7", 3},
		{"extension chars count twice", strings.Repeat("{", 80), "GSM-7", 1},
		{"extension overflow", strings.Repeat("~", 81), "GSM-7", 2},
		{"gsm accents", "Là été où? ¿Ñ", "GSM-7", 1},
		{"euro is ucs-2 at Telnyx", "5€", "UCS-2", 1},
		{"bullet is ucs-2", "• 'info'", "UCS-2", 1},
		{"70 ucs-2", strings.Repeat("ж", 70), "UCS-2", 1},
		{"71 ucs-2", strings.Repeat("ж", 71), "UCS-2", 2},
		{"emoji is two units", strings.Repeat("😀", 35), "UCS-2", 1},
		{"emoji overflow", strings.Repeat("😀", 36), "UCS-2", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, parts := encodingAndParts(tc.text)
			if enc != tc.enc || parts != tc.parts {
				t.Fatalf("encodingAndParts = %s, %d; want %s, %d", enc, parts, tc.enc, tc.parts)
			}
		})
	}
}

func TestNumberPoolSender(t *testing.T) {
	srv := newServer(t, Options{PoolNumber: "+15550002222"})
	r := post(t, srv, `{"messaging_profile_id":"p1","to":"+13125550123","text":"hi"}`)
	from, _ := r.data["from"].(map[string]any)
	if r.status != 200 || from["phone_number"] != "+15550002222" || srv.Messages()[0].From != "+15550002222" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
}

func TestFailNextAfterSend(t *testing.T) {
	srv := newServer(t, Options{})
	hooked := 0
	srv.OnSend(func(SentMessage) { hooked++ })
	body := sms(ourNum, userNum, "hi")

	srv.FailNextAfterSend(1, 504, "")
	if r := post(t, srv, body, withIdem("k")); r.status != 504 || r.code() != "10008" {
		t.Fatalf("first: %d %s", r.status, r.raw)
	}
	sent := srv.Messages()
	if len(sent) != 1 || hooked != 1 {
		t.Fatalf("the message was not sent: %d messages, hook %d", len(sent), hooked)
	}
	retry := post(t, srv, body, withIdem("k"))
	if retry.status != 200 || retry.data["id"] != sent[0].ID {
		t.Fatalf("retry with the key: %d %s, want the original %s", retry.status, retry.raw, sent[0].ID)
	}

	t.Run("without a key the retry duplicates", func(t *testing.T) {
		srv.FailNextAfterSend(1, 502, "")
		if r := post(t, srv, body); r.status != 502 {
			t.Fatalf("first: %d", r.status)
		}
		if r := post(t, srv, body); r.status != 200 {
			t.Fatalf("retry: %d", r.status)
		}
		if n := len(srv.Messages()); n != 3 {
			t.Fatalf("%d messages, want 3 (one duplicate)", n)
		}
	})
	t.Run("failed sends do not use it up", func(t *testing.T) {
		srv.FailNextAfterSend(1, 500, "")
		if r := post(t, srv, sms(ourNum, "bad", "x")); r.status != 422 {
			t.Fatalf("invalid send: %d", r.status)
		}
		if f := srv.Faults(); f.FailNextAfterSend != 1 || f.FailAfterStatus != 500 {
			t.Fatalf("faults %+v", f)
		}
		srv.Reset()
		if f := srv.Faults(); f.FailNextAfterSend != 0 {
			t.Fatalf("Reset kept it: %+v", f)
		}
	})
}
