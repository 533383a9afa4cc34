package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// SandboxFaults is the sandbox's GET /sandbox/faults: the faults in force and how many injected ones are left.
type SandboxFaults struct {
	FailNext       int     `json:"fail_next"`
	FailNextStatus int     `json:"fail_next_status,omitempty"`
	FailAfterSend  int     `json:"fail_after_send"`
	FailureRate    float64 `json:"failure_rate"`
	FailureStatus  int     `json:"failure_status,omitempty"`
	Latency        string  `json:"latency"`
}

// FaultState reads the faults in force at the sandbox.
func (c *Client) FaultState(ctx context.Context) (SandboxFaults, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.s.SandboxURL+"/sandbox/faults", nil)
	if err != nil {
		return SandboxFaults{}, err
	}
	status, raw, err := c.do(req)
	if err != nil {
		return SandboxFaults{}, fmt.Errorf("sandbox faults: %w", err)
	}
	if status != http.StatusOK {
		return SandboxFaults{}, fmt.Errorf("sandbox faults: %d %s", status, raw)
	}
	var f SandboxFaults
	if err := json.Unmarshal(raw, &f); err != nil {
		return SandboxFaults{}, fmt.Errorf("sandbox faults: %w", err)
	}
	return f, nil
}
