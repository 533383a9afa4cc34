package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/stack"
)

// webhookPoster is what the driver needs of stack.Client (a fake in tests).
type webhookPoster interface {
	PostWebhook(ctx context.Context, body []byte) (int, []byte, error)
}

// traffic counts what the driver saw at the webhook.
type traffic struct {
	posts         atomic.Int64 // every POST, retries and duplicates included
	accepted      atomic.Int64 // distinct planned messages answered 200
	unavailable   atomic.Int64 // 503 answers (NATS down, stream full): retried like Telnyx
	errors        atomic.Int64 // no answer at all (ingress unreachable, timeout): retried
	rejected      atomic.Int64 // any other answer: the message is lost, a violation
	dupPosts      atomic.Int64 // deliveries of a message again (Telnyx retries)
	dupAnswered   atomic.Int64 // ... answered "duplicate" by the ingress (publish deduplication)
	lastRejection atomic.Value // string

	mu       sync.Mutex
	acceptOK map[string]time.Time // message id -> when the ingress accepted it
}

func newTraffic() *traffic { return &traffic{acceptOK: map[string]time.Time{}} }

func (t *traffic) markAccepted(id string) {
	t.mu.Lock()
	t.acceptOK[id] = time.Now()
	t.mu.Unlock()
	t.accepted.Add(1)
}

// acceptedAt returns when each accepted message was accepted.
func (t *traffic) acceptedAt() map[string]time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]time.Time, len(t.acceptOK))
	for k, v := range t.acceptOK {
		out[k] = v
	}
	return out
}

func (t *traffic) acceptedIDs() map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]bool, len(t.acceptOK))
	for k := range t.acceptOK {
		out[k] = true
	}
	return out
}

// driver sends the conversations' texts as Telnyx would.
type driver struct {
	c    webhookPoster
	our  string
	o    Options
	t    *traffic
	seed uint64
}

// run starts conversation j at j*Duration/len(convs), at most Concurrency at once, and returns when every
// conversation is sent or ctx ends.
func (d *driver) run(ctx context.Context, convs []Conversation) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range d.o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				d.conversation(ctx, j, convs[j])
			}
		}()
	}
	start := time.Now()
	step := d.o.Duration / time.Duration(len(convs))
feed:
	for j := range convs {
		if wait := time.Until(start.Add(time.Duration(j) * step)); wait > 0 {
			select {
			case <-ctx.Done():
				break feed
			case <-time.After(wait):
			}
		}
		select {
		case <-ctx.Done():
			break feed
		case work <- j:
		}
	}
	close(work)
	wg.Wait()
}

// conversation sends one user's texts in order, each only after the previous one was accepted, as one phone
// does. Some are delivered twice: at once with the same event (a Telnyx retry after a lost answer) or later
// under a new event id (a replayed event).
func (d *driver) conversation(ctx context.Context, j int, c Conversation) {
	rng := rand.New(rand.NewPCG(d.seed, uint64(j)))
	var late [][]byte
	for i, m := range c.Messages {
		if i > 0 && d.o.Gap > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(rng.Int64N(int64(2 * d.o.Gap)))):
			}
		}
		body := stack.Inbound(m.EventID, m.MsgID, c.User, d.our, m.Text, m.At)
		if !d.post(ctx, body, false) {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		d.t.markAccepted(m.MsgID)
		for _, b := range late {
			d.post(ctx, b, true)
		}
		late = late[:0]
		if rng.Float64() < d.o.DuplicateRate {
			if rng.IntN(2) == 0 {
				d.post(ctx, body, true)
			} else {
				late = append(late, stack.Inbound(m.EventID+"-again", m.MsgID, c.User, d.our, m.Text, m.At))
			}
		}
	}
	for _, b := range late {
		d.post(ctx, b, true)
	}
}

// post delivers body until the ingress answers 200, retrying 503s and unanswered requests with capped
// backoff as Telnyx (and its failover URL) would. It returns false if the ingress rejected the webhook or ctx
// ended first.
func (d *driver) post(ctx context.Context, body []byte, duplicate bool) bool {
	if duplicate {
		d.t.dupPosts.Add(1)
	}
	backoff := 50 * time.Millisecond
	for {
		d.t.posts.Add(1)
		status, raw, err := d.c.PostWebhook(ctx, body)
		switch {
		case err == nil && status == http.StatusOK:
			if duplicate {
				var r struct{ Status string }
				if json.Unmarshal(raw, &r) == nil && r.Status == "duplicate" {
					d.t.dupAnswered.Add(1)
				}
			}
			return true
		case err == nil && status == http.StatusServiceUnavailable:
			d.t.unavailable.Add(1)
		case err != nil:
			if ctx.Err() != nil {
				return false
			}
			d.t.errors.Add(1)
		default:
			d.t.rejected.Add(1)
			d.t.lastRejection.Store(fmt.Sprintf("%d %.200s", status, raw))
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff/2 + rand.N(backoff/2+1)):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
