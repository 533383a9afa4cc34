package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/natstest"
	"github.com/smsconv/smsconv/shared/platform/platformtest"
	"github.com/smsconv/smsconv/shared/redistest"
)

func TestHelpAndVersionStartNothing(t *testing.T) {
	platformtest.CheckHelpAndVersion(t, command().Run, []string{"NATS_PARTITIONS=many"},
		"TELNYX_API_KEY", "(required)", "WORKER_ACK_WAIT", "3s", "SHUTDOWN_TIMEOUT", "20s", "METRICS_ADDR", ":9090",
		"NATS_PARTITIONS", "16", "FLOW_FILE", "worker flow check|test|record")
}

func TestArgumentErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		environ []string
		want    string
	}{
		{"bad config", nil, []string{"TELNYX_API_KEY=k", "WORKER_ACK_WAIT=soon"}, "WORKER_ACK_WAIT"},
		{"flow without arguments", []string{"flow"}, nil, "usage"},
		{"unknown", []string{"dance"}, nil, `unknown command "dance"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := command().Run(context.Background(), tc.args, tc.environ, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func environ(natsURL, redisURL string, partitions int) []string {
	return []string{"NATS_URL=" + natsURL, "REDIS_URL=" + redisURL, "METRICS_ADDR=127.0.0.1:0",
		"TELNYX_API_KEY=s3cret-key", "TELNYX_API_URL=http://127.0.0.1:1/v2", "WORKER_ID=w1",
		"NATS_PARTITIONS=" + strconv.Itoa(partitions)}
}

// streamsOf creates the streams as the ingress does: the worker only waits for them.
func streamsOf(t *testing.T, nats *natstest.Server, partitions int) {
	t.Helper()
	_, js := nats.Connect(t)
	o := events.DefaultStreamOptions()
	o.Partitions = partitions
	if err := events.EnsureStreams(t.Context(), js, o); err != nil {
		t.Fatal(err)
	}
}

func TestServesUntilCancelled(t *testing.T) {
	nats, redis := natstest.Start(t), redistest.Start(t)
	streamsOf(t, nats, 4)
	svc := platformtest.Start(t, "worker", func(ctx context.Context, logOut io.Writer) error {
		return command().Run(ctx, nil, environ(nats.URL, redis.URL, 4), io.Discard, logOut)
	})
	if code := svc.Get(t, "metrics", "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz answered %d", code)
	}
	if out := svc.Stop(t); strings.Contains(out, "s3cret-key") || !strings.Contains(out, `"TELNYX_API_KEY":"***"`) {
		t.Errorf("log leaks the API key or lacks the masked configuration:\n%s", out)
	}
}

// The README says a worker refuses to start against a stream with another partition count: at once, not
// after retrying.
func TestRefusesAnotherPartitionCountAtOnce(t *testing.T) {
	nats, redis := natstest.Start(t), redistest.Start(t)
	streamsOf(t, nats, 4)

	logs := platformtest.NewLogs()
	err := command().Run(context.Background(), nil, environ(nats.URL, redis.URL, 8), io.Discard, logs)
	if !errors.Is(err, events.ErrPartitionMismatch) {
		t.Fatalf("err = %v, want a partition mismatch", err)
	}
	if strings.Contains(logs.String(), "waiting for JetStream streams") {
		t.Fatalf("the mismatch was retried:\n%s", logs.String())
	}
}
