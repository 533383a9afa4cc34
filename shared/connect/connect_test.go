package connect_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/connect"
	"github.com/smsconv/smsconv/shared/natstest"
	"github.com/smsconv/smsconv/shared/platform/platformtest"
	"github.com/smsconv/smsconv/shared/redistest"
)

func options(w *platformtest.Logs) connect.Options {
	return connect.Options{Log: slog.New(slog.NewTextHandler(w, nil)), RetryEvery: 10 * time.Millisecond}
}

func TestNATSWaitsForTheServerAndSaysSo(t *testing.T) {
	srv := natstest.Start(t)
	srv.Stop()
	connect1 := func(ctx context.Context, logs *platformtest.Logs) chan error {
		done := make(chan error, 1)
		go func() {
			nc, _, err := connect.NATS(ctx, srv.URL, "test", options(logs))
			if err == nil {
				err = connect.Drain(context.Background(), nc)
			}
			done <- err
		}()
		return done
	}

	// Given up: the error names the URL and why.
	logs := platformtest.NewLogs()
	ctx, cancel := context.WithCancel(context.Background())
	done := connect1(ctx, logs)
	logs.WaitFor(t, "waiting for NATS at "+srv.URL+" (attempt 2: dial tcp")
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "NATS at "+srv.URL+": not reachable after") ||
		!errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}

	// Reached once the server is back; a clean close warns of no disconnection.
	logs = platformtest.NewLogs()
	done = connect1(context.Background(), logs)
	logs.WaitFor(t, "(attempt 1: ")
	srv.Restart()
	if err := <-done; err != nil {
		t.Fatalf("connect after restart: %v", err)
	}
	if out := logs.String(); strings.Contains(out, "nats disconnected") || !strings.Contains(out, "reached NATS at "+srv.URL) {
		t.Fatalf("logs:\n%s", out)
	}
}

func TestRedisWaitsAndGivesUpNamingTheURL(t *testing.T) {
	srv := redistest.Start(t)
	srv.Kill()
	logs := platformtest.NewLogs()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := connect.Redis(ctx, srv.URL, options(logs))
		done <- err
	}()
	logs.WaitFor(t, "waiting for Redis at "+srv.URL+" (attempt 2: ")
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "Redis at "+srv.URL) {
		t.Fatalf("err = %v", err)
	}

	srv.Restart()
	rdb, err := connect.Redis(context.Background(), srv.URL, options(logs))
	if err != nil {
		t.Fatalf("connect to a running redis: %v", err)
	}
	_ = rdb.Close()
}

func TestRetryStopsAtAPermanentError(t *testing.T) {
	logs := platformtest.NewLogs()
	calls := 0
	boom := errors.New("partition mismatch")
	err := connect.Retry(context.Background(), options(logs), "streams", func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("timeout")
		}
		return connect.Permanent(boom)
	})
	if !errors.Is(err, boom) || calls != 3 || !strings.Contains(err.Error(), "streams: partition mismatch") {
		t.Fatalf("err = %v after %d calls", err, calls)
	}
	if got := strings.Count(logs.String(), "waiting for streams"); got != 2 {
		t.Fatalf("%d waiting lines, want 2:\n%s", got, logs.String())
	}
}
