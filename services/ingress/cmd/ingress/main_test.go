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
		"TELNYX_PUBLIC_KEY=" + base64.StdEncoding.EncodeToString(pub), "ADMIN_TOKEN=s3cret-token"}
	svc := platformtest.Start(t, "ingress", func(ctx context.Context, logOut io.Writer) error {
		return command().Run(ctx, nil, environ, io.Discard, logOut)
	})
	if code := svc.Get(t, "http", "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz answered %d", code)
	}
	out := svc.Stop(t)
	if strings.Contains(out, "s3cret-token") || !strings.Contains(out, `"ADMIN_TOKEN":"***"`) ||
		!strings.Contains(out, `"timeout":"15s"`) {
		t.Errorf("log leaks the token, or lacks the masked configuration or a readable timeout:\n%s", out)
	}
}
