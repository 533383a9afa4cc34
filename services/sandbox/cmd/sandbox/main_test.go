package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/smsconv/smsconv/services/sandbox/internal/config"
)

func TestKeygen(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"keygen"}, nil, &out, &out); err != nil {
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
			err := run(context.Background(), tc.args, tc.environ, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.wantIs != nil && !errors.Is(err, tc.wantIs)) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, nil, &out, &out); err != nil || !strings.Contains(out.String(), "sandbox say") {
		t.Fatalf("help: %v %q", err, out.String())
	}
}
