// Package api is the ingress's HTTP surface: the Telnyx webhook, the send and inspection API for operators,
// dead letters, and health. Handlers decode (with a body limit), validate, call, and respond; one error
// handler writes every error as {"error": "..."}.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsconv/smsconv/services/ingress/internal/metrics"
	"github.com/smsconv/smsconv/shared/obs"
	"github.com/smsconv/smsconv/shared/phone"
	"github.com/smsconv/smsconv/shared/store"
	"github.com/smsconv/smsconv/shared/telnyx"
)

// Deps are what the handlers use.
type Deps struct {
	NC       *nats.Conn
	JS       jetstream.JetStream
	Store    *store.Store
	Verifier *telnyx.Verifier
	Log      *slog.Logger
	// DefaultFrom is the number POST /sms/send sends from when the request names none.
	DefaultFrom string
	// OurNumbers are our Telnyx numbers (TELNYX_PHONE_NUMBER): an inbound is answered from the one it was
	// sent to, and only if it was sent to one; empty (development), to[0] is ours.
	OurNumbers phone.Numbers
	// AdminToken guards the operator endpoints; empty disables them.
	AdminToken string
	// WebhookMaxBody limits webhook bodies (413 past it).
	WebhookMaxBody int64
	// PublishTimeout bounds the wait for JetStream's acknowledgement.
	PublishTimeout time.Duration
	// Now is the clock (tests).
	Now func() time.Time
	// Metrics and Gatherer serve GET /metrics; a private registry is used when nil.
	Metrics  *metrics.Metrics
	Gatherer prometheus.Gatherer
}

// Server holds the handlers.
type Server struct {
	d     Deps
	token [32]byte
}

// New returns the Echo instance serving the API.
func New(d Deps) *echo.Echo {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.PublishTimeout <= 0 {
		d.PublishTimeout = 1500 * time.Millisecond
	}
	if d.Metrics == nil {
		reg := prometheus.NewRegistry()
		d.Metrics, d.Gatherer = metrics.New(reg), reg
	}
	s := &Server{d: d, token: sha256.Sum256([]byte(d.AdminToken))}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(middleware.Recover())
	e.Use(s.accessLog)

	e.GET("/healthz", s.healthz)
	e.GET("/metrics", echo.WrapHandler(obs.Handler(d.Gatherer)))
	e.GET("/readyz", s.readyz)
	e.POST("/webhooks/sms", s.webhook)

	admin := e.Group("", s.requireAdmin)
	admin.POST("/sms/send", s.send, middleware.BodyLimit("64K"))
	admin.GET("/messages/:id", s.getMessage)
	admin.GET("/unknown-outcomes", s.listUnknown)
	admin.GET("/conversations", s.listConversations)
	admin.GET("/conversations/:phone", s.getConversation)
	admin.GET("/dead-letters", s.listDeadLetters)
	admin.POST("/dead-letters/:id/replay", s.replayDeadLetter)
	return e
}

// errorHandler writes every error as JSON {"error": "..."} with the right status.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code := http.StatusInternalServerError
	msg := "internal error"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code = he.Code
		switch m := he.Message.(type) {
		case string:
			msg = m
		case error:
			msg = m.Error()
		default:
			msg = strings.ToLower(http.StatusText(code))
		}
		if code == http.StatusRequestEntityTooLarge {
			msg = "request body too large"
		}
	} else {
		s.d.Log.Error("request failed", "component", "api", "path", c.Path(), "err", err)
	}
	body := map[string]any{"error": msg}
	if code == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", "5")
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(code)
		return
	}
	_ = c.JSON(code, body)
}

// accessLog logs each request by route (never the raw path: it may hold a phone number).
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		lvl := slog.LevelDebug
		if status >= 500 {
			lvl = slog.LevelWarn
		}
		s.d.Log.Log(c.Request().Context(), lvl, "http request", "component", "api", "method", c.Request().Method,
			"route", c.Path(), "status", status, "duration_ms", float64(time.Since(start).Microseconds())/1000)
		return nil
	}
}

// requireAdmin checks "Authorization: Bearer <ADMIN_TOKEN>" in constant time.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.d.AdminToken == "" {
			return echo.NewHTTPError(http.StatusForbidden, "admin API disabled: set ADMIN_TOKEN to enable it")
		}
		auth := c.Request().Header.Get(echo.HeaderAuthorization)
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if !ok || subtle.ConstantTimeCompare(sum[:], s.token[:]) != 1 {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="smsconv"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "missing or invalid admin token (Authorization: Bearer ...)")
		}
		return next(c)
	}
}

// storeUnavailable counts a failed Redis operation and answers 503.
func (s *Server) storeUnavailable(op string) error {
	s.d.Metrics.RedisError(op)
	return echo.NewHTTPError(http.StatusServiceUnavailable, "store unavailable, retry later")
}

// healthz is the liveness probe: 503 once the NATS connection is closed for good (nats.go gives up after a
// protocol error the server closed it for), which no waiting mends; the process then needs a restart. A
// connection that is only reconnecting is alive (readyz reports it).
func (s *Server) healthz(c echo.Context) error {
	if s.d.NC != nil && s.d.NC.IsClosed() {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "nats connection closed", "nats": "closed"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz reports whether NATS and Redis are reachable.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	res := map[string]string{"nats": "ok", "redis": "ok", "status": "ok"}
	code := http.StatusOK
	if s.d.NC == nil || !s.d.NC.IsConnected() {
		res["nats"], res["status"], code = "unavailable", "unavailable", http.StatusServiceUnavailable
	}
	if err := s.d.Store.Ping(ctx); err != nil {
		res["redis"], res["status"], code = "unavailable", "unavailable", http.StatusServiceUnavailable
	}
	return c.JSON(code, res)
}
