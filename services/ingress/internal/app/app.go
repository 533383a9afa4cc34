// Package app wires the ingress: connections, streams and the HTTP server, started in order and stopped in
// reverse (shared/platform).
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/smsconv/smsconv/services/ingress/internal/api"
	"github.com/smsconv/smsconv/services/ingress/internal/config"
	"github.com/smsconv/smsconv/services/ingress/internal/connlimit"
	"github.com/smsconv/smsconv/services/ingress/internal/console"
	"github.com/smsconv/smsconv/services/ingress/internal/metrics"
	"github.com/smsconv/smsconv/shared/connect"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/obs"
	"github.com/smsconv/smsconv/shared/platform"
	"github.com/smsconv/smsconv/shared/store"
	"github.com/smsconv/smsconv/shared/telnyx"
)

// Run serves until ctx ends, then shuts down within cfg.ShutdownTimeout.
func Run(ctx context.Context, cfg config.Config, version string, logOut io.Writer) error {
	log, err := cfg.Logger(logOut, "ingress")
	if err != nil {
		return err
	}
	svc := platform.New("ingress", version, log, cfg.ShutdownTimeout, cfg)
	conns := connect.For(svc)

	so := events.DefaultStreamOptions()
	so.Partitions, so.MaxMsgs, so.MaxBytes, so.Replicas = cfg.Partitions, cfg.StreamMaxMsgs, cfg.StreamMaxBytes, cfg.NATSReplicas

	srv := server(cfg)
	return svc.Run(ctx,
		obs.Tracing("smsconv-ingress"),
		conns.RedisComponent(cfg.Queue),
		conns.NATSComponent(cfg.Queue, "ingress"),
		exitWhenClosed(svc, conns),
		conns.StreamsComponent(so),
		svc.HTTP(platform.HTTP{Name: "http", Addr: cfg.HTTPAddr, Server: srv,
			Handler: func() (http.Handler, error) { return handler(ctx, cfg, conns, log, srv) },
			Wrap:    func(ln net.Listener) net.Listener { return connlimit.New(ln, cfg.MaxConns, cfg.MaxConnsPerIP) }}),
	)
}

// handler is the API and the console over the connections, built once they are up. The console's live
// streams end when the server starts shutting down, so they do not hold the shutdown up.
func handler(ctx context.Context, cfg config.Config, conns *connect.Conns, log *slog.Logger, srv *http.Server) (http.Handler, error) {
	reg := obs.NewRegistry()
	st := store.New(conns.Redis, store.Options{Prefix: cfg.RedisPrefix})
	con, err := console.New(console.Deps{Store: st, NC: conns.NC, JS: conns.JS, Log: log,
		AdminToken: cfg.AdminToken, DefaultOur: cfg.OurNumbers.Default()})
	if err != nil {
		return nil, err
	}
	con.Start(ctx)
	srv.RegisterOnShutdown(con.Close)
	e := api.New(api.Deps{
		NC: conns.NC, JS: conns.JS, Log: log,
		Store:          st,
		Verifier:       telnyx.NewVerifier(cfg.PublicKeys, cfg.WebhookTolerance),
		DefaultFrom:    cfg.OurNumbers.Default(),
		OurNumbers:     cfg.OurNumbers,
		AdminToken:     cfg.AdminToken,
		WebhookMaxBody: cfg.WebhookMaxBody,
		PublishTimeout: cfg.PublishTimeout,
		Metrics:        metrics.New(reg),
		Gatherer:       reg,
	})
	con.Register(e)
	return e, nil
}

// exitWhenClosed makes a NATS connection closed for good (the server dropped the client for a protocol
// error; nats.go does not reconnect after that) fail the service, so the process exits non-zero and is
// restarted with a new connection, instead of answering 503 forever. A close during shutdown fails nothing:
// Run is no longer waiting for failures then.
func exitWhenClosed(svc *platform.Service, conns *connect.Conns) platform.Component {
	return platform.Component{Name: "nats-watch", Start: func(context.Context) error {
		conns.NC.SetClosedHandler(func(nc *nats.Conn) {
			cause := nc.LastError()
			if cause == nil {
				cause = nats.ErrConnectionClosed
			}
			svc.Fail(fmt.Errorf("nats connection closed for good: exiting to be restarted: %w", cause))
		})
		return nil
	}}
}

// server holds the HTTP limits: a webhook must be answered within Telnyx's 2 s, so slow clients are cut, and
// an idle keep-alive connection is closed soon (HTTP_IDLE_TIMEOUT) so idle connections cannot pile up to the
// connection caps.
func server(cfg config.Config) *http.Server {
	return &http.Server{ReadHeaderTimeout: cfg.HeaderTimeout, ReadTimeout: 10 * time.Second,
		WriteTimeout: 15 * time.Second, IdleTimeout: cfg.IdleTimeout, MaxHeaderBytes: 64 << 10}
}
