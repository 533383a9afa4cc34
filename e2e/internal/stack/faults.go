package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// SandboxRequests returns how many POST /v2/messages the sandbox received (failed and replayed ones
// included), as GET /sandbox/faults reports it.
func (c *Client) SandboxRequests(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.s.SandboxURL+"/sandbox/faults", nil)
	if err != nil {
		return 0, err
	}
	status, raw, err := c.do(req)
	if err != nil {
		return 0, err
	}
	var f struct {
		Requests int `json:"requests"`
	}
	if status != http.StatusOK || json.Unmarshal(raw, &f) != nil {
		return 0, fmt.Errorf("sandbox faults: %d %s", status, raw)
	}
	return f.Requests, nil
}

// Message is an outbound message as GET /messages/{id} shows it (the fields the harnesses read).
type Message struct {
	ID               string     `json:"id"`
	Status           string     `json:"status"`
	Encoding         string     `json:"encoding"`
	Parts            int        `json:"parts"`
	SendAttempts     int        `json:"send_attempts"`
	UnknownOutcomeAt *time.Time `json:"unknown_outcome_at"`
}

// Message reads message id through the admin API; found is false when no such message is stored.
func (c *Client) Message(ctx context.Context, id string) (m Message, found bool, err error) {
	status, _, err := c.Admin(ctx, http.MethodGet, "/messages/"+url.PathEscape(id), nil, &m)
	switch {
	case err != nil:
		return m, false, err
	case status == http.StatusNotFound:
		return m, false, nil
	case status != http.StatusOK:
		return m, false, fmt.Errorf("GET /messages/%s: %d", id, status)
	}
	return m, true, nil
}
