// Package config reads the worker's configuration from the environment.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/smsconv/smsconv/shared/envconfig"

	"github.com/smsconv/smsconv/shared/phone"
)

// Config is the worker's configuration. Every field comes from one environment variable.
type Config struct {
	NATSURL            string        `env:"NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	RedisURL           string        `env:"REDIS_URL" envDefault:"redis://127.0.0.1:6379/0"`
	RedisPrefix        string        `env:"REDIS_PREFIX" envDefault:"sms"`
	TelnyxAPIKey       string        `env:"TELNYX_API_KEY"`
	TelnyxAPIURL       string        `env:"TELNYX_API_URL" envDefault:"https://api.telnyx.com/v2"`
	TelnyxPhoneNumber  string        `env:"TELNYX_PHONE_NUMBER"`
	MessagingProfileID string        `env:"TELNYX_MESSAGING_PROFILE_ID"`
	TelnyxTimeout      time.Duration `env:"TELNYX_TIMEOUT" envDefault:"10s"`
	FlowFile           string        `env:"FLOW_FILE"`
	RepliesPerMinute   int           `env:"REPLY_RATE_LIMIT" envDefault:"30"`
	WorkerID           string        `env:"WORKER_ID"`
	Partitions         int           `env:"NATS_PARTITIONS" envDefault:"16"`
	MaxInFlight        int           `env:"WORKER_MAX_INFLIGHT" envDefault:"512"`
	CacheSize          int           `env:"WORKER_CACHE_SIZE" envDefault:"100000"`
	MaxAttempts        int           `env:"WORKER_MAX_ATTEMPTS" envDefault:"10"`
	AckWait            time.Duration `env:"WORKER_ACK_WAIT" envDefault:"30s"`
	Heartbeat          time.Duration `env:"WORKER_HEARTBEAT" envDefault:"1s"`
	ShutdownTimeout    time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"20s"`
	MetricsAddr        string        `env:"METRICS_ADDR" envDefault:":9090"`
	LogLevel           string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat          string        `env:"LOG_FORMAT" envDefault:"json"`
}

// Load reads and validates the configuration.
func Load() (Config, error) {
	c, err := envconfig.Parse[Config]()
	if err != nil {
		return Config{}, err
	}
	if c.WorkerID == "" {
		host, _ := os.Hostname()
		c.WorkerID = host + "-" + strconv.Itoa(os.Getpid())
	}
	return c, c.Validate()
}

// Validate checks every value and names the variable at fault.
func (c Config) Validate() error {
	var errs []error
	if c.TelnyxAPIKey == "" {
		errs = append(errs, errors.New("TELNYX_API_KEY is required (use any value with the sandbox)"))
	}
	if u, err := url.Parse(c.TelnyxAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("TELNYX_API_URL %q: want an http(s) URL such as https://api.telnyx.com/v2", c.TelnyxAPIURL))
	}
	if u, err := url.Parse(c.NATSURL); err != nil || u.Host == "" {
		errs = append(errs, fmt.Errorf("NATS_URL %q: want a URL such as nats://127.0.0.1:4222", c.NATSURL))
	}
	if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		errs = append(errs, fmt.Errorf("REDIS_URL %q: want a URL such as redis://127.0.0.1:6379/0", c.RedisURL))
	}
	if c.TelnyxPhoneNumber != "" {
		if _, err := phone.ParseE164(c.TelnyxPhoneNumber); err != nil {
			errs = append(errs, fmt.Errorf("TELNYX_PHONE_NUMBER: %w", err))
		}
	}
	if c.Partitions < 1 || c.Partitions > 1024 {
		errs = append(errs, fmt.Errorf("NATS_PARTITIONS %d: want 1..1024", c.Partitions))
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("WORKER_MAX_INFLIGHT %d: want at least 1", c.MaxInFlight))
	}
	if c.RepliesPerMinute < 0 {
		errs = append(errs, fmt.Errorf("REPLY_RATE_LIMIT %d: want replies per user per minute, 0 for no limit", c.RepliesPerMinute))
	}
	if c.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("WORKER_CACHE_SIZE %d: want conversations to cache, 0 for none", c.CacheSize))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("WORKER_MAX_ATTEMPTS %d: want at least 1", c.MaxAttempts))
	}
	for name, d := range map[string]time.Duration{"WORKER_ACK_WAIT": c.AckWait, "WORKER_HEARTBEAT": c.Heartbeat,
		"SHUTDOWN_TIMEOUT": c.ShutdownTimeout, "TELNYX_TIMEOUT": c.TelnyxTimeout} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s %s: want a positive duration such as 30s", name, d))
		}
	}
	if c.AckWait < 3*time.Second && c.AckWait > 0 {
		errs = append(errs, fmt.Errorf("WORKER_ACK_WAIT %s: want at least 3s", c.AckWait))
	}
	return errors.Join(errs...)
}
