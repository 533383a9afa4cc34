package config

import (
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/platform/platformtest"
)

func TestLoad(t *testing.T) {
	const key = "TELNYX_API_KEY=k"
	platformtest.CheckLoad(t, Load, loaded, []platformtest.LoadCase{
		{Name: "defaults with key", Env: []string{key}},
		{Name: "missing key", Env: nil, WantErr: "TELNYX_API_KEY is required"},
		{Name: "bad api url", Env: []string{key, "TELNYX_API_URL=ftp://x"}, WantErr: "TELNYX_API_URL"},
		// The shared variables (NATS_*, REDIS_URL, LOG_*, SHUTDOWN_TIMEOUT) are tested with platform.Config.
		{Name: "platform variable", Env: []string{key, "REDIS_URL=localhost:6379"}, WantErr: "REDIS_URL"},
		{Name: "bad phone", Env: []string{key, "TELNYX_PHONE_NUMBER=555"}, WantErr: "TELNYX_PHONE_NUMBER"},
		{Name: "bad inflight", Env: []string{key, "WORKER_MAX_INFLIGHT=0"}, WantErr: "WORKER_MAX_INFLIGHT"},
		{Name: "bad attempts", Env: []string{key, "WORKER_MAX_ATTEMPTS=0"}, WantErr: "WORKER_MAX_ATTEMPTS"},
		{Name: "bad rate limit", Env: []string{key, "REPLY_RATE_LIMIT=-1"}, WantErr: "REPLY_RATE_LIMIT"},
		{Name: "unparsable duration", Env: []string{key, "WORKER_ACK_WAIT=soon"}, WantErr: "WORKER_ACK_WAIT"},
		{Name: "short ack wait", Env: []string{key, "WORKER_ACK_WAIT=1s"}, WantErr: "WORKER_ACK_WAIT"},
		{Name: "bad heartbeat", Env: []string{key, "WORKER_HEARTBEAT=0s"}, WantErr: "WORKER_HEARTBEAT"},
		{Name: "compose's sandbox key with Telnyx", Env: []string{"TELNYX_API_KEY=sandbox"}, WantErr: "set TELNYX_API_KEY to your Telnyx API key"},
		{Name: "placeholder key in capitals with Telnyx", Env: []string{"TELNYX_API_KEY=SANDBOX", "TELNYX_API_URL=https://api.telnyx.com/v2"},
			WantErr: "development placeholder"},
	})
}

// loaded checks the defaults were applied.
func loaded(tb testing.TB, c Config) {
	if c.Partitions != 16 || c.WorkerID == "" || c.TelnyxAPIURL != "https://api.telnyx.com/v2" ||
		c.ShutdownTimeout != 20*time.Second || c.LogFormat != "json" {
		tb.Fatalf("defaults not applied: %+v", c)
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
