// Package app assembles and runs the sandbox server: the fake Telnyx API, the simulator and the HTTP server.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/smsconv/smsconv/services/sandbox/internal/api"
	"github.com/smsconv/smsconv/services/sandbox/internal/config"
	"github.com/smsconv/smsconv/services/sandbox/internal/simulator"
	"github.com/smsconv/smsconv/shared/platform"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
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

// Run listens on cfg.Addr and serves until ctx ends, then shuts down gracefully within
// cfg.ShutdownTimeout.
func Run(ctx context.Context, cfg config.Config, version string, logOut io.Writer) error {
	log, err := cfg.Logger(logOut, "sandbox")
	if err != nil {
		return err
	}
	return serve(ctx, nil, cfg, version, log)
}

// Serve serves the sandbox on ln (a test's listener) until ctx ends. It closes ln.
func Serve(ctx context.Context, ln net.Listener, cfg config.Config, log *slog.Logger) error {
	return serve(ctx, ln, cfg, "test", log)
}

func serve(ctx context.Context, ln net.Listener, cfg config.Config, version string, log *slog.Logger) error {
	svc := platform.New("sandbox", version, log, cfg.ShutdownTimeout, cfg)
	signer, err := newSigner(cfg, log)
	if err != nil {
		if ln != nil {
			_ = ln.Close()
		}
		return err
	}
	fake := fakeapi.NewFake(fakeapi.Options{APIKey: cfg.APIKey, Latency: cfg.Latency, PoolNumber: cfg.PhoneNumber,
		RateLimits: cfg.RateLimits()})
	defaults := api.Defaults{FailureRate: cfg.FailureRate, FailureStatus: cfg.FailureStatus,
		FailureCode: cfg.FailureCode, Latency: cfg.Latency}
	defaults.Apply(fake)
	sim := simulator.New(fake, signer, simulator.Settings{
		WebhookURL: cfg.IngressWebhookURL, OurNumber: cfg.PhoneNumber, UserNumber: cfg.UserNumber,
		Receipts: cfg.Receipts, ReceiptDelay: cfg.ReceiptDelay, WebhookTimeout: cfg.WebhookTimeout,
	}, log)

	web := svc.HTTP(platform.HTTP{
		Name: "http", Addr: cfg.Addr, Listener: ln,
		Server: &http.Server{ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
			WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes},
		Handler: func() (http.Handler, error) { return api.New(fake, sim, signer.PublicKeyBase64(), defaults, log), nil },
		OnListen: func(addr net.Addr) {
			log.Info("fake Telnyx API listening", "component", "app", "api_base_url", "http://"+addr.String()+"/v2")
		},
	})
	stopHTTP := web.Stop
	// End reply waits and pending receipts first: a /sandbox/inbound request waiting up to a minute for a reply
	// would otherwise hold the shutdown until its deadline.
	web.Stop = func(ctx context.Context) error { sim.Close(); return stopHTTP(ctx) }
	if err := svc.Run(ctx, web); err != nil {
		sim.Close()
		return err
	}
	return nil
}

// newSigner uses the configured key, or generates one and says which public key the ingress needs.
func newSigner(cfg config.Config, log *slog.Logger) (*fakeapi.Signer, error) {
	if cfg.Seed != nil {
		s, err := fakeapi.NewSigner(cfg.Seed)
		if err != nil {
			return nil, fmt.Errorf("SANDBOX_PRIVATE_KEY: %w", err)
		}
		log.Info("signing webhooks with SANDBOX_PRIVATE_KEY; the ingress verifies them with TELNYX_PUBLIC_KEY="+
			s.PublicKeyBase64(), "component", "app")
		return s, nil
	}
	s, err := fakeapi.GenerateSigner()
	if err != nil {
		return nil, err
	}
	// The key goes in the message, not an attribute, so the text handler leaves it copyable as VAR=value.
	log.Warn("SANDBOX_PRIVATE_KEY is not set: generated a key for this run; configure the ingress with TELNYX_PUBLIC_KEY="+
		s.PublicKeyBase64(), "component", "app")
	return s, nil
}
