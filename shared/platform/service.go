package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// DefaultStartTimeout bounds the start of all components, waiting for NATS and Redis included.
const DefaultStartTimeout = 60 * time.Second

// Component is one part of a running service.
type Component struct {
	// Name names the component in logs and errors.
	Name string
	// Start starts it and returns once it is ready (a listener bound, a consumer subscribed). Its ctx ends
	// when starting is over: work that outlives Start needs its own context, ended by Stop. A failure of
	// such work after Start reports through Service.Fail.
	Start func(ctx context.Context) error
	// Stop stops it within ctx's deadline (the shutdown deadline); nil means nothing to stop.
	Stop func(ctx context.Context) error
}

// Service runs one service's components: in order, each after the previous one is ready; "ready" is logged
// when all are; on shutdown, or when one fails, the started ones are stopped in reverse.
type Service struct {
	// Name is the service ("ingress"); Log its logger.
	Name string
	Log  *slog.Logger
	// ShutdownTimeout bounds the stop of all components together.
	ShutdownTimeout time.Duration
	// StartTimeout bounds the start of all components; zero means DefaultStartTimeout.
	StartTimeout time.Duration

	failed chan error
	mu     sync.Mutex
	ready  []any // key-value pairs for the ready line: the bound addresses
}

// New returns the service and logs "starting" once, with its version and its configuration (cfg, a struct
// with env tags) with secrets masked.
func New(name, version string, log *slog.Logger, shutdownTimeout time.Duration, cfg any) *Service {
	log.Info("starting", "component", "platform", "version", version, "config", dump(cfg))
	return &Service{Name: name, Log: log, ShutdownTimeout: shutdownTimeout, failed: make(chan error, 1)}
}

// Fail reports that a started component can no longer work; the service then shuts down and Run returns
// err. Only the first failure is kept.
func (s *Service) Fail(err error) {
	select {
	case s.failed <- err:
	default:
	}
}

// Run starts components in order and serves until ctx ends or a component fails, then stops the started
// ones in reverse. A component that fails to start stops the ones before it (in reverse) and is the error.
func (s *Service) Run(ctx context.Context, components ...Component) error {
	timeout := s.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	startCtx, cancel := context.WithTimeout(ctx, timeout)
	started := make([]Component, 0, len(components))
	for _, c := range components {
		if err := c.Start(startCtx); err != nil {
			cancel()
			s.stop(started)
			if ctx.Err() != nil {
				s.Log.Info("stopped before ready", "component", "platform", "while", c.Name)
				return nil
			}
			return fmt.Errorf("start %s: %w", c.Name, err)
		}
		started = append(started, c)
	}
	cancel()
	s.mu.Lock()
	s.Log.Info(s.Name+" ready", append([]any{"component", "platform"}, s.ready...)...)
	s.mu.Unlock()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-s.failed: // returned, and so reported, once stopped
	}
	s.Log.Info("shutting down", "component", "platform", "timeout", s.ShutdownTimeout)
	s.stop(started)
	s.Log.Info("stopped", "component", "platform")
	return runErr
}

// stop stops started in reverse, all within one shutdown deadline; a failed stop is logged and the others
// still run, so connections are closed even when in-flight work overran.
func (s *Service) stop(started []Component) {
	ctx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
	defer cancel()
	for i := len(started) - 1; i >= 0; i-- {
		c := started[i]
		if c.Stop == nil {
			continue
		}
		if err := c.Stop(ctx); err != nil {
			s.Log.Warn("stop "+c.Name, "component", "platform", "err", err)
		}
	}
}

// HTTP is an HTTP server component.
type HTTP struct {
	// Name names it in logs; the ready line shows its bound address under this key.
	Name string
	// Addr is where it listens, unless Listener is set (a test's, already bound).
	Addr     string
	Listener net.Listener
	// Server holds the timeouts; its Handler is set from Handler at start.
	Server *http.Server
	// Handler builds the handler at start, once the components before it are up.
	Handler func() (http.Handler, error)
	// OnListen, if set, is told the bound address (before "ready").
	OnListen func(net.Addr)
	// Wrap, if set, wraps the bound listener (a connection cap) before serving.
	Wrap func(net.Listener) net.Listener
}

// HTTP returns the component serving h: Start binds the listener, so the port accepts connections before
// "ready" is logged, then serves; Stop shuts down gracefully (in-flight requests finish) within the
// shutdown deadline. A serve error after start fails the service.
func (s *Service) HTTP(h HTTP) Component {
	return Component{
		Name: h.Name,
		Start: func(ctx context.Context) error {
			ln := h.Listener
			handler, err := h.Handler()
			if err != nil {
				if ln != nil {
					_ = ln.Close()
				}
				return err
			}
			if ln == nil {
				var lc net.ListenConfig
				if ln, err = lc.Listen(ctx, "tcp", h.Addr); err != nil {
					return fmt.Errorf("listen on %s: %w", h.Addr, err)
				}
			}
			if h.Wrap != nil {
				ln = h.Wrap(ln)
			}
			h.Server.Handler = handler
			if h.Server.ErrorLog == nil {
				h.Server.ErrorLog = slog.NewLogLogger(s.Log.With("component", h.Name).Handler(), slog.LevelWarn)
			}
			s.mu.Lock()
			s.ready = append(s.ready, h.Name, ln.Addr().String())
			s.mu.Unlock()
			if h.OnListen != nil {
				h.OnListen(ln.Addr())
			}
			go func() {
				if err := h.Server.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
					s.Fail(fmt.Errorf("%s server: %w", h.Name, err))
				}
			}()
			return nil
		},
		Stop: func(ctx context.Context) error {
			if err := h.Server.Shutdown(ctx); err != nil {
				_ = h.Server.Close()
				return fmt.Errorf("http shutdown: %w", err)
			}
			return nil
		},
	}
}
