// Package app wires the worker: connections, streams, processor, consumer and membership, started in
// order and stopped in reverse.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsconv/smsconv/services/worker/internal/config"
	"github.com/smsconv/smsconv/services/worker/internal/consumer"
	"github.com/smsconv/smsconv/services/worker/internal/membership"
	"github.com/smsconv/smsconv/services/worker/internal/processor"
	"github.com/smsconv/smsconv/services/worker/internal/receipts"
	"github.com/smsconv/smsconv/shared/connect"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/flow"
	"github.com/smsconv/smsconv/shared/obs"
	"github.com/smsconv/smsconv/shared/store"
	"github.com/smsconv/smsconv/shared/telnyx"
)

// Run runs the worker until ctx ends, then shuts down gracefully within cfg.ShutdownTimeout.
func Run(ctx context.Context, cfg config.Config, version string, logOut io.Writer) error {
	log, err := obs.NewLogger(logOut, "worker", cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	dialog, err := LoadFlow(cfg.FlowFile)
	if err != nil {
		return err
	}
	log.Info("starting", "version", version, "worker", cfg.WorkerID, "partitions", cfg.Partitions,
		"telnyx_api", cfg.TelnyxAPIURL, "flow", dialog.Name(), "flow_version", dialog.Version(),
		"max_inflight", cfg.MaxInFlight, "reply_rate_limit", cfg.RepliesPerMinute)

	shutdownTracing, err := obs.SetupTracing(ctx, "smsconv-worker")
	if err != nil {
		return err
	}
	defer func() { _ = shutdownTracing(context.Background()) }()
	reg := obs.NewRegistry()
	metrics := obs.NewWorkerMetrics(reg)

	rdb, err := connect.Redis(cfg.RedisURL, log)
	if err != nil {
		return err
	}
	defer rdb.Close()
	st := store.New(rdb, store.Options{Prefix: cfg.RedisPrefix, RepliesPerMinute: cfg.RepliesPerMinute})

	nc, js, err := connect.NATS(cfg.NATSURL, "worker-"+cfg.WorkerID, log)
	if err != nil {
		return err
	}
	defer nc.Close()

	startCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := connect.WaitConnected(startCtx, nc); err != nil {
		return err
	}
	so := events.DefaultStreamOptions()
	so.Partitions, so.AckWait = cfg.Partitions, cfg.AckWait
	so.UpdateStreams = false // the ingress owns the streams' limits; create them if missing
	if err := retry(startCtx, log, "ensure streams", func() error { return events.EnsureStreams(startCtx, js, so) }); err != nil {
		return err
	}

	proc := &processor.Processor{
		Store:  st,
		Dialog: dialog,
		Sender: processor.Instrument(telnyx.NewClient(telnyx.ClientOptions{BaseURL: cfg.TelnyxAPIURL,
			APIKey: cfg.TelnyxAPIKey, Timeout: cfg.TelnyxTimeout}), metrics),
		MessagingProfileID: cfg.MessagingProfileID,
		Log:                log,
		Metrics:            metrics,
	}
	if cfg.CacheSize > 0 {
		proc.Cache = processor.NewCache(cfg.CacheSize)
	}
	runner, err := consumer.New(startCtx, js, proc, consumer.Options{MaxInFlight: cfg.MaxInFlight,
		MaxAttempts: cfg.MaxAttempts, AckWait: cfg.AckWait, Metrics: metrics}, log)
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}

	srv := &http.Server{Addr: cfg.MetricsAddr, Handler: opsHandler(reg), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second}
	srvErr := make(chan error, 1)
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			srvErr <- fmt.Errorf("metrics server: %w", err)
		}
	}()

	rc := &receipts.Consumer{Store: st, Log: log}
	if err := rc.Start(startCtx, js); err != nil {
		return fmt.Errorf("receipts consumer: %w", err)
	}

	group := membership.New(nc, cfg.WorkerID, cfg.Partitions, cfg.Heartbeat, log)
	memberCtx, stopMembership := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { defer bg.Done(); _ = group.Run(memberCtx, runner.Assign) }()
	go func() { defer bg.Done(); runner.Run(memberCtx) }()
	log.Info("worker ready")

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-srvErr:
	}

	// Stop in reverse: leave the group (others take the partitions), finish in-flight work, then close.
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, scancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer scancel()
	stopMembership()
	bg.Wait()
	if err := runner.Stop(sctx); err != nil {
		log.Warn("in-flight work did not finish in time; it will be redelivered", "err", err)
	}
	rc.Stop()
	_ = srv.Shutdown(sctx)
	if err := nc.Drain(); err != nil {
		log.Warn("nats drain", "err", err)
	}
	log.Info("stopped")
	return runErr
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

// retry runs f until it succeeds or ctx ends, logging each failure once.
func retry(ctx context.Context, log *slog.Logger, what string, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		log.Warn(what+" failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, err)
		case <-time.After(time.Second):
		}
	}
}
