package store

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smsconv/smsconv/shared/redistest"
)

// pipelines counts the pipelines a client sends (not a new connection's handshake, which go-redis sends as one
// too), and can hold the first one back until released.
type pipelines struct {
	n    atomic.Int64
	hold chan struct{}
}

func (h *pipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *pipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *pipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if name := cmds[0].Name(); name == "client" || name == "hello" {
			return next(ctx, cmds) // a new connection's handshake
		}
		if h.n.Add(1) == 1 && h.hold != nil {
			<-h.hold
		}
		return next(ctx, cmds)
	}
}

// heldGroup is a group on a fresh Redis whose first pipeline is held in flight until h.hold is closed.
func heldGroup(t *testing.T) (*group, *pipelines) {
	t.Helper()
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	h := &pipelines{hold: make(chan struct{})}
	rdb.AddHook(h)
	g := &group{rdb: rdb}
	return g, h
}

func TestGroupSendsConcurrentCallsTogether(t *testing.T) {
	g, h := heldGroup(t)
	ctx := context.Background()

	// The first call goes out alone and is held in flight; the 50 made meanwhile wait for it, then go out
	// together, each with its own replies.
	first := make(chan string, 1)
	go func() {
		var get *redis.StringCmd
		if err := g.do(ctx, func(p redis.Pipeliner) { p.Set(ctx, "k-first", "v-first", 0); get = p.Get(ctx, "k-first") }); err != nil {
			t.Error(err)
		}
		first <- get.Val()
	}()
	for h.n.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	const n = 50
	var wg sync.WaitGroup
	got := make([]string, n)
	for i := range n {
		wg.Go(func() {
			k := "k" + strconv.Itoa(i)
			var incr *redis.IntCmd
			err := g.do(ctx, func(p redis.Pipeliner) {
				p.Set(ctx, k, i, 0)
				incr = p.Incr(ctx, k)
			})
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = strconv.FormatInt(incr.Val(), 10)
		})
	}
	// Every call is queued behind the held one before it is released.
	for {
		g.mu.Lock()
		queued := len(g.queue)
		g.mu.Unlock()
		if queued == n {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(h.hold)
	wg.Wait()
	if v := <-first; v != "v-first" {
		t.Fatalf("first call read %q", v)
	}
	for i, v := range got {
		if v != strconv.Itoa(i+1) {
			t.Fatalf("call %d read %q, want %d", i, v, i+1)
		}
	}
	if p := h.n.Load(); p != 2 {
		t.Fatalf("%d pipelines for 51 calls, want 2: the held one and the 50 queued behind it", p)
	}
}

func TestGroupCallerGivesUpWithItsContext(t *testing.T) {
	g, h := heldGroup(t)
	go func() { _ = g.do(context.Background(), func(p redis.Pipeliner) { p.Ping(context.Background()) }) }()
	for h.n.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.do(ctx, func(p redis.Pipeliner) { p.Ping(ctx) }); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(h.hold)
	// The group goes on: a later call is answered.
	var ping *redis.StatusCmd
	if err := g.do(context.Background(), func(p redis.Pipeliner) { ping = p.Ping(context.Background()) }); err != nil || ping.Val() != "PONG" {
		t.Fatalf("later call: %v %q", err, ping.Val())
	}
}

// A call alone is sent from its own goroutine under its own context: cancelled, it returns the context's error
// with its commands holding it, and the group goes on.
func TestGroupCallAloneRunsUnderItsContext(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	g := &group{rdb: rdb}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ping *redis.StatusCmd
	if err := g.do(ctx, func(p redis.Pipeliner) { ping = p.Ping(ctx) }); !errors.Is(err, context.Canceled) || !errors.Is(ping.Err(), context.Canceled) {
		t.Fatalf("cancelled call: %v, its command %v; want context.Canceled for both", err, ping.Err())
	}
	for i := range 3 {
		if err := g.do(context.Background(), func(p redis.Pipeliner) { ping = p.Ping(context.Background()) }); err != nil || ping.Val() != "PONG" {
			t.Fatalf("call %d after it: %v %q", i, err, ping.Val())
		}
	}
}
