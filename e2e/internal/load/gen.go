package load

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/stack"
	"github.com/smsconv/smsconv/shared/ids"
)

// texts are what the simulated users send, in turn: every one is answered by the seed dialog, and "status"
// makes the worker read the stored conversation.
var texts = []string{"hello", "help", "info", "status", "What's up?"}

// areaCodes spread users over plausible US numbers, 10,000 per area code.
var areaCodes = []string{"212", "312", "415", "646", "718", "917", "202", "305", "617", "773"}

// UserNumber is the phone number of simulated user u (u below 100,000).
func UserNumber(u int) string {
	n := strconv.Itoa(10_000 + u%10_000)[1:]
	return "+1" + areaCodes[(u/10_000)%len(areaCodes)] + "555" + n
}

// request is one webhook signed ahead of time.
type request struct {
	body   []byte
	header http.Header
	// replyKey is the Idempotency-Key the worker sends the reply with (shared/ids: the first reply to the
	// message id).
	replyKey string
}

// prepare builds and signs n inbound webhooks from users round-robin, with ids prefixed by tag so no run
// repeats another's. Signing is the expensive part (tens of µs each): it is spread over every core and done
// before the clock starts, so the generator's own cost during a run stays small.
func prepare(c *stack.Client, tag string, n, users int, ourNumber string) []request {
	out := make([]request, n)
	now := time.Now()
	parts := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for p := range parts {
		wg.Go(func() {
			for i := p; i < n; i += parts {
				id := tag + "-" + strconv.Itoa(i)
				text := texts[(i/users)%len(texts)]
				body := stack.Inbound("e"+id, "m"+id, UserNumber(i%users), ourNumber, text, now)
				out[i] = request{body: body, header: c.Sign(body, now), replyKey: ids.Reply("m"+id, 1)}
			}
		})
	}
	wg.Wait()
	return out
}

// sample is what happened to one request. Times are offsets from the run's start.
type sample struct {
	scheduled time.Duration // when the request was due
	sent      time.Duration // when the generator got to it (lag = sent - scheduled)
	done      time.Duration // when the answer was read
	status    int           // HTTP status, 0 on a transport error
}

// latency is measured from the scheduled time, not the send time: a request the generator or the system
// could not start on time is charged for its wait (no coordinated omission).
func (s sample) latency() time.Duration { return s.done - s.scheduled }

// generator sends pre-signed webhooks at a fixed rate, whatever the answers: open-loop load.
type generator struct {
	client *http.Client
	url    string
}

func newGenerator(url string) *generator {
	return &generator{url: url, client: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			// Enough connections for every request in flight at the highest rate, reused between requests:
			// a new TCP connection per request would cost the generator and the ingress more than a webhook.
			MaxIdleConns:        2048,
			MaxIdleConnsPerHost: 2048,
			MaxConnsPerHost:     2048,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}}
}

// fire sends reqs at rate per second starting now and returns one sample per request once every request
// has been answered (or timed out). Request i is due at start + i/rate; if the generator falls behind it
// sends the overdue ones at once rather than shifting the schedule. It stops scheduling when ctx ends.
func (g *generator) fire(ctx context.Context, reqs []request, rate float64) (time.Time, []sample) {
	samples := make([]sample, len(reqs))
	start := time.Now()
	var wg sync.WaitGroup
	for i := range reqs {
		due := time.Duration(float64(i) * float64(time.Second) / rate)
		if wait := due - time.Since(start); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			samples = samples[:i]
			break
		}
		samples[i] = sample{scheduled: due, sent: time.Since(start)}
		sp := &samples[i]
		wg.Go(func() {
			sp.status = g.send(ctx, reqs[i])
			sp.done = time.Since(start)
		})
	}
	wg.Wait()
	return start, samples
}

func (g *generator) send(ctx context.Context, r request) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url, bytes.NewReader(r.body))
	if err != nil {
		return 0
	}
	req.Header = r.header
	resp, err := g.client.Do(req)
	if err != nil {
		return 0
	}
	// Read to the end so the connection goes back to the pool.
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// close drops the idle connections, so a stack shut down next does not wait for them.
func (g *generator) close() { g.client.CloseIdleConnections() }
