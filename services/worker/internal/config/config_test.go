package config

import (
	"os"
	"path/filepath"
	"strings"
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
		{Name: "bad loop repeats", Env: []string{key, "REPLY_LOOP_REPEATS=-1"}, WantErr: "REPLY_LOOP_REPEATS"},
		{Name: "unparsable duration", Env: []string{key, "WORKER_ACK_WAIT=soon"}, WantErr: "WORKER_ACK_WAIT"},
		{Name: "short ack wait", Env: []string{key, "WORKER_ACK_WAIT=1s"}, WantErr: "WORKER_ACK_WAIT"},
		{Name: "bad heartbeat", Env: []string{key, "WORKER_HEARTBEAT=0s"}, WantErr: "WORKER_HEARTBEAT"},
		{Name: "compose's sandbox key with Telnyx", Env: []string{"TELNYX_API_KEY=sandbox"}, WantErr: "set TELNYX_API_KEY to your Telnyx API key"},
		{Name: "placeholder key in capitals with Telnyx", Env: []string{"TELNYX_API_KEY=SANDBOX", "TELNYX_API_URL=https://api.telnyx.com/v2"},
			WantErr: "development placeholder"},
		{Name: "negative account rate", Env: []string{key, "SEND_RATE_ACCOUNT=-1"}, WantErr: "SEND_RATE_ACCOUNT"},
		{Name: "unparsable number rate", Env: []string{key, "SEND_RATE_PER_NUMBER=fast"}, WantErr: "SEND_RATE_PER_NUMBER"},
		{Name: "bulk share zero", Env: []string{key, "SEND_RATE_BULK_SHARE=0"}, WantErr: "SEND_RATE_BULK_SHARE"},
		{Name: "missing rate file", Env: []string{key, "SEND_RATE_FILE=/nonexistent/rates.yaml"}, WantErr: "SEND_RATE_FILE"},
		{Name: "bad unknown-outcome policy", Env: []string{key, "REPLY_UNKNOWN_OUTCOME=maybe"}, WantErr: "REPLY_UNKNOWN_OUTCOME"},
	})
}

// loaded checks the defaults were applied.
func loaded(tb testing.TB, c Config) {
	if c.Partitions != 16 || c.WorkerID == "" || c.TelnyxAPIURL != "https://api.telnyx.com/v2" ||
		c.ShutdownTimeout != 20*time.Second || c.LogFormat != "json" {
		tb.Fatalf("defaults not applied: %+v", c)
	}
}

func TestLoopGuardSetting(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want int // store.Options.LoopRepeats
	}{
		{nil, 20},
		{[]string{"REPLY_LOOP_REPEATS=5"}, 5},
		{[]string{"REPLY_LOOP_REPEATS=0"}, -1}, // off
	} {
		c, err := Load(append([]string{"TELNYX_API_KEY=k"}, tc.env...))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.StoreLoopRepeats(); got != tc.want {
			t.Errorf("%v: store LoopRepeats = %d, want %d", tc.env, got, tc.want)
		}
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

// TestSendRates: the variables and SEND_RATE_FILE become one set of limits, the file checked at start.
func TestSendRates(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "rates.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("numbers:\n  \"+18005550100\": 20\n  \"+12125550100\": 75/min\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("numbers:\n  \"+18005550100\": quick\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load([]string{"TELNYX_API_KEY=k", "SEND_RATE_PER_NUMBER=5", "SEND_RATE_FILE=" + good})
	if err != nil {
		t.Fatal(err)
	}
	r := c.SendRates
	if r.Account != 50 || r.PerNumber != 5 || r.BulkShare != 0.5 || r.NumberRate("+18005550100") != 20 ||
		r.NumberRate("+12125550100") != 1.25 || r.NumberRate("+12125550199") != 5 || c.ReplyUnknownOutcome != UnknownResend {
		t.Fatalf("SendRates = %+v, policy %q", r, c.ReplyUnknownOutcome)
	}
	if _, err := Load([]string{"TELNYX_API_KEY=k", "SEND_RATE_FILE=" + bad}); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("a bad rate file: err = %v, want the line named", err)
	}
	if c, err := Load([]string{"TELNYX_API_KEY=k", "SEND_RATE_ACCOUNT=0"}); err != nil || c.SendRates.Enabled() {
		t.Fatalf("SEND_RATE_ACCOUNT=0 alone: %v, enabled %v", err, c.SendRates.Enabled())
	}
}
