// Package app assembles and runs the sandbox server: the fake Telnyx API, the simulator and the HTTP server.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/smsconv/smsconv/services/sandbox/internal/api"
	"github.com/smsconv/smsconv/services/sandbox/internal/config"
	"github.com/smsconv/smsconv/services/sandbox/internal/simulator"
	"github.com/smsconv/smsconv/shared/telnyx/telnyxtest"
)

// HTTP server limits. WriteTimeout must outlast the longest reply wait of /sandbox/inbound plus the longest
// injected latency.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = simulator.MaxWait + time.Minute + 10*time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// Run listens on cfg.Addr and serves until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	return Serve(ctx, ln, cfg, log)
}

// Serve serves the sandbox on ln until ctx ends. It closes ln.
func Serve(ctx context.Context, ln net.Listener, cfg config.Config, log *slog.Logger) error {
	signer, err := newSigner(cfg, log)
	if err != nil {
		_ = ln.Close()
		return err
	}
	fake := telnyxtest.NewFake(telnyxtest.Options{APIKey: cfg.APIKey, Latency: cfg.Latency, PoolNumber: cfg.PhoneNumber})
	defaults := api.Defaults{FailureRate: cfg.FailureRate, FailureStatus: cfg.FailureStatus,
		FailureCode: cfg.FailureCode, Latency: cfg.Latency}
	defaults.Apply(fake)
	sim := simulator.New(fake, signer, simulator.Settings{
		WebhookURL: cfg.IngressWebhookURL, OurNumber: cfg.PhoneNumber, UserNumber: cfg.UserNumber,
		Receipts: cfg.Receipts, ReceiptDelay: cfg.ReceiptDelay, WebhookTimeout: cfg.WebhookTimeout,
	}, log)

	srv := &http.Server{
		Handler:           api.New(fake, sim, signer.PublicKeyBase64(), defaults, log),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("sandbox listening", "component", "app", "addr", ln.Addr().String(),
		"api_base_url", "http://"+ln.Addr().String()+"/v2", "config", cfg)

	select {
	case err := <-served:
		sim.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "component", "app")
	// End reply waits and pending receipts first: a /sandbox/inbound request waiting up to a minute for a reply
	// would otherwise hold the shutdown until its deadline.
	sim.Close()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped", "component", "app")
	return nil
}

// newSigner uses the configured key, or generates one and says which public key the ingress needs.
func newSigner(cfg config.Config, log *slog.Logger) (*telnyxtest.Signer, error) {
	if cfg.Seed != nil {
		s, err := telnyxtest.NewSigner(cfg.Seed)
		if err != nil {
			return nil, fmt.Errorf("SANDBOX_PRIVATE_KEY: %w", err)
		}
		log.Info("signing webhooks with SANDBOX_PRIVATE_KEY; the ingress verifies them with TELNYX_PUBLIC_KEY="+
			s.PublicKeyBase64(), "component", "app")
		return s, nil
	}
	s, err := telnyxtest.GenerateSigner()
	if err != nil {
		return nil, err
	}
	// The key goes in the message, not an attribute, so the text handler leaves it copyable as VAR=value.
	log.Warn("SANDBOX_PRIVATE_KEY is not set: generated a key for this run; configure the ingress with TELNYX_PUBLIC_KEY="+
		s.PublicKeyBase64(), "component", "app")
	return s, nil
}
