// Package config reads the sandbox's settings from environment variables and validates them.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/smsconv/smsconv/services/sandbox/internal/simulator"
	"github.com/smsconv/smsconv/shared/envconfig"
	"github.com/smsconv/smsconv/shared/platform"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
)

// ErrInvalid is returned for a configuration that cannot be used; the message names the variable.
var ErrInvalid = errors.New("invalid configuration")

// Config is the sandbox's whole configuration. Of the configuration the services share it has only the
// logging (platform.Logging, text by default): its shutdown bound is its own SANDBOX_SHUTDOWN_TIMEOUT.
type Config struct {
	// Addr is where the HTTP server listens.
	Addr string `env:"SANDBOX_ADDR" envDefault:":8090" desc:"listen address of the fake Telnyx API"`
	// APIKey, if set, is the only Bearer key the fake Telnyx API accepts; otherwise any key is.
	APIKey string `env:"SANDBOX_API_KEY" secret:"true" desc:"the only Bearer key the fake API accepts; unset, any key"`
	// Latency delays every answer of the fake API.
	Latency time.Duration `env:"SANDBOX_LATENCY" envDefault:"0s" desc:"delay of every answer of the fake API (0s..1m)"`
	// FailureRate is the fraction of sends that fail at random with FailureStatus (and FailureCode, derived from
	// the status when empty).
	FailureRate   float64 `env:"SANDBOX_FAILURE_RATE" envDefault:"0" desc:"fraction of sends that fail at random (0..1)"`
	FailureStatus int     `env:"SANDBOX_FAILURE_STATUS" envDefault:"500" desc:"HTTP status of a random failure"`
	FailureCode   string  `env:"SANDBOX_FAILURE_CODE" desc:"Telnyx error code of a random failure; unset, derived from the status"`
	// RateAccount, RatePerNumber and RateQueue make the fake API enforce Telnyx's throughput (fakeapi.RateLimits);
	// off by default.
	RateAccount   float64       `env:"SANDBOX_RATE_ACCOUNT" envDefault:"0" desc:"segments per second the fake API accepts for the account (429, 10011 past it); 0 for no limit"`
	RatePerNumber float64       `env:"SANDBOX_RATE_PER_NUMBER" envDefault:"0" desc:"segments per second the fake API accepts per sending number; 0 for no limit"`
	RateQueue     time.Duration `env:"SANDBOX_RATE_QUEUE" envDefault:"0s" desc:"traffic over SANDBOX_RATE_PER_NUMBER queued per sender before 429 with 40318; 0s answers 10011 at once"`
	// PrivateKey is the base64 32-byte Ed25519 seed webhooks are signed with; empty generates one per start.
	PrivateKey string `env:"SANDBOX_PRIVATE_KEY" secret:"true" desc:"base64 Ed25519 seed webhooks are signed with; unset, one per start (sandbox keygen)"`
	// IngressWebhookURL receives the webhooks (inbound messages and delivery receipts).
	IngressWebhookURL string `env:"INGRESS_WEBHOOK_URL" envDefault:"http://127.0.0.1:8080/webhooks/sms" desc:"where the signed webhooks go"`
	// PhoneNumber is our Telnyx number: where simulated users text by default.
	PhoneNumber string `env:"TELNYX_PHONE_NUMBER" envDefault:"+12125550100" desc:"our Telnyx number: where simulated users text"`
	// UserNumber is the simulated user's number when a request names none.
	UserNumber string `env:"SANDBOX_USER_NUMBER" envDefault:"+13125550123" desc:"the simulated user's number when a request names none"`
	// Receipts turns on message.sent and message.finalized webhooks for every accepted send.
	Receipts bool `env:"SANDBOX_RECEIPTS" envDefault:"true" desc:"send message.sent and message.finalized webhooks for every send"`
	// ReceiptDelay is the pause before each receipt, as a carrier takes a moment to deliver.
	ReceiptDelay time.Duration `env:"SANDBOX_RECEIPT_DELAY" envDefault:"200ms" desc:"pause before each receipt"`
	// WebhookTimeout bounds each webhook POST; Telnyx itself gives up after 2 s.
	WebhookTimeout time.Duration `env:"SANDBOX_WEBHOOK_TIMEOUT" envDefault:"2s" desc:"bound of each webhook POST"`
	// ShutdownTimeout bounds the graceful shutdown.
	ShutdownTimeout time.Duration `env:"SANDBOX_SHUTDOWN_TIMEOUT" envDefault:"10s" desc:"bound of the graceful shutdown"`
	platform.Logging

	// Seed is PrivateKey decoded, set by Load.
	Seed []byte `env:"-"`
}

// Defaults is the configuration with no variable set.
func Defaults() Config {
	return Config{Logging: platform.Logging{LogFormat: "text"}}
}

// Load reads the configuration from environ (as os.Environ returns it) and validates it.
func Load(environ []string) (Config, error) {
	cfg, err := envconfig.Parse(environ, Defaults())
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
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
	if c.RateAccount < 0 || c.RatePerNumber < 0 || c.RateQueue < 0 {
		bad("SANDBOX_RATE_ACCOUNT, SANDBOX_RATE_PER_NUMBER and SANDBOX_RATE_QUEUE must not be negative")
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
	if err := c.Validate(); err != nil { // the embedded platform.Logging's LOG_LEVEL and LOG_FORMAT
		bad("%v", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}

// RateLimits is the throughput the fake API enforces.
func (c Config) RateLimits() fakeapi.RateLimits {
	return fakeapi.RateLimits{Account: c.RateAccount, PerNumber: c.RatePerNumber, Queue: c.RateQueue}
}
