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
	NATSURL      string `env:"NATS_URL" envDefault:"nats://127.0.0.1:4222" desc:"NATS with JetStream (2.11+); several servers of a cluster separated by commas"`
	NATSReplicas int    `env:"NATS_REPLICAS" envDefault:"1" desc:"replicas of every stream and consumer the services create (3 on a three-node cluster)"`
	RedisURL     string `env:"REDIS_URL" envDefault:"redis://127.0.0.1:6379/0" desc:"Redis 7, one node; with REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS it gives only the user, password and TLS"`
	// RedisClusterAddrs are the seed nodes of a Redis Cluster (host:port, comma-separated).
	RedisClusterAddrs []string `env:"REDIS_CLUSTER_ADDRS" envSeparator:"," desc:"Redis Cluster seed nodes host:port, comma-separated"`
	// RedisSentinelAddrs are the Sentinels watching RedisSentinelMaster (host:port, comma-separated).
	RedisSentinelAddrs  []string `env:"REDIS_SENTINEL_ADDRS" envSeparator:"," desc:"Redis Sentinels host:port, comma-separated (with REDIS_SENTINEL_MASTER)"`
	RedisSentinelMaster string   `env:"REDIS_SENTINEL_MASTER" desc:"name of the master the Sentinels watch"`
	RedisPrefix         string   `env:"REDIS_PREFIX" envDefault:"sms" desc:"Redis key prefix (several deployments can share a Redis)"`
	Partitions          int      `env:"NATS_PARTITIONS" envDefault:"16" desc:"conversation partitions; the same on every process"`
}

// NATSServers returns the servers of NATS_URL, one per comma-separated entry.
func (q Queue) NATSServers() []string {
	var out []string
	for s := range strings.SplitSeq(q.NATSURL, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Validate checks the URLs, the Redis topology (one node, a cluster or Sentinel: one of them), the replicas and
// the partition count.
func (q Queue) Validate() error {
	var errs []error
	servers := q.NATSServers()
	if len(servers) == 0 {
		errs = append(errs, errors.New("NATS_URL is empty: want a URL such as nats://127.0.0.1:4222"))
	}
	for _, s := range servers {
		if u, err := url.Parse(s); err != nil || u.Host == "" {
			errs = append(errs, fmt.Errorf("NATS_URL %q: want URLs such as nats://127.0.0.1:4222, comma-separated", envconfig.RedactURL(s)))
		}
	}
	if q.NATSReplicas < 1 || q.NATSReplicas > 5 {
		errs = append(errs, fmt.Errorf("NATS_REPLICAS %d: want 1..5 (JetStream's limit), 3 on a three-node cluster", q.NATSReplicas))
	}
	if u, err := url.Parse(q.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		errs = append(errs, fmt.Errorf("REDIS_URL %q: want a URL such as redis://127.0.0.1:6379/0", envconfig.RedactURL(q.RedisURL)))
	}
	errs = append(errs, checkAddrs("REDIS_CLUSTER_ADDRS", q.RedisClusterAddrs), checkAddrs("REDIS_SENTINEL_ADDRS", q.RedisSentinelAddrs))
	switch {
	case len(q.RedisClusterAddrs) > 0 && len(q.RedisSentinelAddrs) > 0:
		errs = append(errs, errors.New("REDIS_CLUSTER_ADDRS and REDIS_SENTINEL_ADDRS are both set: a Redis is either a cluster or watched by Sentinels"))
	case len(q.RedisSentinelAddrs) > 0 && q.RedisSentinelMaster == "":
		errs = append(errs, errors.New("REDIS_SENTINEL_ADDRS needs REDIS_SENTINEL_MASTER, the master name the Sentinels watch (often mymaster)"))
	case len(q.RedisSentinelAddrs) == 0 && q.RedisSentinelMaster != "":
		errs = append(errs, errors.New("REDIS_SENTINEL_MASTER needs REDIS_SENTINEL_ADDRS, the Sentinels host:port"))
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

// RedisTopology names the Redis deployment the configuration describes: "cluster", "sentinel" or "single".
func (q Queue) RedisTopology() string {
	switch {
	case len(q.RedisClusterAddrs) > 0:
		return "cluster"
	case len(q.RedisSentinelAddrs) > 0:
		return "sentinel"
	}
	return "single"
}

// checkAddrs checks a comma-separated list of host:port.
func checkAddrs(name string, addrs []string) error {
	var errs []error
	for _, a := range addrs {
		if _, port, err := net.SplitHostPort(strings.TrimSpace(a)); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("%s %q: want host:port, comma-separated", name, a))
		}
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
