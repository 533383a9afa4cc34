package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/smsconv/smsconv/shared/natstest"
	"github.com/smsconv/smsconv/shared/platform/platformtest"
	"github.com/smsconv/smsconv/shared/redistest"
	"github.com/smsconv/smsconv/shared/telnyx"
)

func TestHelpAndVersionStartNothing(t *testing.T) {
	platformtest.CheckHelpAndVersion(t, command().Run, []string{"NATS_PARTITIONS=many", "TELNYX_PUBLIC_KEY="},
		"TELNYX_PUBLIC_KEY", "(required)", "ADMIN_TOKEN", "HTTP_ADDR", ":8080", "WEBHOOK_TOLERANCE", "300s",
		"SHUTDOWN_TIMEOUT", "15s", "NATS_URL", "nats://127.0.0.1:4222", "LOG_FORMAT", "json")
}

func TestBadConfigNamesTheVariable(t *testing.T) {
	var out bytes.Buffer
	err := command().Run(context.Background(), nil, []string{"NATS_PARTITIONS=many"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "NATS_PARTITIONS") {
		t.Fatalf("err = %v", err)
	}
}

func TestServesUntilCancelled(t *testing.T) {
	nats, redis := natstest.Start(t), redistest.Start(t)
	pub, _, _ := ed25519.GenerateKey(nil)
	environ := []string{"NATS_URL=" + nats.URL, "REDIS_URL=" + redis.URL, "HTTP_ADDR=127.0.0.1:0",
		"TELNYX_PUBLIC_KEY=" + base64.StdEncoding.EncodeToString(pub), "ADMIN_TOKEN=s3cret-token-for-this-test-only"}
	svc := platformtest.Start(t, "ingress", func(ctx context.Context, logOut io.Writer) error {
		return command().Run(ctx, nil, environ, io.Discard, logOut)
	})
	if code := svc.Get(t, "http", "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz answered %d", code)
	}
	out := svc.Stop(t)
	if strings.Contains(out, "s3cret-token-for-this-test-only") || !strings.Contains(out, `"ADMIN_TOKEN":"***"`) ||
		!strings.Contains(out, `"timeout":"15s"`) {
		t.Errorf("log leaks the token, or lacks the masked configuration or a readable timeout:\n%s", out)
	}
}

// TestUnsafeDefaultsRefusedOutsideASandbox: with Telnyx's API URL (the default) the development key pair and
// the sandbox's token are refused at start, saying what to set; with a sandbox URL they are accepted.
func TestUnsafeDefaultsRefusedOutsideASandbox(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    []string
	}{
		{"development key", []string{"TELNYX_PUBLIC_KEY=" + telnyx.DevPublicKey},
			[]string{"TELNYX_PUBLIC_KEY is the development key", "Keys & Credentials > Public Key"}},
		{"sandbox token", []string{"TELNYX_PUBLIC_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 32)), "ADMIN_TOKEN=smsconv-sandbox-admin-token",
			"TELNYX_API_URL=https://api.telnyx.com/v2"}, []string{"ADMIN_TOKEN is the sandbox's published token", "at least 24 characters"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := command().Run(context.Background(), nil, tc.environ, &out, &out)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("err = %v, want it to say %q", err, w)
				}
			}
		})
	}
}
