package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// group sends the hot path's round trips of concurrent callers (a worker's conversations, each committing or
// recording a send) to Redis together: a call that finds a batch in flight waits for it to return and goes
// out with the others that queued meanwhile, as one pipeline. Alone, a call goes out at once, from its own
// goroutine, so nothing waits for a batch to fill or for the flusher to wake; under load, one write and one
// read (and, with appendfsync always, one fsync) serve a whole batch instead of one call. It is a group
// commit: every call's commands still run as that call queued them, and each reads only its own replies.
type group struct {
	rdb redis.UniversalClient

	mu      sync.Mutex
	queue   []groupCall
	running bool
	// kick wakes the flusher, one goroutine started with the first call that lives as long as the process:
	// a goroutine per batch would grow a new stack for every pipeline under load.
	kick  chan struct{}
	start sync.Once
}

type groupCall struct {
	add  func(redis.Pipeliner)
	done chan struct{}
}

// groupTimeout bounds one batch's round trip (go-redis's own read and write timeouts apply within it).
const groupTimeout = 10 * time.Second

// maxGroup bounds the calls of one batch; the rest go in the next.
const maxGroup = 256

// do queues add's commands with the next batch and waits until the batch has run: then, and only then (never
// after an error of ctx), the commands add queued hold their replies. It returns ctx's error if ctx ends first;
// the commands may still run, as a call whose answer was lost.
func (g *group) do(ctx context.Context, add func(redis.Pipeliner)) error {
	g.start.Do(func() {
		g.kick = make(chan struct{}, 1)
		// The batch outlives any one caller, whose context it must not inherit: a caller that gives up
		// leaves the others' commands in it.
		go g.flusher()
	})
	g.mu.Lock()
	if !g.running {
		// Nothing in flight, so nothing queued: this call is a batch of its own, holding only its own
		// commands, and may run under its own context. Calls made meanwhile queue for the flusher.
		g.running = true
		g.mu.Unlock()
		g.run(ctx, []groupCall{{add: add}})
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.running = false
		} else {
			g.kick <- struct{}{} // never blocks: see below
		}
		g.mu.Unlock()
		return ctx.Err()
	}
	c := groupCall{add: add, done: make(chan struct{})}
	g.queue = append(g.queue, c)
	g.mu.Unlock()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flusher runs the batches each kick finds waiting. Only the call that ends an inline batch with calls queued
// behind it kicks, while running stays set, so a kick never finds another in the channel.
func (g *group) flusher() {
	for range g.kick {
		g.flush()
	}
}

// flush runs batches until none is waiting.
func (g *group) flush() {
	for {
		g.mu.Lock()
		n := min(len(g.queue), maxGroup)
		if n == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		if len(g.queue) == 0 {
			g.queue = nil
		}
		g.mu.Unlock()
		g.run(context.Background(), batch)
		for _, c := range batch {
			close(c.done)
		}
	}
}

// run sends the commands of batch as one pipeline, within groupTimeout of ctx.
func (g *group) run(ctx context.Context, batch []groupCall) {
	ctx, cancel := context.WithTimeout(ctx, groupTimeout)
	defer cancel()
	pipe := g.rdb.Pipeline()
	for _, c := range batch {
		c.add(pipe)
	}
	_, _ = pipe.Exec(ctx) // every command holds its own reply or error: each caller reads its own
}

// firstErr is the first error among cmds, a missing key (redis.Nil) not counted.
func firstErr(cmds ...redis.Cmder) error {
	for _, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
	}
	return nil
}
