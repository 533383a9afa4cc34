// Package membership lets workers find each other and share the conversation partitions between them.
// Each worker announces itself on a core NATS subject every interval; every worker computes the same
// assignment from the members it has heard from recently, by rendezvous hashing, so a joining or leaving
// worker moves only the partitions it gains or loses.
//
// Membership only spreads the work: correctness does not depend on two workers never holding the same
// partition for a moment (the consumer checks that a message is the oldest of its conversation before
// processing it, and Redis deduplicates effects). It exists so that replicas started with
// `docker compose up --scale worker=N` find each other with no configuration: each replica needs no
// identity or member list given to it.
//
// Heartbeats never wait for the assignment to be applied: onChange runs on its own goroutine and only
// ever sees the latest assignment, so a slow JetStream API (consumers starting) cannot make a live
// worker look dead to its peers.
package membership

import (
	"context"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Subject carries heartbeats ("hb <id>") and departures ("bye <id>").
const Subject = "smsconv.workers"

// Assign returns the partitions (0..n-1) that self owns among members, by rendezvous hashing.
func Assign(members []string, n int, self string) []int {
	var owned []int
	for p := range n {
		if Owner(members, p) == self {
			owned = append(owned, p)
		}
	}
	return owned
}

// Owner returns the member with the highest hash for partition p.
func Owner(members []string, p int) string {
	var best string
	var bestScore uint64
	for _, m := range members {
		h := fnv.New64a()
		_, _ = h.Write([]byte(m))
		_, _ = h.Write([]byte{'/'})
		_, _ = h.Write([]byte(strconv.Itoa(p)))
		// fnv alone mixes the last bytes poorly; finish with a 64-bit mixer.
		s := mix(h.Sum64())
		if best == "" || s > bestScore || (s == bestScore && m < best) {
			best, bestScore = m, s
		}
	}
	return best
}

func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// Group tracks the live members.
type Group struct {
	nc         *nats.Conn
	self       string
	partitions int
	interval   time.Duration
	log        *slog.Logger

	mu   sync.Mutex
	seen map[string]time.Time
}

// New returns a Group for worker self.
func New(nc *nats.Conn, self string, partitions int, interval time.Duration, log *slog.Logger) *Group {
	return &Group{nc: nc, self: self, partitions: partitions, interval: interval, log: log,
		seen: map[string]time.Time{self: time.Now()}}
}

// Run announces this worker and calls onChange with the partitions it owns whenever that set changes. It
// waits two intervals before the first call, so a starting worker learns its peers before claiming
// anything. onChange runs on a goroutine of its own, one call at a time, with the latest assignment (an
// assignment superseded while a call runs is skipped). On return (ctx done) it announces its departure so
// the others take over at once, after the last onChange call has returned.
func (g *Group) Run(ctx context.Context, onChange func(owned []int)) error {
	sub, err := g.nc.Subscribe(Subject, func(m *nats.Msg) {
		verb, id, ok := strings.Cut(string(m.Data), " ")
		if !ok || id == g.self {
			return
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		switch verb {
		case "hb":
			g.seen[id] = time.Now()
		case "bye":
			delete(g.seen, id)
		}
	})
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()

	latest := make(chan []int, 1)
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		for owned := range latest {
			onChange(owned)
		}
	}()
	defer func() { close(latest); <-applied }()
	assign := func(owned []int) {
		select {
		case <-latest: // superseded before it was applied
		default:
		}
		latest <- owned
	}

	announce := func() { _ = g.nc.Publish(Subject, []byte("hb "+g.self)) }
	announce()
	tick := time.NewTicker(g.interval)
	defer tick.Stop()
	warmup := time.Now().Add(2 * g.interval)
	var current []int
	first := true
	for {
		select {
		case <-ctx.Done():
			_ = g.nc.Publish(Subject, []byte("bye "+g.self))
			_ = g.nc.Flush()
			return nil
		case <-tick.C:
		}
		announce()
		if time.Now().Before(warmup) {
			continue
		}
		owned := Assign(g.Members(), g.partitions, g.self)
		if first || !slices.Equal(owned, current) {
			first = false
			current = owned
			g.log.Info("partitions assigned", "component", "membership", "worker", g.self,
				"members", len(g.Members()), "owned", len(owned), "partitions", owned)
			assign(owned)
		}
	}
}

// Members returns the workers heard from within three intervals (always including self), sorted.
func (g *Group) Members() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	cutoff := time.Now().Add(-3 * g.interval)
	out := []string{g.self}
	for id, at := range g.seen {
		if id == g.self {
			continue
		}
		if at.Before(cutoff) {
			delete(g.seen, id)
			continue
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
