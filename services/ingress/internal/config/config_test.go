package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	key := base64.StdEncoding.EncodeToString(pub)
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults", map[string]string{"TELNYX_PUBLIC_KEY": key}, ""},
		{"two keys", map[string]string{"TELNYX_PUBLIC_KEY": key + "," + key}, ""},
		{"missing key", map[string]string{}, "TELNYX_PUBLIC_KEY is required"},
		{"bad key", map[string]string{"TELNYX_PUBLIC_KEY": "bm90IGEga2V5"}, "TELNYX_PUBLIC_KEY: key 1"},
		{"bad phone", map[string]string{"TELNYX_PUBLIC_KEY": key, "TELNYX_PHONE_NUMBER": "+1555"}, "TELNYX_PHONE_NUMBER"},
		{"bad tolerance", map[string]string{"TELNYX_PUBLIC_KEY": key, "WEBHOOK_TOLERANCE": "-1s"}, "WEBHOOK_TOLERANCE"},
		{"tiny body limit", map[string]string{"TELNYX_PUBLIC_KEY": key, "WEBHOOK_MAX_BODY_BYTES": "10"}, "WEBHOOK_MAX_BODY_BYTES"},
		{"unparsable number", map[string]string{"TELNYX_PUBLIC_KEY": key, "NATS_PARTITIONS": "many"}, "NATS_PARTITIONS"},
		{"bad redis url", map[string]string{"TELNYX_PUBLIC_KEY": key, "REDIS_URL": "http://x"}, "REDIS_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := Load()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if len(c.PublicKeys) == 0 || c.HTTPAddr != ":8080" {
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
