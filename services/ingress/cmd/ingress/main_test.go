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
	logs := platformtest.NewLogs()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, environ, io.Discard, logs) }()

	addr := platformtest.Field(t, logs.WaitFor(t, `"msg":"ingress ready"`), "http")
	resp, err := http.Get("http://" + addr + "/readyz") //nolint:noctx // a test's one request
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz answered %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	out := logs.String()
	for _, unwanted := range []string{"s3cret-token", "nats disconnected", `"timeout":15`} {
		if strings.Contains(out, unwanted) {
			t.Errorf("log holds %q:\n%s", unwanted, out)
		}
	}
	if !strings.Contains(out, `"ADMIN_TOKEN":"***"`) || !strings.Contains(out, `"msg":"stopped"`) {
		t.Errorf("log lacks the masked configuration or the stop:\n%s", out)
	}
}
