package platform

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/smsconv/smsconv/shared/connect"
	"github.com/smsconv/smsconv/shared/events"
)

// Conns are a queue service's connections, set by the Redis and NATS components when they start; the
// components after them use them.
type Conns struct {
	Redis *redis.Client
	NC    *nats.Conn
	JS    jetstream.JetStream
	// Connect says how to wait and log while a dependency is unreachable; its Log defaults to the service's.
	Connect connect.Options
}

func (s *Service) connectOptions(c *Conns) connect.Options {
	o := c.Connect
	if o.Log == nil {
		o.Log = s.Log
	}
	return o
}

// Redis connects to q.RedisURL, waiting while Redis is unreachable, and closes the client at stop.
func (s *Service) Redis(q Queue, c *Conns) Component {
	return Component{
		Name: "redis",
		Start: func(ctx context.Context) error {
			rdb, err := connect.Redis(ctx, q.RedisURL, s.connectOptions(c))
			c.Redis = rdb
			return err
		},
		Stop: func(context.Context) error { return c.Redis.Close() },
	}
}

// NATS connects to q.NATSURL as client name, waiting while NATS is unreachable, and drains the connection
// at stop.
func (s *Service) NATS(q Queue, name string, c *Conns) Component {
	return Component{
		Name: "nats",
		Start: func(ctx context.Context) error {
			nc, js, err := connect.NATS(ctx, q.NATSURL, name, s.connectOptions(c))
			c.NC, c.JS = nc, js
			return err
		},
		Stop: func(ctx context.Context) error { return connect.Drain(ctx, c.NC) },
	}
}

// Streams creates or updates the JetStream streams and consumers (events.EnsureStreams) once NATS is up.
// Both queue services set them up through here, so they treat a failure the same way: a partition count
// that differs from the existing stream's refuses to start at once; anything else is retried, saying so.
func (s *Service) Streams(o events.StreamOptions, c *Conns) Component {
	return Component{
		Name: "streams",
		Start: func(ctx context.Context) error {
			return connect.Retry(ctx, s.connectOptions(c), "JetStream streams", func(ctx context.Context) error {
				err := events.EnsureStreams(ctx, c.JS, o)
				if errors.Is(err, events.ErrPartitionMismatch) {
					return connect.Permanent(err)
				}
				return err
			})
		},
	}
}
