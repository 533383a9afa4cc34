// Package app wires the ingress: connections, streams and the HTTP server, started in order and stopped in
// reverse.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/smsconv/smsconv/services/ingress/internal/api"
	"github.com/smsconv/smsconv/services/ingress/internal/config"
	"github.com/smsconv/smsconv/shared/connect"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/obs"
	"github.com/smsconv/smsconv/shared/store"
	"github.com/smsconv/smsconv/shared/telnyx"
)

// Run serves until ctx ends, then shuts down within cfg.ShutdownTimeout.
func Run(ctx context.Context, cfg config.Config, version string, logOut io.Writer) error {
	log, err := obs.NewLogger(logOut, "ingress", cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	log.Info("starting", "version", version, "addr", cfg.HTTPAddr, "public_keys", len(cfg.PublicKeys),
		"admin_api", cfg.AdminToken != "", "partitions", cfg.Partitions)

	shutdownTracing, err := obs.SetupTracing(ctx, "smsconv-ingress")
	if err != nil {
		return err
	}
	defer func() { _ = shutdownTracing(context.Background()) }()
	reg := obs.NewRegistry()

	rdb, err := connect.Redis(cfg.RedisURL, log)
	if err != nil {
		return err
	}
	defer rdb.Close()
	nc, js, err := connect.NATS(cfg.NATSURL, "ingress", log)
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
	so.Partitions, so.MaxMsgs, so.MaxBytes = cfg.Partitions, cfg.StreamMaxMsgs, cfg.StreamMaxBytes
	so.UpdateConsumers = false // the workers own the consumers' settings (AckWait); create them if missing
	for {
		err := events.EnsureStreams(startCtx, js, so)
		if err == nil {
			break
		}
		if errors.Is(err, events.ErrPartitionMismatch) || startCtx.Err() != nil {
			return err
		}
		log.Warn("ensure streams failed; retrying", "err", err)
		time.Sleep(time.Second)
	}

	e := api.New(api.Deps{
		NC: nc, JS: js, Log: log,
		Store:          store.New(rdb, store.Options{Prefix: cfg.RedisPrefix}),
		Verifier:       telnyx.NewVerifier(cfg.PublicKeys, cfg.WebhookTolerance),
		DefaultFrom:    cfg.TelnyxPhoneNumber,
		AdminToken:     cfg.AdminToken,
		WebhookMaxBody: cfg.WebhookMaxBody,
		PublishTimeout: cfg.PublishTimeout,
		Metrics:        obs.NewIngressMetrics(reg),
		Gatherer:       reg,
	})
	srv := &http.Server{Addr: cfg.HTTPAddr, Handler: e, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 15 * time.Second, IdleTimeout: 90 * time.Second,
		MaxHeaderBytes: 64 << 10}
	srvErr := make(chan error, 1)
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			srvErr <- fmt.Errorf("http server: %w", err)
		}
	}()
	log.Info("ingress ready", "addr", cfg.HTTPAddr)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-srvErr:
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, scancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if err := nc.Drain(); err != nil {
		log.Warn("nats drain", "err", err)
	}
	log.Info("stopped")
	return runErr
}
