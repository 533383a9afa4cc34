package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/smsconv/smsconv/services/sandbox/internal/config"
	"github.com/smsconv/smsconv/shared/platform/platformtest"
)

func TestKeygen(t *testing.T) {
	var out bytes.Buffer
	if err := command().Run(context.Background(), []string{"keygen"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "SANDBOX_PRIVATE_KEY=") || !strings.HasPrefix(lines[1], "TELNYX_PUBLIC_KEY=") {
		t.Fatalf("output %q", out.String())
	}
	seed, err1 := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[0], "SANDBOX_PRIVATE_KEY="))
	pub, err2 := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[1], "TELNYX_PUBLIC_KEY="))
	if err1 != nil || err2 != nil || len(seed) != ed25519.SeedSize {
		t.Fatalf("bad keys: %v %v", err1, err2)
	}
	if !ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(pub)) {
		t.Fatal("the public key does not belong to the private key")
	}
	// The printed private key is accepted by the server's configuration.
	if _, err := config.Load([]string{lines[0]}); err != nil {
		t.Fatalf("config rejects the generated key: %v", err)
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		environ []string
		want    string
		wantIs  error
	}{
		{"unknown command", []string{"dance"}, nil, `unknown command "dance"`, nil},
		{"serve with arguments", []string{"serve", "now"}, nil, "no arguments", nil},
		{"bad config", nil, []string{"SANDBOX_FAILURE_RATE=2"}, "SANDBOX_FAILURE_RATE", config.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := command().Run(context.Background(), tc.args, tc.environ, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.wantIs != nil && !errors.Is(err, tc.wantIs)) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestHelpAndVersionStartNothing(t *testing.T) {
	platformtest.CheckHelpAndVersion(t, command().Run, []string{"SANDBOX_FAILURE_RATE=2"},
		"sandbox say", "sandbox keygen", "sandbox version", "SANDBOX_ADDR", ":8090", "SANDBOX_SHUTDOWN_TIMEOUT", "10s",
		"SANDBOX_PRIVATE_KEY", "INGRESS_WEBHOOK_URL", "http://127.0.0.1:8080/webhooks/sms", "LOG_FORMAT", "text")
}

func TestServesUntilCancelled(t *testing.T) {
	environ := []string{"SANDBOX_ADDR=127.0.0.1:0", "LOG_FORMAT=json", "SANDBOX_API_KEY=s3cret-key"}
	svc := platformtest.Start(t, "sandbox", func(ctx context.Context, logOut io.Writer) error {
		return command().Run(ctx, []string{"serve"}, environ, io.Discard, logOut)
	})
	if code := svc.Get(t, "http", "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz answered %d", code)
	}
	if out := svc.Stop(t); strings.Contains(out, "s3cret-key") || !strings.Contains(out, `"SANDBOX_API_KEY":"***"`) {
		t.Errorf("log leaks the API key or lacks the masked configuration:\n%s", out)
	}
}
