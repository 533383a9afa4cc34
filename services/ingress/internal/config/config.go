// Package config reads the ingress's configuration from the environment.
package config

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/smsconv/smsconv/shared/platform"
	"github.com/smsconv/smsconv/shared/telnyx"
)

// Config is the ingress's configuration. Every field comes from one environment variable; the part shared
// with the worker (NATS, Redis, partitions, logging, shutdown) is platform.Config.
type Config struct {
	TelnyxPublicKey  string        `env:"TELNYX_PUBLIC_KEY" desc:"(required) webhook signing key(s) from the Telnyx portal, base64 or PEM; several separated by commas"`
	AdminToken       string        `env:"ADMIN_TOKEN" secret:"true" desc:"Bearer token of the admin endpoints; unset, they answer 403"`
	HTTPAddr         string        `env:"HTTP_ADDR" envDefault:":8080" desc:"listen address"`
	WebhookTolerance time.Duration `env:"WEBHOOK_TOLERANCE" envDefault:"300s" desc:"accepted clock skew of telnyx-timestamp, both directions"`
	WebhookMaxBody   int64         `env:"WEBHOOK_MAX_BODY_BYTES" envDefault:"262144" desc:"webhook body limit (413 past it)"`
	PublishTimeout   time.Duration `env:"PUBLISH_TIMEOUT" envDefault:"1500ms" desc:"wait for JetStream's ack (Telnyx wants an answer within 2s)"`
	StreamMaxMsgs    int64         `env:"STREAM_MAX_MSGS" envDefault:"1000000" desc:"backlog bound of the conversation stream (messages); past it 503"`
	StreamMaxBytes   int64         `env:"STREAM_MAX_BYTES" envDefault:"1073741824" desc:"backlog bound of the conversation stream (bytes); past it 503"`
	platform.Config

	// PublicKeys are parsed from TelnyxPublicKey by Load.
	PublicKeys []ed25519.PublicKey `env:"-"`
}

// Defaults is the configuration with no variable set (TELNYX_PUBLIC_KEY is still required).
func Defaults() Config {
	return Config{Config: platform.Defaults(15 * time.Second)}
}

// Load reads the configuration from environ (as os.Environ returns it) and validates it.
func Load(environ []string) (Config, error) {
	return platform.Load(environ, Defaults())
}

// Validate checks every value, names the variable at fault, and fills PublicKeys.
func (c *Config) Validate() error {
	errs := []error{c.Config.Validate()}
	if c.TelnyxPublicKey == "" {
		errs = append(errs, errors.New("TELNYX_PUBLIC_KEY is required: the webhook signing key from the Telnyx portal (base64), several separated by commas"))
	} else if keys, err := telnyx.ParsePublicKeys(c.TelnyxPublicKey); err != nil {
		errs = append(errs, fmt.Errorf("TELNYX_PUBLIC_KEY: %w", err))
	} else {
		c.PublicKeys = keys
	}
	if c.WebhookTolerance <= 0 {
		errs = append(errs, fmt.Errorf("WEBHOOK_TOLERANCE %s: want a positive duration such as 300s", c.WebhookTolerance))
	}
	if c.WebhookMaxBody < 1024 {
		errs = append(errs, fmt.Errorf("WEBHOOK_MAX_BODY_BYTES %d: want at least 1024", c.WebhookMaxBody))
	}
	if c.PublishTimeout <= 0 || c.PublishTimeout > 10*time.Second {
		errs = append(errs, fmt.Errorf("PUBLISH_TIMEOUT %s: want 1ms..10s (Telnyx wants an answer within 2s)", c.PublishTimeout))
	}
	if c.StreamMaxMsgs < 1 || c.StreamMaxBytes < 1<<20 {
		errs = append(errs, errors.New("STREAM_MAX_MSGS/STREAM_MAX_BYTES: want at least 1 message and 1 MiB"))
	}
	return errors.Join(errs...)
}
