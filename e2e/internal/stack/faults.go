package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
