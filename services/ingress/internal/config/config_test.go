package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/platform/platformtest"
	"github.com/smsconv/smsconv/shared/telnyx"
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
		// Outside a sandbox (TELNYX_API_URL defaults to Telnyx) the published development secrets are refused.
		{Name: "development key with Telnyx", Env: []string{"TELNYX_PUBLIC_KEY=" + telnyx.DevPublicKey}, WantErr: "TELNYX_PUBLIC_KEY is the development key"},
		{Name: "development key among others", Env: []string{key + "," + telnyx.DevPublicKey, "TELNYX_API_URL=https://api.telnyx.com/v2"}, WantErr: "development key"},
		{Name: "development key with the sandbox", Env: []string{"TELNYX_PUBLIC_KEY=" + telnyx.DevPublicKey, "TELNYX_API_URL=http://sandbox:8090/v2",
			"ADMIN_TOKEN=" + sandboxAdminToken}},
		{Name: "sandbox token with Telnyx", Env: []string{key, "ADMIN_TOKEN=" + sandboxAdminToken}, WantErr: "ADMIN_TOKEN is the sandbox's published token"},
		{Name: "short token with Telnyx", Env: []string{key, "ADMIN_TOKEN=change-me"}, WantErr: "ADMIN_TOKEN has 9 characters, at least 24"},
		{Name: "short token with a sandbox", Env: []string{key, "ADMIN_TOKEN=change-me", "TELNYX_API_URL=http://127.0.0.1:8090/v2"}},
		{Name: "long token with Telnyx", Env: []string{key, "ADMIN_TOKEN=" + strings.Repeat("k", 24)}},
		{Name: "connection caps", Env: []string{key, "HTTP_MAX_CONNS=10", "HTTP_MAX_CONNS_PER_IP=11"}, WantErr: "HTTP_MAX_CONNS_PER_IP"},
		{Name: "idle timeout", Env: []string{key, "HTTP_IDLE_TIMEOUT=0s"}, WantErr: "HTTP_IDLE_TIMEOUT"},
	})
}

// loaded checks the defaults were applied.
func loaded(tb testing.TB, c Config) {
	if len(c.PublicKeys) == 0 || c.HTTPAddr != ":8080" || c.ShutdownTimeout != 15*time.Second ||
		c.NATSURL != "nats://127.0.0.1:4222" || c.LogFormat != "json" ||
		c.MaxConns != 1024 || c.MaxConnsPerIP != 256 || c.IdleTimeout != 15*time.Second || c.HeaderTimeout != 3*time.Second {
		tb.Fatalf("config not filled: %+v", c)
	}
}
