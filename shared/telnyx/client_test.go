package telnyx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/telnyx"
)

// apiRequest is one request the fake API received.
type apiRequest struct {
	Method, Path string
	Header       http.Header
	Body         string
}

// fakeAPI is an httptest.Server standing in for the Telnyx API. respond gets the 1-based request number.
type fakeAPI struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []apiRequest
}

func newFakeAPI(tb testing.TB, respond func(n int, w http.ResponseWriter, r *http.Request)) *fakeAPI {
	tb.Helper()
	f := &fakeAPI{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got = append(f.got, apiRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: string(body)})
		n := len(f.got)
		f.mu.Unlock()
		respond(n, w, r)
	}))
	tb.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) requests() []apiRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]apiRequest(nil), f.got...)
}

// client returns a Client for f, changed by opts.
func (f *fakeAPI) client(opts ...func(*telnyx.ClientOptions)) *telnyx.Client {
	o := telnyx.ClientOptions{
		BaseURL: f.srv.URL + "/v2",
		APIKey:  "KEY0123456789ABCDEF",
		Timeout: 2 * time.Second,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return telnyx.NewClient(o)
}

func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

const okBody = `{"data":{"record_type":"message","direction":"outbound","id":"40317159-3af4-4c4f-a5e5-2b8e4d8e3a11",
"type":"SMS","from":{"phone_number":"+17735550002","carrier":"Telnyx","line_type":"Wireless"},
"to":[{"phone_number":"+13125550001","status":"queued","carrier":"T-MOBILE USA, INC.","line_type":"Wireless"}],
"text":"hi","media":[],"parts":1,"encoding":"GSM-7","errors":[]}}`

func errBody(code any, title, detail string) string {
	c := fmt.Sprint(code)
	if s, ok := code.(string); ok {
		c = `"` + s + `"`
	}
	return `{"errors":[{"code":` + c + `,"title":"` + title + `","detail":"` + detail + `"}]}`
}

var sendReq = telnyx.SendRequest{From: "+17735550002", To: "+13125550001", Text: "hi"}

func TestSendSuccess(t *testing.T) {
	tests := []struct {
		name     string
		req      telnyx.SendRequest
		key      string
		wantBody string
	}{
		{"minimal, no idempotency key", sendReq, "",
			`{"from":"+17735550002","to":"+13125550001","text":"hi"}`},
		{"every field", telnyx.SendRequest{From: "+17735550002", To: "+13125550001", Text: "see <this> & that",
			MessagingProfileID: "740572b6", WebhookURL: "https://example.com/wh", MediaURLs: []string{"https://m/1.jpg"}}, "reply:84cca175-9755:1",
			`{"from":"+17735550002","to":"+13125550001","text":"see \u003cthis\u003e \u0026 that","messaging_profile_id":"740572b6","webhook_url":"https://example.com/wh","media_urls":["https://m/1.jpg"]}`},
		{"profile instead of from, media only", telnyx.SendRequest{To: "+13125550001", MessagingProfileID: "p1", MediaURLs: []string{"https://m/1.jpg"}}, "k",
			`{"to":"+13125550001","messaging_profile_id":"p1","media_urls":["https://m/1.jpg"]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, http.StatusOK, okBody) })
			res, err := api.client().Send(t.Context(), tc.req, tc.key)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if want := (telnyx.SendResult{ID: "40317159-3af4-4c4f-a5e5-2b8e4d8e3a11", Status: "queued", StatusCode: 200}); res != want {
				t.Fatalf("Send = %+v, want %+v", res, want)
			}
			reqs := api.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			checks := []struct{ what, got, want string }{
				{"method", r.Method, http.MethodPost},
				{"path", r.Path, "/v2/messages"},
				{"Authorization", r.Header.Get("Authorization"), "Bearer KEY0123456789ABCDEF"},
				{"Content-Type", r.Header.Get("Content-Type"), "application/json"},
				{"Idempotency-Key", r.Header.Get("Idempotency-Key"), tc.key},
				{"body", r.Body, tc.wantBody},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
			if _, present := r.Header["Idempotency-Key"]; present != (tc.key != "") {
				t.Errorf("Idempotency-Key header present = %v with key %q", present, tc.key)
			}
		})
	}
}

// TestSendMakesOneRequest: the client never retries by itself; the caller's retry with the same key sends a
// byte-identical body, which Telnyx needs to replay its answer instead of texting twice.
func TestSendMakesOneRequest(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			reply(w, http.StatusInternalServerError, errBody("10007", "Unexpected error", ""))
			return
		}
		reply(w, http.StatusOK, okBody)
	})
	c := api.client()
	if _, err := c.Send(t.Context(), sendReq, "reply-1"); !telnyx.IsRetryable(err) {
		t.Fatalf("first Send: %v, want a retryable error", err)
	}
	if n := len(api.requests()); n != 1 {
		t.Fatalf("%d requests after a 500, want 1: the client must not retry in place", n)
	}
	res, err := c.Send(t.Context(), sendReq, "reply-1")
	if err != nil || res.ID == "" {
		t.Fatalf("second Send = %+v, %v, want an id", res, err)
	}
	reqs := api.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if reqs[1].Body != reqs[0].Body || reqs[1].Header.Get("Idempotency-Key") != "reply-1" {
		t.Errorf("retry sent body %q key %q, want %q and reply-1", reqs[1].Body, reqs[1].Header.Get("Idempotency-Key"), reqs[0].Body)
	}
}

// TestSendReportsRetryAfter: a 429's Retry-After (seconds or an HTTP date) comes back on the error for the
// caller to schedule the retry; the client does not wait.
func TestSendReportsRetryAfter(t *testing.T) {
	tests := []struct {
		name, header, reset string
		min, max            time.Duration
	}{
		{"one second", "1", "", time.Second, time.Second},
		{"two minutes", "120", "", 120 * time.Second, 120 * time.Second},
		{"http date", time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat), "", 100 * time.Second, 120 * time.Second},
		{"x-ratelimit-reset alone", "", "7", 7 * time.Second, 7 * time.Second},
		{"the later of the two", "2", "5", 5 * time.Second, 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", tc.header)
				w.Header().Set("x-ratelimit-reset", tc.reset)
				reply(w, http.StatusTooManyRequests, errBody(10011, "Too many requests", ""))
			})
			_, err := api.client().Send(t.Context(), sendReq, "k")
			e, ok := errors.AsType[*telnyx.Error](err)
			if !ok {
				t.Fatalf("Send: %v, want *telnyx.Error", err)
			}
			if !e.Retryable || !telnyx.IsRetryable(err) || !errors.Is(err, telnyx.ErrRateLimited) {
				t.Fatalf("error %v: want retryable ErrRateLimited", err)
			}
			if e.RetryAfter < tc.min || e.RetryAfter > tc.max {
				t.Fatalf("RetryAfter = %s, want %s..%s", e.RetryAfter, tc.min, tc.max)
			}
			if n := len(api.requests()); n != 1 {
				t.Fatalf("%d requests, want 1", n)
			}
		})
	}
}

func TestSendClassification(t *testing.T) {
	tests := []struct {
		name          string
		status        int
		body          string
		want          error // class sentinel, or nil
		wantRetryable bool
		wantRequests  int
		wantCode      string
		wantMessage   string
	}{
		{name: "opted out", status: 403, body: errBody("40300", "Blocked due to STOP message", "The recipient has opted out."),
			want: telnyx.ErrOptedOut, wantRequests: 1, wantCode: "40300",
			wantMessage: "telnyx: recipient opted out: HTTP 403, code 40300: Blocked due to STOP message: The recipient has opted out."},
		{name: "opted out, numeric code, decided by code before 5xx status", status: 500, body: errBody(40300, "Blocked due to STOP message", ""),
			want: telnyx.ErrOptedOut, wantRequests: 1, wantCode: "40300"},
		{name: "opted out in the second error entry", status: 422,
			body: `{"errors":[{"code":"10015","title":"Invalid attribute"},{"code":"40300","title":"Blocked due to STOP message"}]}`,
			want: telnyx.ErrOptedOut, wantRequests: 1, wantCode: "40300"},
		{name: "auth by code", status: 401, body: errBody("10009", "Authentication failed", "The API key is invalid."),
			want: telnyx.ErrAuth, wantRequests: 1, wantCode: "10009"},
		{name: "auth by 403 status without body", status: 403, body: "",
			want: telnyx.ErrAuth, wantRequests: 1, wantMessage: "telnyx: authentication failed: HTTP 403: Forbidden"},
		{name: "invalid number 10016", status: 400, body: errBody("10016", "Phone number must be in +E.164 format", ""),
			want: telnyx.ErrInvalidNumber, wantRequests: 1, wantCode: "10016"},
		{name: "invalid number 40310", status: 422, body: errBody(40310, "Invalid 'to' address", ""),
			want: telnyx.ErrInvalidNumber, wantRequests: 1, wantCode: "40310"},
		{name: "other 422 is permanent", status: 422, body: errBody("10015", "Invalid attribute", "text is too long"),
			wantRequests: 1, wantCode: "10015", wantMessage: "telnyx: HTTP 422, code 10015: Invalid attribute: text is too long"},
		{name: "400 with malformed body is permanent", status: 400, body: "oops <b>not json</b>",
			wantRequests: 1, wantMessage: "telnyx: HTTP 400: Bad Request: oops <b>not json</b>"},
		{name: "500 every time", status: 500, body: errBody("10007", "Unexpected error", ""),
			wantRetryable: true, wantRequests: 1, wantCode: "10007"},
		{name: "502 with an HTML body", status: 502, body: "<html>\n<body>Bad gateway</body>\n</html>",
			wantRetryable: true, wantRequests: 1, wantMessage: "telnyx: HTTP 502: Bad Gateway: <html> <body>Bad gateway</body> </html>"},
		{name: "429 without code or Retry-After", status: 429, body: "{}",
			want: telnyx.ErrRateLimited, wantRetryable: true, wantRequests: 1},
		{name: "rate-limit code on another status", status: 400, body: errBody("10011", "Too many requests", ""),
			want: telnyx.ErrRateLimited, wantRetryable: true, wantRequests: 1, wantCode: "10011"},
		{name: "sender queue full 40318", status: 429, body: errBody("40318", "Message queue full", ""),
			want: telnyx.ErrRateLimited, wantRetryable: true, wantRequests: 1, wantCode: "40318"},
		{name: "temporary spam flag 40002", status: 400, body: errBody("40002", "Blocked as spam - temporary", ""),
			want: telnyx.ErrSpamTemporary, wantRetryable: true, wantRequests: 1, wantCode: "40002"},
		{name: "2xx without data.id", status: 200, body: `{"data":{"to":[{"status":"queued"}]}}`,
			want: telnyx.ErrUnexpectedResponse, wantRequests: 1},
		{name: "2xx not JSON", status: 200, body: `<html>`,
			want: telnyx.ErrUnexpectedResponse, wantRequests: 1},
		{name: "2xx with data a list", status: 200, body: `{"data":[{"id":"m1"}]}`,
			want: telnyx.ErrUnexpectedResponse, wantRequests: 1},
		{name: "2xx with data a string", status: 200, body: `{"data":"m1"}`,
			want: telnyx.ErrUnexpectedResponse, wantRequests: 1},
		{name: "2xx with data null", status: 200, body: `{"data":null}`,
			want: telnyx.ErrUnexpectedResponse, wantRequests: 1},
		{name: "2xx over 1 MiB is not read whole", status: 200,
			body: `{"data":{"id":"m1","text":"` + strings.Repeat("x", 1<<20) + `"}}`,
			want: telnyx.ErrUnexpectedResponse, wantRequests: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, tc.status, tc.body) })
			res, err := api.client().Send(t.Context(), sendReq, "k")
			if err == nil {
				t.Fatalf("Send = %+v, want an error", res)
			}
			e, ok := errors.AsType[*telnyx.Error](err)
			if !ok {
				t.Fatalf("Send: %v, want *telnyx.Error", err)
			}
			if e.StatusCode != tc.status || e.Retryable != tc.wantRetryable || telnyx.IsRetryable(err) != tc.wantRetryable {
				t.Errorf("status %d retryable %v (IsRetryable %v), want %d %v", e.StatusCode, e.Retryable, telnyx.IsRetryable(err), tc.status, tc.wantRetryable)
			}
			for _, class := range []error{telnyx.ErrOptedOut, telnyx.ErrAuth, telnyx.ErrInvalidNumber, telnyx.ErrRateLimited, telnyx.ErrUnexpectedResponse} {
				want := errors.Is(tc.want, class) // tc.want is one of the sentinels (or nil)
				if errors.Is(err, class) != want {
					t.Errorf("errors.Is(err, %v) = %v, want %v", class, !want, want)
				}
			}
			if e.Code != tc.wantCode {
				t.Errorf("Code = %q, want %q", e.Code, tc.wantCode)
			}
			if tc.wantMessage != "" && err.Error() != tc.wantMessage {
				t.Errorf("message %q, want %q", err, tc.wantMessage)
			}
			if n := len(api.requests()); n != tc.wantRequests {
				t.Errorf("%d requests, want %d", n, tc.wantRequests)
			}
		})
	}
}

func TestSendTimeoutIsRetryable(t *testing.T) {
	api := newFakeAPI(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	c := api.client(func(o *telnyx.ClientOptions) { o.Timeout = 50 * time.Millisecond })
	_, err := c.Send(t.Context(), sendReq, "k")
	if !telnyx.IsRetryable(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send: %v, want a retryable deadline error", err)
	}
	if e, ok := errors.AsType[*telnyx.Error](err); !ok || e.StatusCode != 0 {
		t.Fatalf("Send: %#v, want *telnyx.Error without status", err)
	}
	if n := len(api.requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestSendNetworkErrorIsRetryable(t *testing.T) {
	api := newFakeAPI(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, http.StatusOK, okBody) })
	c := api.client()
	api.srv.Close() // connection refused from now on
	_, err := c.Send(t.Context(), sendReq, "k")
	e, ok := errors.AsType[*telnyx.Error](err)
	if !ok || e.StatusCode != 0 || !e.Retryable || !telnyx.IsRetryable(err) {
		t.Fatalf("Send: %v, want a retryable *telnyx.Error without status", err)
	}
	if _, ok := errors.AsType[net.Error](err); !ok {
		t.Fatalf("Send: %v, want the net.Error inside", err)
	}
}

func TestSendStopsWhenContextDone(t *testing.T) {
	t.Run("cancelled during a request", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		api := newFakeAPI(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			cancel()
			<-r.Context().Done()
		})
		_, err := api.client().Send(ctx, sendReq, "k")
		if !errors.Is(err, context.Canceled) || telnyx.IsRetryable(err) {
			t.Fatalf("Send: %v, want context.Canceled, not retryable", err)
		}
		if n := len(api.requests()); n != 1 {
			t.Fatalf("%d requests, want 1", n)
		}
	})

	t.Run("already cancelled", func(t *testing.T) {
		api := newFakeAPI(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, http.StatusOK, okBody) })
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := api.client().Send(ctx, sendReq, "k")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Send: %v, want context.Canceled", err)
		}
		if n := len(api.requests()); n != 0 {
			t.Fatalf("%d requests, want 0", n)
		}
	})
}

func TestSendInvalidIdempotencyKey(t *testing.T) {
	tests := []struct {
		key   string
		valid bool
	}{
		{"reply:84cca175-9755-4859-b67f-4730d7f58aa3:1", true},
		{"A_b:C-9", true},
		{strings.Repeat("k", 255), true},
		{strings.Repeat("k", 256), false},
		{"has space", false},
		{"semi;colon", false},
		{"slash/key", false},
		{"naïve", false},
		{"line\nbreak", false},
	}
	for _, tc := range tests {
		name := tc.key
		if len(name) > 20 {
			name = fmt.Sprintf("%d chars", len(name))
		}
		t.Run(name, func(t *testing.T) {
			api := newFakeAPI(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, http.StatusOK, okBody) })
			_, err := api.client().Send(t.Context(), sendReq, tc.key)
			reqs := api.requests()
			if tc.valid {
				if err != nil || len(reqs) != 1 || reqs[0].Header.Get("Idempotency-Key") != tc.key {
					t.Fatalf("Send: %v with %d requests, want the key sent", err, len(reqs))
				}
				return
			}
			if !errors.Is(err, telnyx.ErrInvalidIdempotencyKey) || telnyx.IsRetryable(err) {
				t.Fatalf("Send: %v, want ErrInvalidIdempotencyKey, not retryable", err)
			}
			if len(reqs) != 0 {
				t.Fatalf("%d requests, want none", len(reqs))
			}
		})
	}
}

func TestIsRetryable(t *testing.T) {
	retryable := &telnyx.Error{StatusCode: 503, Retryable: true}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain error", errors.New("boom"), false},
		{"retryable *Error", retryable, true},
		{"wrapped retryable *Error", fmt.Errorf("send reply: %w", retryable), true},
		{"permanent *Error", &telnyx.Error{StatusCode: 403, Err: telnyx.ErrOptedOut}, false},
		{"deadline exceeded", context.DeadlineExceeded, true},
		{"network error", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"cancelled by the caller", context.Canceled, false},
		{"retryable *Error but cancelled", fmt.Errorf("%w (stopped: %w)", retryable, context.Canceled), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := telnyx.IsRetryable(tc.err); got != tc.want {
				t.Fatalf("IsRetryable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestNewClientDefaults(t *testing.T) {
	// A zero BaseURL must mean Telnyx, not a relative URL: check through a transport that records the URL.
	var got string
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r.URL.String()
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(okBody)), Header: http.Header{}}, nil
	})}
	if _, err := telnyx.NewClient(telnyx.ClientOptions{APIKey: "k", HTTPClient: hc}).Send(t.Context(), sendReq, ""); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got != telnyx.DefaultBaseURL+"/messages" {
		t.Fatalf("URL %q, want %q", got, telnyx.DefaultBaseURL+"/messages")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// BenchmarkSend is one send through the client to a local server answering with a Telnyx-shaped body: the
// worker's HTTP round trip, request encoding and response decoding.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		reply(w, http.StatusOK, okBody)
	}))
	defer srv.Close()
	c := telnyx.NewClient(telnyx.ClientOptions{BaseURL: srv.URL + "/v2", APIKey: "KEY0123456789ABCDEF", Timeout: 5 * time.Second})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Send(context.Background(), sendReq, "reply:84cca175-9755:1"); err != nil {
			b.Fatal(err)
		}
	}
}
