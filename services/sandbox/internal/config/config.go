// Package config reads the sandbox's settings from environment variables and validates them.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/smsconv/smsconv/services/sandbox/internal/simulator"
)

// ErrInvalid is returned for a configuration that cannot be used; the message names the variable.
var ErrInvalid = errors.New("invalid configuration")

// Config is the sandbox's whole configuration.
type Config struct {
	// Addr is where the HTTP server listens.
	Addr string `env:"SANDBOX_ADDR" envDefault:":8090"`
	// APIKey, if set, is the only Bearer key the fake Telnyx API accepts; otherwise any key is.
	APIKey string `env:"SANDBOX_API_KEY"`
	// Latency delays every answer of the fake API.
	Latency time.Duration `env:"SANDBOX_LATENCY" envDefault:"0s"`
	// FailureRate is the fraction of sends that fail at random with FailureStatus (and FailureCode, derived from
	// the status when empty).
	FailureRate   float64 `env:"SANDBOX_FAILURE_RATE" envDefault:"0"`
	FailureStatus int     `env:"SANDBOX_FAILURE_STATUS" envDefault:"500"`
	FailureCode   string  `env:"SANDBOX_FAILURE_CODE"`
	// PrivateKey is the base64 32-byte Ed25519 seed webhooks are signed with; empty generates one per start.
	PrivateKey string `env:"SANDBOX_PRIVATE_KEY"`
	// IngressWebhookURL receives the webhooks (inbound messages and delivery receipts).
	IngressWebhookURL string `env:"INGRESS_WEBHOOK_URL" envDefault:"http://127.0.0.1:8080/webhooks/sms"`
	// PhoneNumber is our Telnyx number: where simulated users text by default.
	PhoneNumber string `env:"TELNYX_PHONE_NUMBER" envDefault:"+12125550100"`
	// UserNumber is the simulated user's number when a request names none.
	UserNumber string `env:"SANDBOX_USER_NUMBER" envDefault:"+13125550123"`
	// Receipts turns on message.sent and message.finalized webhooks for every accepted send.
	Receipts bool `env:"SANDBOX_RECEIPTS" envDefault:"true"`
	// ReceiptDelay is the pause before each receipt, as a carrier takes a moment to deliver.
	ReceiptDelay time.Duration `env:"SANDBOX_RECEIPT_DELAY" envDefault:"200ms"`
	// WebhookTimeout bounds each webhook POST; Telnyx itself gives up after 2 s.
	WebhookTimeout time.Duration `env:"SANDBOX_WEBHOOK_TIMEOUT" envDefault:"2s"`
	// ShutdownTimeout bounds the graceful shutdown.
	ShutdownTimeout time.Duration `env:"SANDBOX_SHUTDOWN_TIMEOUT" envDefault:"10s"`
	LogLevel        string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat       string        `env:"LOG_FORMAT" envDefault:"text"`

	// Seed is PrivateKey decoded, set by Load.
	Seed []byte `env:"-"`
}

// Load reads the configuration from environ (as os.Environ returns it) and validates it.
func Load(environ []string) (Config, error) {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Environment: vars})
	if err != nil {
		return Config{}, fmt.Errorf("%w: %s", ErrInvalid, describe(err))
	}
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// describe rewrites the env library's errors, which name Go fields, to name the environment variables.
func describe(err error) string {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err.Error()
	}
	msgs := make([]string, 0, len(agg.Errors))
	t := reflect.TypeFor[Config]()
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := t.FieldByName(pe.Name); ok {
				msgs = append(msgs, fmt.Sprintf("%s: cannot parse as %s: %v", f.Tag.Get("env"), pe.Type, pe.Err))
				continue
			}
		}
		msgs = append(msgs, e.Error())
	}
	return strings.Join(msgs, "; ")
}

func (c *Config) validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if c.Addr == "" {
		bad("SANDBOX_ADDR must not be empty (e.g. :8090)")
	}
	if c.Latency < 0 || c.Latency > time.Minute {
		bad("SANDBOX_LATENCY must be between 0s and 1m, got %s", c.Latency)
	}
	if c.FailureRate < 0 || c.FailureRate > 1 {
		bad("SANDBOX_FAILURE_RATE must be between 0 and 1, got %g", c.FailureRate)
	}
	if c.FailureStatus < 400 || c.FailureStatus > 599 {
		bad("SANDBOX_FAILURE_STATUS must be an HTTP error status (400-599), got %d", c.FailureStatus)
	}
	if c.PrivateKey != "" {
		seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(c.PrivateKey))
		switch {
		case err != nil:
			bad("SANDBOX_PRIVATE_KEY must be base64 (run `sandbox keygen`): %v", err)
		case len(seed) != 32:
			bad("SANDBOX_PRIVATE_KEY must decode to a 32-byte Ed25519 seed, got %d bytes (run `sandbox keygen`)", len(seed))
		default:
			c.Seed = seed
		}
	}
	if u, err := url.Parse(c.IngressWebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("INGRESS_WEBHOOK_URL must be an http(s) URL, got %q", c.IngressWebhookURL)
	}
	if !simulator.PlausibleNumber(c.PhoneNumber) {
		bad("TELNYX_PHONE_NUMBER must be an E.164 number like +12125550100, got %q", c.PhoneNumber)
	}
	if !simulator.PlausibleNumber(c.UserNumber) {
		bad("SANDBOX_USER_NUMBER must be an E.164 number like +13125550123, got %q", c.UserNumber)
	}
	if c.ReceiptDelay < 0 {
		bad("SANDBOX_RECEIPT_DELAY must not be negative, got %s", c.ReceiptDelay)
	}
	if c.WebhookTimeout <= 0 {
		bad("SANDBOX_WEBHOOK_TIMEOUT must be positive, got %s", c.WebhookTimeout)
	}
	if c.ShutdownTimeout <= 0 {
		bad("SANDBOX_SHUTDOWN_TIMEOUT must be positive, got %s", c.ShutdownTimeout)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		bad("LOG_LEVEL must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("LOG_FORMAT must be text or json, got %q", c.LogFormat)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}

// Level returns the parsed LOG_LEVEL (validated by Load).
func (c Config) Level() slog.Level {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	return level
}

// LogValue logs the configuration with the secrets masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("api_key", mask(c.APIKey)),
		slog.Duration("latency", c.Latency),
		slog.Float64("failure_rate", c.FailureRate),
		slog.Int("failure_status", c.FailureStatus),
		slog.String("ingress_webhook_url", c.IngressWebhookURL),
		slog.Bool("receipts", c.Receipts),
		slog.Duration("receipt_delay", c.ReceiptDelay),
		slog.Bool("private_key_set", c.PrivateKey != ""),
	)
}

func mask(secret string) string {
	if secret == "" {
		return "(any)"
	}
	return "***"
}
