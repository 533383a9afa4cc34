// Package connect opens the connections the services need, NATS JetStream and Redis, with timeouts,
// reconnects and logging set the same way everywhere. While a dependency is unreachable at start it says so
// every few seconds, naming the URL, instead of waiting in silence.
package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/smsconv/smsconv/shared/envconfig"
	"github.com/smsconv/smsconv/shared/platform"
)

// DefaultRetryEvery is the pause between two attempts to reach a dependency at start.
const DefaultRetryEvery = 2 * time.Second

// Options say how connections report and retry.
type Options struct {
	// Log receives the waiting lines and the clients' own messages.
	Log *slog.Logger
	// RetryEvery is the pause between attempts at start; zero means DefaultRetryEvery.
	RetryEvery time.Duration
}

// permanentError stops Retry at once.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix: Retry returns it at once.
func Permanent(err error) error { return permanentError{err} }

// Retry calls attempt until it succeeds, returns an error marked Permanent, or ctx ends. Each failure is
// logged as "waiting for <what> (attempt n: err)"; the final error names what and carries the last failure.
func Retry(ctx context.Context, o Options, what string, attempt func(context.Context) error) error {
	every := o.RetryEvery
	if every <= 0 {
		every = DefaultRetryEvery
	}
	for n := 1; ; n++ {
		err := attempt(ctx)
		if err == nil {
			if n > 1 {
				o.Log.Info("reached "+what, "component", "connect", "attempts", n)
			}
			return nil
		}
		if pe := (permanentError{}); errors.As(err, &pe) {
			return fmt.Errorf("%s: %w", what, pe.err)
		}
		o.Log.Warn(fmt.Sprintf("waiting for %s (attempt %d: %v)", what, n, err), "component", "connect")
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not reachable after %d attempts (%w): %w", what, n, context.Cause(ctx), err)
		case <-time.After(every):
		}
	}
}

// NATS connects to url and returns the connection and its JetStream context. It waits (see Retry) until
// the server answers or ctx ends; once connected, it reconnects forever. While NATS is down later, publishes
// fail fast and the services answer 503.
func NATS(ctx context.Context, rawURL, name string, o Options) (*nats.Conn, jetstream.JetStream, error) {
	var nc *nats.Conn
	err := Retry(ctx, o, "NATS at "+envconfig.RedactURL(rawURL), func(context.Context) error {
		// nats.go reports a failed first connect as "no servers available"; the dialer keeps the reason
		// (connection refused, no such host) for the waiting line.
		d := &recordingDialer{Dialer: net.Dialer{Timeout: 5 * time.Second}}
		c, err := nats.Connect(rawURL,
			nats.Name(name),
			nats.SetCustomDialer(d),
			nats.Timeout(5*time.Second),
			nats.MaxReconnects(-1),
			nats.ReconnectWait(500*time.Millisecond),
			nats.ReconnectBufSize(-1), // do not buffer publishes while disconnected: fail them, callers answer 503
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err == nil {
					return // a Close or Drain we asked for, not an outage
				}
				o.Log.Warn("nats disconnected", "component", "nats", "err", err)
			}),
			nats.ReconnectHandler(func(c *nats.Conn) {
				o.Log.Info("nats reconnected", "component", "nats", "url", c.ConnectedUrlRedacted())
			}),
		)
		nc = c
		if err != nil && d.err != nil {
			return d.err
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// recordingDialer keeps the last dial error.
type recordingDialer struct {
	net.Dialer
	err error
}

func (d *recordingDialer) Dial(network, address string) (net.Conn, error) {
	c, err := d.Dialer.Dial(network, address) // nats.CustomDialer has no context; Timeout bounds it
	if err != nil {
		d.err = err
	}
	return c, err
}

// Drain drains nc (in-flight messages are handled, subscriptions end) and waits until it is closed or
// ctx ends; then it closes it.
func Drain(ctx context.Context, nc *nats.Conn) error {
	defer nc.Close()
	if err := nc.Drain(); err != nil {
		return fmt.Errorf("nats drain: %w", err)
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !nc.IsClosed() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("nats drain: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// reloadOnDialError asks the cluster client for a fresh slot map when a node cannot be dialled: the node may
// be a master that failed over.
type reloadOnDialError struct{ cc *redis.ClusterClient }

func (h reloadOnDialError) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			h.cc.ReloadState(context.WithoutCancel(ctx))
		}
		return c, err
	}
}

func (reloadOnDialError) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (reloadOnDialError) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// redisLog sends go-redis's own messages (reconnect attempts, pool errors) to slog as warnings, instead of
// unstructured lines on stderr.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "redis")
}

// Redis returns a client of the Redis q describes once it answers a PING (waiting as Retry does): a Redis
// Cluster when REDIS_CLUSTER_ADDRS is set, a Sentinel-watched master when REDIS_SENTINEL_ADDRS is, else the one
// node of REDIS_URL. REDIS_URL's user, password and TLS apply to all three (its database only to one node and
// Sentinel: a cluster has database 0 only). Each kind has its own constructor rather than NewUniversalClient's
// guess from the address count, which takes a cluster given one seed node for a single node. go-redis logs
// through o.Log.
func Redis(ctx context.Context, q platform.Queue, o Options) (redis.UniversalClient, error) {
	redis.SetLogger(redisLog{log: o.Log})
	opt, err := redis.ParseURL(q.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	uo := &redis.UniversalOptions{
		Addrs:     []string{opt.Addr},
		DB:        opt.DB,
		Username:  opt.Username,
		Password:  opt.Password,
		TLSConfig: opt.TLSConfig,
		// Bounded so a lost node fails a command within seconds: the worker then defers the message (it is
		// redelivered) instead of hanging on a dead master.
		DialTimeout:  2 * time.Second,
		ReadTimeout:  2 * time.Second,
		WriteTimeout: 2 * time.Second,
		MaxRetries:   1,
	}
	var rdb redis.UniversalClient
	where := "Redis at " + envconfig.RedactURL(q.RedisURL)
	switch q.RedisTopology() {
	case "cluster":
		if opt.DB != 0 {
			return nil, fmt.Errorf("REDIS_URL database %d: a Redis Cluster has database 0 only", opt.DB)
		}
		uo.Addrs = q.RedisClusterAddrs
		co := uo.Cluster()
		// go-redis refreshes its slot map on MOVED answers and otherwise every 60 s: a killed master answers
		// nothing, so its slots would be unreachable for up to a minute after a replica took them over
		// (measured: the last reply of a burst 62 s after the kill). Refresh every second, and at once when
		// a node cannot be dialled.
		co.ClusterStateReloadInterval = time.Second
		cc := redis.NewClusterClient(co)
		cc.OnNewNode(func(node *redis.Client) { node.AddHook(reloadOnDialError{cc}) })
		rdb = cc
		where = "Redis Cluster at " + strings.Join(uo.Addrs, ",")
	case "sentinel":
		uo.Addrs, uo.MasterName = q.RedisSentinelAddrs, q.RedisSentinelMaster
		rdb = redis.NewFailoverClient(uo.Failover())
		where = "Redis master " + q.RedisSentinelMaster + " of the Sentinels at " + strings.Join(uo.Addrs, ",")
	default:
		rdb = redis.NewClient(uo.Simple())
	}
	err = Retry(ctx, o, where, func(ctx context.Context) error {
		if cc, ok := rdb.(*redis.ClusterClient); ok {
			// Every master must answer: a PING reaches only one node, and a cluster with a slot range
			// uncovered fails the commits that land there.
			return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() })
		}
		return rdb.Ping(ctx).Err()
	})
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	return rdb, nil
}
