package stack

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Client talks to a running stack as Telnyx (signed webhooks), as an operator (admin API) and as the
// phones (the sandbox's record of delivered messages).
type Client struct {
	s    *Stack
	key  ed25519.PrivateKey
	HTTP *http.Client
}

// Client returns a client for s.
func (s *Stack) Client() *Client {
	return &Client{s: s, key: ed25519.NewKeyFromSeed(s.Seed),
		HTTP: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
}

// Sign returns the Telnyx signature headers for body at ts.
func (c *Client) Sign(body []byte, ts time.Time) http.Header {
	t := strconv.FormatInt(ts.Unix(), 10)
	msg := append([]byte(t+"|"), body...)
	h := http.Header{}
	h.Set("telnyx-signature-ed25519", b64(ed25519.Sign(c.key, msg)))
	h.Set("telnyx-timestamp", t)
	h.Set("Content-Type", "application/json")
	return h
}

// PostWebhook signs body now and posts it to the ingress; it returns the status and body.
func (c *Client) PostWebhook(ctx context.Context, body []byte) (int, []byte, error) {
	return c.PostSigned(ctx, body, c.Sign(body, time.Now()))
}

// PostSigned posts body with the given headers to the ingress webhook.
func (c *Client) PostSigned(ctx context.Context, body []byte, h http.Header) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.s.IngressURL+"/webhooks/sms", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header = h
	return c.do(req)
}

// Admin calls the ingress's admin API; out, when non-nil, receives the decoded JSON answer.
func (c *Client) Admin(ctx context.Context, method, path string, body any, out any) (int, http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.s.IngressURL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.s.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, resp.Header, fmt.Errorf("%s %s: %d %q: %w", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, resp.Header, nil
}

// Delivered is one message the sandbox accepted from the worker (what a phone receives).
type Delivered struct {
	ID             string    `json:"id"`
	From           string    `json:"from"`
	To             string    `json:"to"`
	Text           string    `json:"text"`
	IdempotencyKey string    `json:"idempotency_key"`
	Parts          int       `json:"parts"`
	At             time.Time `json:"at"`
}

// Delivered returns every message delivered so far (to one number if to is non-empty), in order.
func (c *Client) Delivered(ctx context.Context, to string) ([]Delivered, error) {
	u := c.s.SandboxURL + "/sandbox/messages"
	if to != "" {
		u += "?to=" + url.QueryEscape(to)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	status, raw, err := c.do(req)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("sandbox messages: %d %s", status, raw)
	}
	var out []Delivered
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("sandbox messages: %w", err)
	}
	return out, nil
}

// WaitDelivered polls until at least n messages were delivered to `to` (all numbers if empty).
func (c *Client) WaitDelivered(ctx context.Context, to string, n int) ([]Delivered, error) {
	for {
		got, err := c.Delivered(ctx, to)
		if err == nil && len(got) >= n {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return got, fmt.Errorf("waiting for %d messages to %q: have %d: %w", n, to, len(got), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Faults configures the sandbox's failure injection (see the sandbox's POST /sandbox/faults).
func (c *Client) Faults(ctx context.Context, body map[string]any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.s.SandboxURL+"/sandbox/faults", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	status, raw, err := c.do(req)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("sandbox faults: %d %s", status, raw)
	}
	return nil
}

func (c *Client) do(req *http.Request) (int, []byte, error) {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}
