package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/platform/platformtest"
)

func TestLoad(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	key := "TELNYX_PUBLIC_KEY=" + base64.StdEncoding.EncodeToString(pub)
	platformtest.CheckLoad(t, Load, loaded, []platformtest.LoadCase{
		{Name: "defaults", Env: []string{key}},
		{Name: "two keys", Env: []string{key + "," + strings.TrimPrefix(key, "TELNYX_PUBLIC_KEY=")}},
		{Name: "missing key", Env: nil, WantErr: "TELNYX_PUBLIC_KEY is required"},
		{Name: "bad key", Env: []string{"TELNYX_PUBLIC_KEY=bm90IGEga2V5"}, WantErr: "TELNYX_PUBLIC_KEY: key 1"},
		{Name: "bad phone", Env: []string{key, "TELNYX_PHONE_NUMBER=+1555"}, WantErr: "TELNYX_PHONE_NUMBER"},
		{Name: "bad tolerance", Env: []string{key, "WEBHOOK_TOLERANCE=-1s"}, WantErr: "WEBHOOK_TOLERANCE"},
		{Name: "tiny body limit", Env: []string{key, "WEBHOOK_MAX_BODY_BYTES=10"}, WantErr: "WEBHOOK_MAX_BODY_BYTES"},
		{Name: "publish timeout", Env: []string{key, "PUBLISH_TIMEOUT=1m"}, WantErr: "PUBLISH_TIMEOUT"},
		{Name: "stream bound", Env: []string{key, "STREAM_MAX_BYTES=10"}, WantErr: "STREAM_MAX_BYTES"},
		// NATS_*, REDIS_URL, LOG_* and SHUTDOWN_TIMEOUT are platform.Config's, tested with it in shared/platform.
		{Name: "platform variable", Env: []string{key, "NATS_PARTITIONS=many"}, WantErr: "NATS_PARTITIONS"},
	})
}

// loaded checks the defaults were applied.
func loaded(tb testing.TB, c Config) {
	if len(c.PublicKeys) == 0 || c.HTTPAddr != ":8080" || c.ShutdownTimeout != 15*time.Second ||
		c.NATSURL != "nats://127.0.0.1:4222" || c.LogFormat != "json" {
		tb.Fatalf("config not filled: %+v", c)
	}
}
