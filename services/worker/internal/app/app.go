// Package app wires the worker: connections, streams, processor, consumer and membership, started in
// order and stopped in reverse (shared/platform).
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/smsconv/smsconv/services/worker/internal/config"
	"github.com/smsconv/smsconv/services/worker/internal/consumer"
	"github.com/smsconv/smsconv/services/worker/internal/membership"
	workermetrics "github.com/smsconv/smsconv/services/worker/internal/metrics"
	"github.com/smsconv/smsconv/services/worker/internal/processor"
	"github.com/smsconv/smsconv/services/worker/internal/receipts"
	"github.com/smsconv/smsconv/shared/connect"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/flow"
	"github.com/smsconv/smsconv/shared/obs"
	"github.com/smsconv/smsconv/shared/platform"
	"github.com/smsconv/smsconv/shared/sendrate"
	"github.com/smsconv/smsconv/shared/store"
	"github.com/smsconv/smsconv/shared/telnyx"
)

// Run runs the worker until ctx ends, then shuts down gracefully within cfg.ShutdownTimeout.
func Run(ctx context.Context, cfg config.Config, version string, logOut io.Writer) error {
	log, err := cfg.Logger(logOut, "worker")
	if err != nil {
		return err
	}
	dialog, err := LoadFlow(cfg.FlowFile)
	if err != nil {
		return err
	}
	svc := platform.New("worker", version, log, cfg.ShutdownTimeout, cfg)
	log.Info("flow loaded", "component", "app", "flow", dialog.Name(), "flow_version", dialog.Version())
	conns := connect.For(svc)
	reg := obs.NewRegistry()
	metrics := workermetrics.New(reg)

	so := events.DefaultStreamOptions()
	so.Partitions, so.AckWait, so.Replicas = cfg.Partitions, cfg.AckWait, cfg.NATSReplicas

	return svc.Run(ctx,
		obs.Tracing("smsconv-worker"),
		conns.RedisComponent(cfg.Queue),
		conns.NATSComponent(cfg.Queue, "worker-"+cfg.WorkerID),
		conns.ConsumersComponent(so), // the ingress owns the streams; the worker waits for them, then owns its consumers
		svc.HTTP(platform.HTTP{Name: "metrics", Addr: cfg.MetricsAddr, Server: opsServer(),
			Handler: func() (http.Handler, error) { return opsHandler(reg), nil }}),
		totalsComponent(conns, cfg.WorkerID, reg),
		receiptsComponent(conns, cfg, log),
		consumeComponent(conns, cfg, dialog, metrics, log),
	)
}

// receiptsComponent applies delivery receipts from SMS_EVENTS.
func receiptsComponent(conns *connect.Conns, cfg config.Config, log *slog.Logger) platform.Component {
	rc := &receipts.Consumer{Log: log}
	return platform.Component{
		Name: "receipts",
		Start: func(ctx context.Context) error {
			rc.Store = store.New(conns.Redis, store.Options{Prefix: cfg.RedisPrefix})
			rc.Announcer = events.Announcer{NC: conns.NC}
			return rc.Start(ctx, conns.JS)
		},
		Stop: func(context.Context) error { rc.Stop(); return nil },
	}
}

// consumeComponent joins the membership group and consumes the partitions it assigns. Stop leaves the group
// first, so the others take the partitions at once, then finishes in-flight work within the deadline.
func consumeComponent(conns *connect.Conns, cfg config.Config, dialog *flow.Flow, metrics *workermetrics.Metrics,
	log *slog.Logger) platform.Component {
	var (
		runner *consumer.Runner
		bg     sync.WaitGroup
	)
	// The membership and the runner's loop live from Start until Stop, not until the start-up's ctx ends.
	memberCtx, stopMembership := context.WithCancel(context.Background())
	return platform.Component{
		Name: "consumer",
		Start: func(ctx context.Context) error {
			proc := &processor.Processor{
				Store: store.New(conns.Redis, store.Options{Prefix: cfg.RedisPrefix, RepliesPerMinute: cfg.RepliesPerMinute,
					LoopRepeats: cfg.StoreLoopRepeats()}),
				Dialog: dialog,
				Sender: processor.Instrument(telnyx.NewClient(telnyx.ClientOptions{BaseURL: cfg.TelnyxAPIURL,
					APIKey: cfg.TelnyxAPIKey, Timeout: cfg.TelnyxTimeout}), metrics),
				MessagingProfileID: cfg.MessagingProfileID,
				Ours:               cfg.OurNumbers,
				Log:                log,
				Metrics:            metrics,
				Announcer:          events.Announcer{NC: conns.NC},
			}
			if cfg.CacheSize > 0 {
				proc.Cache = processor.NewCache(cfg.CacheSize)
			}
			proc.Pacing = pacing(cfg, conns.Redis, log)
			var err error
			runner, err = consumer.New(ctx, conns.JS, proc, consumer.Options{MaxInFlight: cfg.MaxInFlight,
				MaxAttempts: cfg.MaxAttempts, Metrics: metrics}, log)
			if err != nil {
				return err
			}
			group := membership.New(conns.NC, cfg.WorkerID, cfg.Partitions, cfg.Heartbeat, log)
			bg.Add(2)
			go func() { defer bg.Done(); _ = group.Run(memberCtx, runner.Assign) }()
			go func() { defer bg.Done(); runner.Run(memberCtx) }()
			return nil
		},
		Stop: func(ctx context.Context) error {
			stopMembership()
			bg.Wait()
			if err := runner.Stop(ctx); err != nil {
				return fmt.Errorf("in-flight work did not finish in time; it will be redelivered: %w", err)
			}
			return nil
		},
	}
}

// LoadFlow returns the flow in path, validated, or the built-in default flow (the seed's dialog) when
// path is empty.
func LoadFlow(path string) (*flow.Flow, error) {
	if path == "" {
		return flow.Default(), nil
	}
	f, err := flow.Load(path)
	if err != nil {
		return nil, fmt.Errorf("FLOW_FILE: %w", err)
	}
	return f, nil
}

// opsServer holds the limits of the /healthz and /metrics server.
func opsServer() *http.Server {
	return &http.Server{ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second}
}

// opsHandler serves /healthz and /metrics on METRICS_ADDR.
func opsHandler(g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", obs.Handler(g))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	return mux
}

// pacing is how the workers keep to Telnyx's limits: one limiter state in Redis for every replica, or none
// when every SEND_RATE_* limit is off (load tests measure the system's own speed that way).
func pacing(cfg config.Config, rdb redis.UniversalClient, log *slog.Logger) processor.Pacing {
	p := processor.Pacing{HoldUnknown: cfg.ReplyUnknownOutcome == config.UnknownHold}
	if cfg.SendRates.Enabled() {
		p.Limiter = sendrate.New(rdb, cfg.RedisPrefix, cfg.SendRates)
	}
	log.Info("send pacing", "component", "worker", "account_rate", cfg.SendRates.Account,
		"per_number_rate", cfg.SendRates.PerNumber, "number_overrides", len(cfg.SendRates.Numbers),
		"bulk_share", cfg.SendRates.BulkShare, "unknown_outcome", cfg.ReplyUnknownOutcome, "limited", p.Limiter != nil)
	return p
}
