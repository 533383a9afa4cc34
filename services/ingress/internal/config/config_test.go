package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	key := "TELNYX_PUBLIC_KEY=" + base64.StdEncoding.EncodeToString(pub)
	tests := []struct {
		name    string
		env     []string
		wantErr string
	}{
		{"defaults", []string{key}, ""},
		{"two keys", []string{key + "," + strings.TrimPrefix(key, "TELNYX_PUBLIC_KEY=")}, ""},
		{"missing key", nil, "TELNYX_PUBLIC_KEY is required"},
		{"bad key", []string{"TELNYX_PUBLIC_KEY=bm90IGEga2V5"}, "TELNYX_PUBLIC_KEY: key 1"},
		{"bad phone", []string{key, "TELNYX_PHONE_NUMBER=+1555"}, "TELNYX_PHONE_NUMBER"},
		{"bad tolerance", []string{key, "WEBHOOK_TOLERANCE=-1s"}, "WEBHOOK_TOLERANCE"},
		{"tiny body limit", []string{key, "WEBHOOK_MAX_BODY_BYTES=10"}, "WEBHOOK_MAX_BODY_BYTES"},
		{"publish timeout", []string{key, "PUBLISH_TIMEOUT=1m"}, "PUBLISH_TIMEOUT"},
		{"stream bound", []string{key, "STREAM_MAX_BYTES=10"}, "STREAM_MAX_BYTES"},
		{"unparsable number", []string{key, "NATS_PARTITIONS=many"}, "NATS_PARTITIONS"},
		{"bad partitions", []string{key, "NATS_PARTITIONS=0"}, "NATS_PARTITIONS"},
		{"bad nats url", []string{key, "NATS_URL=nowhere"}, "NATS_URL"},
		{"bad redis url", []string{key, "REDIS_URL=http://x"}, "REDIS_URL"},
		{"bad log level", []string{key, "LOG_LEVEL=loud"}, "LOG_LEVEL"},
		{"bad shutdown", []string{key, "SHUTDOWN_TIMEOUT=0s"}, "SHUTDOWN_TIMEOUT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.env)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if len(c.PublicKeys) == 0 || c.HTTPAddr != ":8080" || c.ShutdownTimeout != 15*time.Second ||
					c.NATSURL != "nats://127.0.0.1:4222" || c.LogFormat != "json" {
					t.Fatalf("config not filled: %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Load err = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}
