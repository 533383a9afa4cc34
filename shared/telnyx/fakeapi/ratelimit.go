package fakeapi

import (
	"math"
	"net/http"
	"time"
)

// CodeQueueFull is Telnyx's answer when a sender's queue is full (HTTP 429): Telnyx queues traffic over a
// number's throughput and refuses it past the queue's bound.
const CodeQueueFull = "40318"

// RateLimits makes the fake enforce Telnyx's throughput, in segments per second (the parts a message is billed
// as). Zero values turn each limit off; the zero RateLimits enforces nothing, as the fake did before.
type RateLimits struct {
	// Account bounds every sender together. Over it, a send is answered 429 with code 10011 and
	// x-ratelimit-limit/remaining/reset and Retry-After headers, and nothing is sent.
	Account float64 `json:"account"`
	// PerNumber bounds each sending number.
	PerNumber float64 `json:"per_number"`
	// Queue is how much traffic over PerNumber Telnyx queues for a sender (it queues up to four hours): a
	// send over the limit is accepted while the sender's backlog is within Queue, and answered 429 with
	// code 40318 past it. Zero answers over-limit sends with 429 and 10011 at once.
	Queue time.Duration `json:"queue"`
}

// bucket is one limit's state: GCRA's theoretical arrival time.
type bucket struct{ tat time.Time }

// limiter is the fake's enforcement of RateLimits; guarded by Fake.mu.
type limiter struct {
	lim     RateLimits
	account bucket
	numbers map[string]*bucket
	// refused counts the sends refused for throughput, for tests and the sandbox's fault report.
	refused int
}

// SetRateLimits sets the throughput the fake enforces (see RateLimits) and forgets the current buckets.
func (f *Fake) SetRateLimits(r RateLimits) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rate = newLimiter(r)
}

func newLimiter(r RateLimits) limiter { return limiter{lim: r, numbers: map[string]*bucket{}} }

// RateLimits returns the throughput enforced and how many sends it refused since it was set.
func (f *Fake) RateLimits() (RateLimits, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rate.lim, f.rate.refused
}

// admit decides whether a send of parts segments from sender may go at now, taking the capacity if so. It
// checks both limits before taking either, so a refused send costs nothing.
func (l *limiter) admit(from string, parts int, now time.Time) *failure {
	if l.lim.Account <= 0 && l.lim.PerNumber <= 0 {
		return nil
	}
	n := float64(max(parts, 1))
	var nb *bucket
	if l.lim.PerNumber > 0 {
		if nb = l.numbers[from]; nb == nil {
			nb = &bucket{}
			l.numbers[from] = nb
		}
	}
	if l.lim.Account > 0 {
		if wait := l.account.over(l.lim.Account, n, 0, now); wait > 0 {
			l.refused++
			return rateLimited(l.lim.Account, wait)
		}
	}
	if nb != nil {
		if wait := nb.over(l.lim.PerNumber, n, l.lim.Queue, now); wait > 0 {
			l.refused++
			if l.lim.Queue > 0 {
				return newFailure(http.StatusTooManyRequests, CodeQueueFull, "The message queue for this sender is full; retry later.").retryIn(wait)
			}
			return rateLimited(l.lim.PerNumber, wait)
		}
		nb.take(l.lim.PerNumber, n, now)
	}
	if l.lim.Account > 0 {
		l.account.take(l.lim.Account, n, now)
	}
	return nil
}

// over returns how long until n segments fit within rate (a burst of one second, at least one message)
// plus queue of backlog, or 0 if they fit now.
func (b *bucket) over(rate, n float64, queue time.Duration, now time.Time) time.Duration {
	iv := time.Duration(float64(time.Second) / rate)
	window := time.Duration(max(rate, n)*float64(iv)) + queue
	tat := b.tat
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(time.Duration(n * float64(iv)))
	if d := next.Sub(now) - window; d > 0 {
		return d
	}
	return 0
}

func (b *bucket) take(rate, n float64, now time.Time) {
	if b.tat.Before(now) {
		b.tat = now
	}
	b.tat = b.tat.Add(time.Duration(n * float64(time.Second) / rate))
}

// rateLimited is Telnyx's 10011 answer for a limit of limit per second, free again in wait.
func rateLimited(limit float64, wait time.Duration) *failure {
	fl := newFailure(http.StatusTooManyRequests, CodeTooManyRequests, "").retryIn(wait)
	fl.limit = int(math.Ceil(limit))
	return fl
}

// retryIn sets the seconds the 429 headers tell the client to wait (whole seconds, at least one, as Telnyx
// sends them).
func (f *failure) retryIn(d time.Duration) *failure {
	f.reset = max(int(math.Ceil(d.Seconds())), 1)
	return f
}
