// Package config reads the worker's configuration from the environment.
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/smsconv/smsconv/shared/platform"
	"github.com/smsconv/smsconv/shared/sendrate"
)

// Config is the worker's configuration. Every field comes from one environment variable; the part shared
// with the ingress (NATS, Redis, partitions, logging, shutdown) is platform.Config.
type Config struct {
	TelnyxAPIKey       string        `env:"TELNYX_API_KEY" secret:"true" desc:"(required) Telnyx API key (any value with the sandbox; not a sandbox placeholder with Telnyx)"`
	MessagingProfileID string        `env:"TELNYX_MESSAGING_PROFILE_ID" desc:"sent with every message when set"`
	TelnyxTimeout      time.Duration `env:"TELNYX_TIMEOUT" envDefault:"10s" desc:"per-attempt timeout of a send"`
	FlowFile           string        `env:"FLOW_FILE" desc:"conversation flow YAML; unset, the built-in default flow"`
	RepliesPerMinute   int           `env:"REPLY_RATE_LIMIT" envDefault:"30" desc:"replies per conversation in any 60 s (sliding window on our clock); 0 turns the guard off"`
	LoopRepeats        int           `env:"REPLY_LOOP_REPEATS" envDefault:"20" desc:"times one reply text may be sent to a conversation whose replies are less than 5 minutes apart (the loop guard); 0 turns the guard off"`
	WorkerID           string        `env:"WORKER_ID" desc:"name in the membership group and logs (default hostname-pid)"`
	MaxInFlight        int           `env:"WORKER_MAX_INFLIGHT" envDefault:"512" desc:"conversations processed at once"`
	CacheSize          int           `env:"WORKER_CACHE_SIZE" envDefault:"100000" desc:"conversations kept in memory after a commit; 0 turns it off"`
	MaxAttempts        int           `env:"WORKER_MAX_ATTEMPTS" envDefault:"10" desc:"transiently failed sends of a reply before its message is dead-lettered"`
	AckWait            time.Duration `env:"WORKER_ACK_WAIT" envDefault:"3s" desc:"redelivery timeout of a message held by a dead worker (kept alive while held)"`
	Heartbeat          time.Duration `env:"WORKER_HEARTBEAT" envDefault:"1s" desc:"membership heartbeat; a worker silent for 3 beats loses its partitions"`
	MetricsAddr        string        `env:"METRICS_ADDR" envDefault:":9090" desc:"listen address of /healthz and /metrics"`
	Sending
	platform.Config
}

// StoreLoopRepeats is REPLY_LOOP_REPEATS as store.Options.LoopRepeats takes it: there 0 means the default and
// a negative value no loop guard.
func (c Config) StoreLoopRepeats() int {
	if c.LoopRepeats == 0 {
		return -1
	}
	return c.LoopRepeats
}

// devKeys are the API keys the development setups use (docker-compose.yml's default and the sandbox's
// examples): with a real Telnyx they mean the deployment was started with development settings.
var devKeys = map[string]bool{"sandbox": true, "test": true, "dev": true, "key": true, "change-me": true, "changeme": true}

// Sending is how the workers pace what they send to Telnyx's limits, and what they do when a send's outcome is
// unknown.
type Sending struct {
	SendRateAccount   float64 `env:"SEND_RATE_ACCOUNT" envDefault:"50" desc:"segments per second the account sends, across every worker (Telnyx's default is 50); 0 for no limit"`
	SendRatePerNumber float64 `env:"SEND_RATE_PER_NUMBER" envDefault:"0" desc:"segments per second each sending number sends; 0 for no limit"`
	SendRateFile      string  `env:"SEND_RATE_FILE" desc:"YAML file of per-number rates (a toll-free number at 20, a 10DLC number at its campaign's rate), read and checked at start"`
	SendRateBulkShare float64 `env:"SEND_RATE_BULK_SHARE" envDefault:"0.5" desc:"share (0..1] of each limit that /sms/send traffic may use; conversation replies go first"`
	// ReplyUnknownOutcome is what a worker does with a send whose outcome it never learned (a crash or a
	// timeout after the request left): resend with the same Idempotency-Key, or hold it for an operator.
	ReplyUnknownOutcome string `env:"REPLY_UNKNOWN_OUTCOME" envDefault:"resend" desc:"a send whose answer was lost: resend (same Idempotency-Key; at-least-once) or hold (mark it unknown, send nothing more; at-most-once)"`

	// SendRates is the limits from the variables and SEND_RATE_FILE, filled by Validate.
	SendRates sendrate.Limits `env:"-"`
}

// Unknown-outcome policies.
const (
	UnknownResend = "resend"
	UnknownHold   = "hold"
)

// Validate reads SEND_RATE_FILE and checks the rates and the policy.
func (s *Sending) Validate() error {
	var errs []error
	s.SendRates = sendrate.Limits{Account: s.SendRateAccount, PerNumber: s.SendRatePerNumber, BulkShare: s.SendRateBulkShare}
	if s.SendRateFile != "" {
		rates, err := sendrate.LoadFile(s.SendRateFile)
		if err != nil {
			errs = append(errs, err)
		}
		s.SendRates.Numbers = rates
	}
	if s.SendRateBulkShare <= 0 || s.SendRateBulkShare > 1 {
		errs = append(errs, fmt.Errorf("SEND_RATE_BULK_SHARE %v: want a share in (0, 1], such as 0.5", s.SendRateBulkShare))
	} else if err := s.SendRates.Validate(); err != nil {
		errs = append(errs, err)
	}
	if s.ReplyUnknownOutcome != UnknownResend && s.ReplyUnknownOutcome != UnknownHold {
		errs = append(errs, fmt.Errorf("REPLY_UNKNOWN_OUTCOME %q: want resend or hold", s.ReplyUnknownOutcome))
	}
	return errors.Join(errs...)
}

// Defaults is the configuration with no variable set (TELNYX_API_KEY is still required).
func Defaults() Config {
	return Config{Config: platform.Defaults(20 * time.Second)}
}

// Load reads the configuration from environ (as os.Environ returns it) and validates it.
func Load(environ []string) (Config, error) {
	c, err := platform.Load(environ, Defaults())
	if err != nil {
		return Config{}, err
	}
	if c.WorkerID == "" {
		host, _ := os.Hostname()
		c.WorkerID = host + "-" + strconv.Itoa(os.Getpid())
	}
	return c, nil
}

// Validate checks every value and names the variable at fault.
func (c *Config) Validate() error {
	errs := []error{c.Config.Validate(), c.Sending.Validate()}
	switch {
	case c.TelnyxAPIKey == "":
		errs = append(errs, errors.New("TELNYX_API_KEY is required (use any value with the sandbox)"))
	case !c.Sandbox() && devKeys[strings.ToLower(c.TelnyxAPIKey)]:
		errs = append(errs, fmt.Errorf("TELNYX_API_KEY is the sandbox's development placeholder, but TELNYX_API_URL %s is not a sandbox: "+
			"set TELNYX_API_KEY to your Telnyx API key (Mission Control portal, API Keys), or TELNYX_API_URL to the sandbox", c.TelnyxAPIURL))
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("WORKER_MAX_INFLIGHT %d: want at least 1", c.MaxInFlight))
	}
	if c.RepliesPerMinute < 0 {
		errs = append(errs, fmt.Errorf("REPLY_RATE_LIMIT %d: want replies per conversation in any 60 s, 0 for no limit", c.RepliesPerMinute))
	}
	if c.LoopRepeats < 0 {
		errs = append(errs, fmt.Errorf("REPLY_LOOP_REPEATS %d: want sends of one reply text, 0 for no loop guard", c.LoopRepeats))
	}
	if c.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("WORKER_CACHE_SIZE %d: want conversations to cache, 0 for none", c.CacheSize))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("WORKER_MAX_ATTEMPTS %d: want at least 1", c.MaxAttempts))
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"WORKER_ACK_WAIT", c.AckWait}, {"WORKER_HEARTBEAT", c.Heartbeat}, {"TELNYX_TIMEOUT", c.TelnyxTimeout}} {
		if d.d <= 0 {
			errs = append(errs, fmt.Errorf("%s %s: want a positive duration such as 30s", d.name, d.d))
		}
	}
	if c.AckWait < 3*time.Second && c.AckWait > 0 {
		errs = append(errs, fmt.Errorf("WORKER_ACK_WAIT %s: want at least 3s", c.AckWait))
	}
	return errors.Join(errs...)
}
