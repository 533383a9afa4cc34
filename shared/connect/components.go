package connect

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/platform"
)

// Conns are a queue service's connections as components of its platform.Service: the Redis and NATS
// components set them when they start, for the components after them.
type Conns struct {
	Redis redis.UniversalClient
	NC    *nats.Conn
	JS    jetstream.JetStream
	// Options say how to wait and log while a dependency is unreachable; Log defaults to the service's.
	Options Options

	svc *platform.Service
}

// For returns the connections of svc.
func For(svc *platform.Service) *Conns { return &Conns{svc: svc} }

func (c *Conns) options() Options {
	o := c.Options
	if o.Log == nil {
		o.Log = c.svc.Log
	}
	return o
}

// RedisComponent connects to the Redis q describes (one node, a cluster or Sentinel), waiting while it is
// unreachable, and closes the client at stop.
func (c *Conns) RedisComponent(q platform.Queue) platform.Component {
	return platform.Component{
		Name: "redis",
		Start: func(ctx context.Context) error {
			rdb, err := Redis(ctx, q, c.options())
			c.Redis = rdb
			return err
		},
		Stop: func(context.Context) error { return c.Redis.Close() },
	}
}

// NATSComponent connects to q.NATSURL as client name, waiting while NATS is unreachable, and drains the connection
// at stop.
func (c *Conns) NATSComponent(q platform.Queue, name string) platform.Component {
	return platform.Component{
		Name: "nats",
		Start: func(ctx context.Context) error {
			nc, js, err := NATS(ctx, q.NATSURL, name, c.options())
			c.NC, c.JS = nc, js
			return err
		},
		Stop: func(ctx context.Context) error { return Drain(ctx, c.NC) },
	}
}

// StreamsComponent creates or updates the JetStream streams (events.EnsureStreams) once NATS is up: the
// publisher's (the ingress's) half of the topology.
func (c *Conns) StreamsComponent(o events.StreamOptions) platform.Component {
	return c.topology("streams", "JetStream streams", events.EnsureStreams, o)
}

// ConsumersComponent waits for the streams, then creates or updates the consumers (events.EnsureConsumers):
// the consumer's (the worker's) half of the topology.
func (c *Conns) ConsumersComponent(o events.StreamOptions) platform.Component {
	return c.topology("consumers", "JetStream streams (created by the ingress) and consumers", events.EnsureConsumers, o)
}

// attemptTimeout bounds one attempt at setting up the topology.
const attemptTimeout = 10 * time.Second

// topology runs one half of the topology set-up. Both queue services go through here, so they treat a
// failure the same way: a partition count that differs from the existing stream's refuses to start at
// once; anything else (NATS unreachable, streams not created yet) is retried, saying so.
func (c *Conns) topology(name, what string, ensure func(context.Context, jetstream.JetStream, events.StreamOptions) error,
	o events.StreamOptions) platform.Component {
	return platform.Component{
		Name: name,
		Start: func(ctx context.Context) error {
			return Retry(ctx, c.options(), what, func(ctx context.Context) error {
				// Each attempt has its own bound: during a JetStream leader election an API request may get
				// no answer at all, and one attempt must not use up the whole start-up.
				actx, cancel := context.WithTimeout(ctx, attemptTimeout)
				defer cancel()
				err := ensure(actx, c.JS, o)
				if errors.Is(err, events.ErrPartitionMismatch) {
					return Permanent(err)
				}
				return err
			})
		},
	}
}
