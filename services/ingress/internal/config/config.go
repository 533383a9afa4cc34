// Package config reads the ingress's configuration from the environment.
package config

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/smsconv/smsconv/shared/envconfig"

	"github.com/smsconv/smsconv/shared/phone"
	"github.com/smsconv/smsconv/shared/telnyx"
)

// Config is the ingress's configuration. Every field comes from one environment variable.
type Config struct {
	HTTPAddr          string        `env:"HTTP_ADDR" envDefault:":8080"`
	NATSURL           string        `env:"NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	RedisURL          string        `env:"REDIS_URL" envDefault:"redis://127.0.0.1:6379/0"`
	RedisPrefix       string        `env:"REDIS_PREFIX" envDefault:"sms"`
	TelnyxPublicKey   string        `env:"TELNYX_PUBLIC_KEY"`
	TelnyxPhoneNumber string        `env:"TELNYX_PHONE_NUMBER"`
	AdminToken        string        `env:"ADMIN_TOKEN"`
	WebhookTolerance  time.Duration `env:"WEBHOOK_TOLERANCE" envDefault:"300s"`
	WebhookMaxBody    int64         `env:"WEBHOOK_MAX_BODY_BYTES" envDefault:"262144"`
	PublishTimeout    time.Duration `env:"PUBLISH_TIMEOUT" envDefault:"1500ms"`
	Partitions        int           `env:"NATS_PARTITIONS" envDefault:"16"`
	StreamMaxMsgs     int64         `env:"STREAM_MAX_MSGS" envDefault:"1000000"`
	StreamMaxBytes    int64         `env:"STREAM_MAX_BYTES" envDefault:"1073741824"`
	ShutdownTimeout   time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`
	LogLevel          string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat         string        `env:"LOG_FORMAT" envDefault:"json"`

	// PublicKeys are parsed from TelnyxPublicKey by Load.
	PublicKeys []ed25519.PublicKey `env:"-"`
}

// Load reads and validates the configuration.
func Load() (Config, error) {
	c, err := envconfig.Parse[Config]()
	if err != nil {
		return Config{}, err
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	var errs []error
	if c.TelnyxPublicKey == "" {
		errs = append(errs, errors.New("TELNYX_PUBLIC_KEY is required: the webhook signing key from the Telnyx portal (base64), several separated by commas"))
	} else if keys, err := telnyx.ParsePublicKeys(c.TelnyxPublicKey); err != nil {
		errs = append(errs, fmt.Errorf("TELNYX_PUBLIC_KEY: %w", err))
	} else {
		c.PublicKeys = keys
	}
	if c.TelnyxPhoneNumber != "" {
		n, err := phone.ParseE164(c.TelnyxPhoneNumber)
		if err != nil {
			errs = append(errs, fmt.Errorf("TELNYX_PHONE_NUMBER: %w", err))
		}
		c.TelnyxPhoneNumber = n
	}
	if u, err := url.Parse(c.NATSURL); err != nil || u.Host == "" {
		errs = append(errs, fmt.Errorf("NATS_URL %q: want a URL such as nats://127.0.0.1:4222", c.NATSURL))
	}
	if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		errs = append(errs, fmt.Errorf("REDIS_URL %q: want a URL such as redis://127.0.0.1:6379/0", c.RedisURL))
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
	if c.Partitions < 1 || c.Partitions > 1024 {
		errs = append(errs, fmt.Errorf("NATS_PARTITIONS %d: want 1..1024", c.Partitions))
	}
	if c.StreamMaxMsgs < 1 || c.StreamMaxBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("STREAM_MAX_MSGS/STREAM_MAX_BYTES: want at least 1 message and 1 MiB"))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("SHUTDOWN_TIMEOUT %s: want a positive duration", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}
