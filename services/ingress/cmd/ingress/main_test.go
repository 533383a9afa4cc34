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
)

func TestHelpAndVersionStartNothing(t *testing.T) {
	// An environment the service would refuse: -h and version must not read it.
	bad := []string{"NATS_PARTITIONS=many", "TELNYX_PUBLIC_KEY="}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"-h", []string{"-h"}, []string{"TELNYX_PUBLIC_KEY", "(required)", "HTTP_ADDR", ":8080", "SHUTDOWN_TIMEOUT", "15s", "NATS_URL", "LOG_FORMAT", "json"}},
		{"--help", []string{"--help"}, []string{"ADMIN_TOKEN", "WEBHOOK_TOLERANCE", "300s"}},
		{"version", []string{"version"}, []string{"dev\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := run(context.Background(), tc.args, bad, &out, &errOut); err != nil {
				t.Fatalf("run: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if errOut.Len() != 0 {
				t.Fatalf("logged something: %s", errOut.String())
			}
		})
	}
}

func TestBadConfigNamesTheVariable(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), nil, []string{"NATS_PARTITIONS=many"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "NATS_PARTITIONS") {
		t.Fatalf("err = %v", err)
	}
}

func TestServesUntilCancelled(t *testing.T) {
	nats, redis := natstest.Start(t), redistest.Start(t)
	pub, _, _ := ed25519.GenerateKey(nil)
	environ := []string{"NATS_URL=" + nats.URL, "REDIS_URL=" + redis.URL, "HTTP_ADDR=127.0.0.1:0",
		"TELNYX_PUBLIC_KEY=" + base64.StdEncoding.EncodeToString(pub), "ADMIN_TOKEN=s3cret-token"}
	svc := platformtest.Start(t, "ingress", func(ctx context.Context, logOut io.Writer) error {
		return run(ctx, nil, environ, io.Discard, logOut)
	})
	resp, err := http.Get("http://" + svc.Addr(t, "http") + "/readyz") //nolint:noctx // a test's one request
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz answered %d", resp.StatusCode)
	}
	out := svc.Stop(t)
	if strings.Contains(out, "s3cret-token") || !strings.Contains(out, `"ADMIN_TOKEN":"***"`) ||
		!strings.Contains(out, `"timeout":"15s"`) {
		t.Errorf("log leaks the token, or lacks the masked configuration or a readable timeout:\n%s", out)
	}
}
