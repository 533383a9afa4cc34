package telnyx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	json "github.com/go-json-experiment/json/v1"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/smsconv/smsconv/shared/ids"
)

// DefaultBaseURL is Telnyx's API v2 root, used when ClientOptions.BaseURL is empty.
const DefaultBaseURL = "https://api.telnyx.com/v2"

// DefaultTimeout bounds a request when ClientOptions.Timeout is zero (or negative).
const DefaultTimeout = 10 * time.Second

// maxResponseBody bounds what is read of any response: ours are small, a misbehaving proxy's need not be.
const maxResponseBody = 1 << 20

// Classes of send failure; *Error unwraps to one of them when Telnyx's error code or status says which.
var (
	// ErrOptedOut: the recipient texted STOP (code 40300). Permanent: never retry, record the opt-out.
	ErrOptedOut = errors.New("recipient opted out")
	// ErrAuth: the API key was refused (code 10009, or HTTP 401/403). Permanent until the key is fixed.
	ErrAuth = errors.New("authentication failed")
	// ErrInvalidNumber: a from or to number is invalid or cannot be messaged (codes 10016, 40310). Permanent.
	ErrInvalidNumber = errors.New("invalid phone number")
	// ErrRateLimited: Telnyx asked us to slow down (code 10011 or HTTP 429), or its queue for the sender is
	// full (code 40318). Retryable, later and slower.
	ErrRateLimited = errors.New("rate limited")
	// ErrSpamTemporary: a carrier flagged the traffic as spam for now (code 40002). Retryable, slower.
	ErrSpamTemporary = errors.New("temporarily flagged as spam")
	// ErrUnexpectedResponse: a 2xx response without a readable data.id. Permanent: the message may well have
	// been accepted, and a retry would replay the same response.
	ErrUnexpectedResponse = errors.New("unexpected response")
	// ErrInvalidIdempotencyKey: the key has characters other than letters, digits, '_', ':' and '-', or is longer
	// than 255. Nothing was sent.
	ErrInvalidIdempotencyKey = errors.New("invalid idempotency key")
)

// ClientOptions configures a Client. Zero fields take the Default... values.
type ClientOptions struct {
	// BaseURL is the API root, e.g. https://api.telnyx.com/v2 (a fake server's URL in tests).
	BaseURL string
	// APIKey is sent as a Bearer token.
	APIKey string
	// Timeout bounds the request, including reading the response.
	Timeout time.Duration
	// HTTPClient is used when set (its own Timeout, if any, still applies on top of Timeout).
	HTTPClient *http.Client
}

// Client sends messages through the Telnyx Messaging API. It is safe for concurrent use. Each Send is one
// HTTP request: the client never retries, so whoever retries (the worker, through the queue's redelivery)
// sees, counts and paces every request.
type Client struct {
	url     string
	auth    string
	timeout time.Duration
	hc      *http.Client
}

// NewClient returns a Client for o, with defaults for its zero fields.
func NewClient(o ClientOptions) *Client {
	c := &Client{
		url:     strings.TrimRight(o.BaseURL, "/") + "/messages",
		auth:    "Bearer " + o.APIKey,
		timeout: o.Timeout,
		hc:      o.HTTPClient,
	}
	if o.BaseURL == "" {
		c.url = DefaultBaseURL + "/messages"
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.hc == nil {
		// No client-wide timeout: each attempt has its own deadline through its context.
		c.hc = &http.Client{Transport: newTransport()}
	}
	return c
}

// MaxIdleConns is how many idle connections to Telnyx the default transport keeps. net/http keeps two per
// host, so a worker with more sends in flight than that closed a connection after most requests and dialled
// (and, on the real API, TLS-handshook) a new one for the next: the profile showed dialConn on the hot path.
const MaxIdleConns = 256

// newTransport is net/http's default transport with connections to Telnyx kept for reuse.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = MaxIdleConns
	t.MaxIdleConnsPerHost = MaxIdleConns
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// SendRequest is the body of POST /messages. Either From or MessagingProfileID (with a number pool) names the
// sender; Text, MediaURLs or both carry the content.
type SendRequest struct {
	From               string   `json:"from,omitempty"`
	To                 string   `json:"to"`
	Text               string   `json:"text,omitempty"`
	MessagingProfileID string   `json:"messaging_profile_id,omitempty"`
	WebhookURL         string   `json:"webhook_url,omitempty"`
	MediaURLs          []string `json:"media_urls,omitempty"`
}

// SendResult is what Telnyx answered to an accepted message.
type SendResult struct {
	ID         string // data.id, the id later delivery receipts carry
	Status     string // data.to[0].status, normally "queued"
	StatusCode int    // the HTTP status of the answer (a 2xx)
}

// Error is a failed send. Err is one of the class errors (ErrOptedOut, ErrAuth, ErrInvalidNumber,
// ErrRateLimited, ErrUnexpectedResponse) when the failure has a class, or the transport error for network
// failures; errors.Is sees through it.
type Error struct {
	// StatusCode is the HTTP status, 0 when no response was received.
	StatusCode int
	// Code, Title and Detail are from Telnyx's errors[] entry that decided the class (else the first one).
	Code, Title, Detail string
	// Retryable says whether sending the same request again later may succeed.
	Retryable bool
	// RetryAfter is the server's Retry-After, 0 when absent: the caller should retry no sooner than this.
	RetryAfter time.Duration
	Err        error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("telnyx: ")
	if e.StatusCode == 0 {
		if e.Err != nil {
			b.WriteString(e.Err.Error())
		} else {
			b.WriteString("request failed")
		}
		return b.String()
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	if e.Code != "" {
		fmt.Fprintf(&b, ", code %s", e.Code)
	}
	if e.Title != "" {
		b.WriteString(": ")
		b.WriteString(e.Title)
	}
	if e.Detail != "" && e.Detail != e.Title {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns the class or transport error.
func (e *Error) Unwrap() error { return e.Err }

// IsRetryable reports whether err is worth retrying later: a *Error marked Retryable, a network error or a
// timeout. A context cancelled by the caller is not: the caller chose to stop.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Retryable
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	_, ok := errors.AsType[net.Error](err)
	return ok
}

// class is how a failure is handled.
type class struct {
	err       error
	retryable bool
}

// codeClasses maps Telnyx error codes, which decide before the HTTP status does.
var codeClasses = map[string]class{
	"40300": {ErrOptedOut, false},
	"10009": {ErrAuth, false},
	"10016": {ErrInvalidNumber, false},
	"40310": {ErrInvalidNumber, false},
	"10011": {ErrRateLimited, true},
	"40318": {ErrRateLimited, true},
	"40002": {ErrSpamTemporary, true},
}

// statusClass classifies a failure whose error codes are unknown or absent.
func statusClass(status int) class {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return class{ErrAuth, false}
	case status == http.StatusTooManyRequests:
		return class{ErrRateLimited, true}
	case status >= 500:
		return class{nil, true}
	}
	return class{nil, false}
}

// Send posts req to /messages, once. With a non-empty idempotencyKey, Telnyx replays its first successful
// answer for 24 hours, so a retry by the caller with the same key and request never sends twice; without
// one a retry after a timeout may. Every failure carries a classified *Error (find it with errors.As; see
// also IsRetryable and Error.RetryAfter), except an invalid key (ErrInvalidIdempotencyKey, nothing sent).
// When ctx ends Send, the error also wraps ctx.Err().
func (c *Client) Send(ctx context.Context, req SendRequest, idempotencyKey string) (SendResult, error) {
	if idempotencyKey != "" && !ids.Valid(idempotencyKey) {
		return SendResult{}, fmt.Errorf("telnyx send: %w (%d characters; allowed: letters, digits, '_', ':', '-', at most %d)",
			ErrInvalidIdempotencyKey, len(idempotencyKey), ids.MaxLen)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return SendResult{}, fmt.Errorf("telnyx send: encode request: %w", err)
	}
	res, e := c.attempt(ctx, body, idempotencyKey)
	switch {
	case e == nil:
		return res, nil
	case ctx.Err() != nil:
		return SendResult{}, stopped(ctx, e)
	}
	return SendResult{}, e
}

// stopped adds the context's error to e when e does not already carry it, so errors.Is(err, context.Canceled)
// holds whichever way the cancellation surfaced.
func stopped(ctx context.Context, e *Error) error {
	if errors.Is(e, ctx.Err()) {
		return e
	}
	return fmt.Errorf("%w (stopped: %w)", e, ctx.Err())
}

// attempt makes one request.
func (c *Client) attempt(ctx context.Context, body []byte, idempotencyKey string) (SendResult, *Error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		// A bad BaseURL: no retry can fix it.
		return SendResult{}, &Error{Err: fmt.Errorf("build request: %w", err)}
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return SendResult{}, &Error{Retryable: true, Err: withContextErr(ctx, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return SendResult{}, &Error{StatusCode: resp.StatusCode, Retryable: true,
			Err: fmt.Errorf("read response: %w", withContextErr(ctx, err))}
	}
	// Drain a little of anything left so the connection can be reused; a huge body is not worth it.
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return parseSuccess(resp.StatusCode, data)
	}
	e := parseError(resp.StatusCode, resp.Header.Get("Retry-After"), data, time.Now())
	// Telnyx's x-ratelimit-reset is the seconds until the window resets: no sooner than that either.
	e.RetryAfter = max(e.RetryAfter, parseRetryAfter(resp.Header.Get("x-ratelimit-reset"), time.Now()))
	return SendResult{}, e
}

// withContextErr makes a transport error carry the context's error when the context ended it, which the
// transport does not always do (e.g. when reading the body).
func withContextErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}

func parseSuccess(status int, data []byte) (SendResult, *Error) {
	// One pass: a data that is not an object fails the decode like a missing one.
	var ok struct {
		Data *struct {
			ID flexString      `json:"id"`
			To flexList[party] `json:"to"`
		} `json:"data"`
	}
	if json.Unmarshal(data, &ok) != nil || ok.Data == nil || ok.Data.ID == "" {
		// No snippet of the body here: a success body echoes numbers and text, which are personal data.
		return SendResult{}, &Error{StatusCode: status, Title: "response has no data.id", Err: ErrUnexpectedResponse}
	}
	d := ok.Data
	res := SendResult{ID: string(d.ID), StatusCode: status}
	if len(d.To) > 0 {
		res.Status = string(d.To[0].Status)
	}
	return res, nil
}

// parseError builds the *Error of a non-2xx response.
func parseError(status int, retryAfter string, data []byte, now time.Time) *Error {
	var body struct {
		Errors flexList[errorEntry] `json:"errors"`
	}
	_ = json.Unmarshal(data, &body) // an unreadable body still has a status to classify by
	e := &Error{StatusCode: status, RetryAfter: parseRetryAfter(retryAfter, now)}

	cl, found := class{}, false
	pick := -1
	for i, entry := range body.Errors {
		if c, ok := codeClasses[strings.TrimSpace(string(entry.Code))]; ok {
			cl, found, pick = c, true, i
			break
		}
	}
	if !found {
		cl = statusClass(status)
		if len(body.Errors) > 0 {
			pick = 0
		}
	}
	e.Err, e.Retryable = cl.err, cl.retryable
	if pick >= 0 {
		entry := body.Errors[pick]
		e.Code, e.Title, e.Detail = strings.TrimSpace(string(entry.Code)), string(entry.Title), string(entry.Detail)
	} else {
		e.Title = http.StatusText(status)
		e.Detail = snippet(data)
	}
	return e
}

// snippet is the start of an unreadable body, on one line, for the error message.
func snippet(data []byte) string {
	const limit = 200
	s := strings.Join(strings.Fields(string(bytes.ToValidUTF8(data, []byte("?")))), " ")
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return s
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date. Absent, past or unreadable is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		const maxSecs = int64(1<<63-1) / int64(time.Second)
		switch {
		case secs <= 0:
			return 0
		case secs > maxSecs:
			secs = maxSecs
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}
