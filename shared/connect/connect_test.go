package connect_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smsconv/smsconv/shared/connect"
	"github.com/smsconv/smsconv/shared/natstest"
	"github.com/smsconv/smsconv/shared/platform"
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
		_, err := connect.Redis(ctx, platform.Queue{RedisURL: srv.URL}, options(logs))
		done <- err
	}()
	logs.WaitFor(t, "waiting for Redis at "+srv.URL+" (attempt 2: ")
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "Redis at "+srv.URL) {
		t.Fatalf("err = %v", err)
	}

	srv.Restart()
	rdb, err := connect.Redis(context.Background(), platform.Queue{RedisURL: srv.URL}, options(logs))
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

// TestRedisTopologies connects to a real Redis Cluster and to a Sentinel-watched master and runs a
// transaction on each: the kind of client follows the variables, not the number of addresses.
func TestRedisTopologies(t *testing.T) {
	cluster := redistest.StartCluster(t)
	sentinel := redistest.StartSentinel(t)
	tests := []struct {
		name string
		q    platform.Queue
		kind string
	}{
		{"cluster from one seed", platform.Queue{RedisURL: "redis://ignored:6379/0", RedisClusterAddrs: cluster.Addrs[:1]}, "*redis.ClusterClient"},
		{"sentinel", platform.Queue{RedisURL: "redis://ignored:6379/0", RedisSentinelAddrs: sentinel.Addrs, RedisSentinelMaster: sentinel.MasterName}, "*redis.Client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := platformtest.NewLogs()
			rdb, err := connect.Redis(context.Background(), tt.q, options(logs))
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			if got := fmt.Sprintf("%T", rdb); got != tt.kind {
				t.Fatalf("client %s, want %s", got, tt.kind)
			}
			ctx := context.Background()
			if _, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, "{k}a", "1", 0)
				p.Set(ctx, "{k}b", "2", 0)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if got := rdb.Get(ctx, "{k}b").Val(); got != "2" {
				t.Fatalf("get = %q", got)
			}
		})
	}
	t.Run("cluster with a database", func(t *testing.T) {
		_, err := connect.Redis(context.Background(), platform.Queue{RedisURL: "redis://x:6379/3", RedisClusterAddrs: cluster.Addrs}, options(platformtest.NewLogs()))
		if err == nil || !strings.Contains(err.Error(), "database 0 only") {
			t.Fatalf("err = %v", err)
		}
	})
}
