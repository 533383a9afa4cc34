package config

import (
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	const key = "TELNYX_API_KEY=k"
	tests := []struct {
		name    string
		env     []string
		wantErr string
	}{
		{"defaults with key", []string{key}, ""},
		{"missing key", nil, "TELNYX_API_KEY is required"},
		{"bad api url", []string{key, "TELNYX_API_URL=ftp://x"}, "TELNYX_API_URL"},
		{"bad redis url", []string{key, "REDIS_URL=localhost:6379"}, "REDIS_URL"},
		{"bad nats url", []string{key, "NATS_URL=nowhere"}, "NATS_URL"},
		{"bad phone", []string{key, "TELNYX_PHONE_NUMBER=555"}, "TELNYX_PHONE_NUMBER"},
		{"bad partitions", []string{key, "NATS_PARTITIONS=0"}, "NATS_PARTITIONS"},
		{"bad inflight", []string{key, "WORKER_MAX_INFLIGHT=0"}, "WORKER_MAX_INFLIGHT"},
		{"bad attempts", []string{key, "WORKER_MAX_ATTEMPTS=0"}, "WORKER_MAX_ATTEMPTS"},
		{"bad rate limit", []string{key, "REPLY_RATE_LIMIT=-1"}, "REPLY_RATE_LIMIT"},
		{"unparsable duration", []string{key, "WORKER_ACK_WAIT=soon"}, "WORKER_ACK_WAIT"},
		{"short ack wait", []string{key, "WORKER_ACK_WAIT=1s"}, "WORKER_ACK_WAIT"},
		{"bad heartbeat", []string{key, "WORKER_HEARTBEAT=0s"}, "WORKER_HEARTBEAT"},
		{"bad shutdown", []string{key, "SHUTDOWN_TIMEOUT=-1s"}, "SHUTDOWN_TIMEOUT"},
		{"bad log format", []string{key, "LOG_FORMAT=xml"}, "LOG_FORMAT"},
		{"compose's sandbox key with Telnyx", []string{"TELNYX_API_KEY=sandbox"}, "set TELNYX_API_KEY to your Telnyx API key"},
		{"placeholder key in capitals with Telnyx", []string{"TELNYX_API_KEY=SANDBOX", "TELNYX_API_URL=https://api.telnyx.com/v2"}, "development placeholder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.env)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if c.Partitions != 16 || c.WorkerID == "" || c.TelnyxAPIURL != "https://api.telnyx.com/v2" ||
					c.ShutdownTimeout != 20*time.Second || c.LogFormat != "json" {
					t.Fatalf("defaults not applied: %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Load err = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

// Compose's development key is accepted where it is meant for: a sandbox URL.
func TestSandboxKeyWithTheSandbox(t *testing.T) {
	for _, url := range []string{"http://sandbox:8090/v2", "http://127.0.0.1:8090/v2", "http://localhost:8090/v2"} {
		t.Run(url, func(t *testing.T) {
			if _, err := Load([]string{"TELNYX_API_KEY=sandbox", "TELNYX_API_URL=" + url}); err != nil {
				t.Fatalf("Load: %v", err)
			}
		})
	}
}
