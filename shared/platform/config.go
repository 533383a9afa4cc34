// Package platform is how a smsconv service starts: the configuration the services share, its logger, the
// command line every binary answers (-h, version), a masked dump of the configuration, and components
// started in order and stopped in reverse within a shutdown deadline. It needs only the standard library
// (and env parsing), so the sandbox links no NATS or Redis client: the NATS, JetStream and Redis components
// are in shared/connect, the tracing one in shared/obs.
package platform

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/smsconv/smsconv/shared/envconfig"
	"github.com/smsconv/smsconv/shared/phone"
)

// Logging is where and how a service logs. Every service has it.
type Logging struct {
	LogLevel  string `env:"LOG_LEVEL" envDefault:"info" desc:"log level: debug, info, warn or error"`
	LogFormat string `env:"LOG_FORMAT" desc:"log format: json or text"`
}

// Validate checks the level and format, naming the variable at fault.
func (l Logging) Validate() error {
	_, err := l.Logger(io.Discard, "")
	return err
}

// Logger returns the service's logger writing to w.
func (l Logging) Logger(w io.Writer, service string) (*slog.Logger, error) {
	return newLogger(w, service, l.LogLevel, l.LogFormat)
}

// Queue is where the queue and the store are: what the ingress and the workers must agree on.
type Queue struct {
	NATSURL     string `env:"NATS_URL" envDefault:"nats://127.0.0.1:4222" desc:"NATS with JetStream (2.11+)"`
	RedisURL    string `env:"REDIS_URL" envDefault:"redis://127.0.0.1:6379/0" desc:"Redis 7"`
	RedisPrefix string `env:"REDIS_PREFIX" envDefault:"sms" desc:"Redis key prefix (several deployments can share a Redis)"`
	Partitions  int    `env:"NATS_PARTITIONS" envDefault:"16" desc:"conversation partitions; the same on every process"`
}

// Validate checks the URLs and the partition count.
func (q Queue) Validate() error {
	var errs []error
	if u, err := url.Parse(q.NATSURL); err != nil || u.Host == "" {
		errs = append(errs, fmt.Errorf("NATS_URL %q: want a URL such as nats://127.0.0.1:4222", envconfig.RedactURL(q.NATSURL)))
	}
	if u, err := url.Parse(q.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		errs = append(errs, fmt.Errorf("REDIS_URL %q: want a URL such as redis://127.0.0.1:6379/0", envconfig.RedactURL(q.RedisURL)))
	}
	if q.Partitions < 1 || q.Partitions > 1024 {
		errs = append(errs, fmt.Errorf("NATS_PARTITIONS %d: want 1..1024", q.Partitions))
	}
	return errors.Join(errs...)
}

// Telnyx is how the queue services see Telnyx: which numbers are ours and which Messaging API the system
// talks to (the real one or the sandbox's fake). Every service that must tell our numbers from users' reads
// them here, from one variable.
type Telnyx struct {
	TelnyxPhoneNumber string `env:"TELNYX_PHONE_NUMBER" desc:"our Telnyx numbers (E.164), comma-separated; the first is the default from of /sms/send. Inbound to other numbers is kept, not answered"`
	TelnyxAPIURL      string `env:"TELNYX_API_URL" envDefault:"https://api.telnyx.com/v2" desc:"Messaging API base URL (the sandbox: http://sandbox:8090/v2); anything but a sandbox enforces production-safe settings"`

	// OurNumbers are parsed from TelnyxPhoneNumber by Validate.
	OurNumbers phone.Numbers `env:"-"`
}

// Validate parses the numbers and checks the URL, naming the variable at fault.
func (t *Telnyx) Validate() error {
	var errs []error
	ns, err := phone.ParseNumbers(t.TelnyxPhoneNumber)
	if err != nil {
		errs = append(errs, fmt.Errorf("TELNYX_PHONE_NUMBER: %w (want E.164 numbers such as +12125550100, comma-separated)", err))
	}
	t.OurNumbers = ns
	if u, err := url.Parse(t.TelnyxAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("TELNYX_API_URL %q: want an http(s) URL such as https://api.telnyx.com/v2", envconfig.RedactURL(t.TelnyxAPIURL)))
	}
	return errors.Join(errs...)
}

// Sandbox reports whether TELNYX_API_URL is a development sandbox rather than Telnyx: a loopback address,
// localhost, or the compose service named "sandbox". Only then are development keys and tokens accepted.
func (t Telnyx) Sandbox() bool {
	u, err := url.Parse(t.TelnyxAPIURL)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || host == "sandbox" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Config is the configuration the queue services (ingress and worker) share, embedded in each one's.
type Config struct {
	Queue
	Telnyx
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" desc:"bound of the graceful shutdown on SIGTERM"`
	Logging
}

// Defaults returns the shared defaults; the shutdown bound differs per service (a worker finishes sends).
func Defaults(shutdown time.Duration) Config {
	return Config{ShutdownTimeout: shutdown, Logging: Logging{LogFormat: "json"}}
}

// Validate checks the shared part once for every service (and fills OurNumbers).
func (c *Config) Validate() error {
	var errs []error
	errs = append(errs, c.Queue.Validate(), c.Telnyx.Validate(), c.Logging.Validate())
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("SHUTDOWN_TIMEOUT %s: want a positive duration", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}

// Validator is a configuration that checks itself (and may fill derived fields).
type Validator interface{ Validate() error }

// Load fills a copy of defaults from environ and validates it; errors name the variables at fault.
func Load[T any, PT interface {
	*T
	Validator
}](environ []string, defaults T) (T, error) {
	c, err := envconfig.Parse(environ, defaults)
	if err != nil {
		return c, err
	}
	return c, PT(&c).Validate()
}

// dump is the configuration as one log attribute per variable, secrets masked.
func dump(cfg any) slog.Value {
	vars := envconfig.Vars(cfg)
	attrs := make([]slog.Attr, 0, len(vars))
	for _, v := range vars {
		attrs = append(attrs, slog.String(v.Name, v.Value))
	}
	return slog.GroupValue(attrs...)
}
