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
	MaxConns         int           `env:"HTTP_MAX_CONNS" envDefault:"1024" desc:"open HTTP connections at most; past it a new one is answered 503 and closed"`
	MaxConnsPerIP    int           `env:"HTTP_MAX_CONNS_PER_IP" envDefault:"256" desc:"open HTTP connections per source IP at most (0: no per-IP cap, e.g. behind a load balancer)"`
	IdleTimeout      time.Duration `env:"HTTP_IDLE_TIMEOUT" envDefault:"15s" desc:"how long an idle keep-alive connection is kept open"`
	HeaderTimeout    time.Duration `env:"HTTP_HEADER_TIMEOUT" envDefault:"3s" desc:"time to read a request's headers; a slower client is cut"`
	platform.Config

	// PublicKeys are parsed from TelnyxPublicKey by Load.
	PublicKeys []ed25519.PublicKey `env:"-"`
}

// sandboxAdminToken is the ADMIN_TOKEN of docker-compose.yml and make run, published in the README: like the
// development key pair, it is refused outside a sandbox.
const sandboxAdminToken = "smsconv-sandbox-admin-token" //nolint:gosec // G101: the published sandbox token, named here to refuse it

// minAdminToken is the shortest ADMIN_TOKEN accepted outside a sandbox.
const minAdminToken = 24

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
	if !c.Sandbox() {
		errs = append(errs, c.productionSafe()...)
	}
	if c.MaxConns < 1 || c.MaxConnsPerIP < 0 || c.MaxConnsPerIP > c.MaxConns {
		errs = append(errs, fmt.Errorf("HTTP_MAX_CONNS %d, HTTP_MAX_CONNS_PER_IP %d: want at least 1, and a per-IP cap of 0 (none) up to HTTP_MAX_CONNS", c.MaxConns, c.MaxConnsPerIP))
	}
	if c.IdleTimeout <= 0 || c.HeaderTimeout <= 0 {
		errs = append(errs, fmt.Errorf("HTTP_IDLE_TIMEOUT %s, HTTP_HEADER_TIMEOUT %s: want positive durations", c.IdleTimeout, c.HeaderTimeout))
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

// productionSafe refuses, when TELNYX_API_URL is Telnyx rather than a sandbox, what anybody reading this
// repository knows: the development public key (its private half is published, so it would accept webhooks
// from anyone) and the sandbox's ADMIN_TOKEN, or a token short enough to guess.
func (c *Config) productionSafe() []error {
	var errs []error
	dev, err := telnyx.ParsePublicKeys(telnyx.DevPublicKey)
	if err != nil {
		panic(err) // a constant of this repository
	}
	for _, k := range c.PublicKeys {
		if k.Equal(dev[0]) {
			errs = append(errs, errors.New("TELNYX_PUBLIC_KEY is the development key, whose private half is in the repository: "+
				"set the public key from the Telnyx portal (Keys & Credentials > Public Key), or point TELNYX_API_URL at a sandbox"))
		}
	}
	switch {
	case c.AdminToken == sandboxAdminToken:
		errs = append(errs, errors.New("ADMIN_TOKEN is the sandbox's published token: set a random one of at least 24 characters "+
			"(e.g. openssl rand -hex 24), or leave it unset to disable the admin API"))
	case c.AdminToken != "" && len(c.AdminToken) < minAdminToken:
		errs = append(errs, fmt.Errorf("ADMIN_TOKEN has %d characters, at least %d are required outside a sandbox "+
			"(e.g. openssl rand -hex 24), or leave it unset to disable the admin API", len(c.AdminToken), minAdminToken))
	}
	return errs
}
