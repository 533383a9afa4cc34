//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/stack"
	"github.com/smsconv/smsconv/shared/conversation"
)

// Our two numbers in the send-limit tests: the first is limited and loaded, the second must not be slowed.
const (
	numberA = "+13125550100"
	numberB = "+13125550101"
)

// twoNumbers runs the stack with both numbers ours and env added to every worker.
func twoNumbers(workers int, env ...string) stack.Options {
	ours := "TELNYX_PHONE_NUMBER=" + numberA + "," + numberB
	return stack.Options{Workers: workers, OurNumber: numberA, IngressEnv: []string{ours},
		WorkerEnv: append([]string{ours}, env...)}
}

// texts posts each user's messages to our number `to` in order (users in parallel) and returns when every
// webhook was accepted.
func texts(t *testing.T, ctx context.Context, c *stack.Client, to string, users []string, msgs ...string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(users))
	t0 := time.Now().UTC()
	for _, u := range users {
		wg.Go(func() {
			for i, text := range msgs {
				id := fmt.Sprintf("%s-%s-%d", to[1:], u[1:], i)
				status, raw, err := c.PostWebhook(ctx, stack.Inbound("evt-"+id, "msg-"+id, u, to, text, t0.Add(time.Duration(i)*time.Millisecond)))
				if err != nil {
					errs <- fmt.Errorf("webhook from %s: %w", u, err)
					return
				}
				if status != 200 {
					errs <- fmt.Errorf("webhook from %s: %d %s", u, status, raw)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// numbersIn returns n users' numbers in the +1 <area> 555 range.
func numbersIn(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+1%s555%04d", prefix, i)
	}
	return out
}

// maxInSecond is the most segments sent in any one-second window of the sorted timestamps.
func maxInSecond(ms []stack.Delivered) int {
	best, sum, j := 0, 0, 0
	for i := range ms {
		sum += max(ms[i].Parts, 1)
		for ms[i].At.Sub(ms[j].At) >= time.Second {
			sum -= max(ms[j].Parts, 1)
			j++
		}
		best = max(best, sum)
	}
	return best
}

// rateAfterBurst is the send rate after the first burst segments: what the limit allows in the long run.
func rateAfterBurst(ms []stack.Delivered, burst int) float64 {
	if len(ms) <= burst+1 {
		return 0
	}
	return float64(len(ms)-burst-1) / ms[len(ms)-1].At.Sub(ms[burst].At).Seconds()
}

func from(ms []stack.Delivered, number string) []stack.Delivered {
	var out []stack.Delivered
	for _, m := range ms {
		if m.From == number {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b stack.Delivered) int { return a.At.Compare(b.At) })
	return out
}

// TestPerNumberRate: with SEND_RATE_PER_NUMBER=5, 60 users bursting two messages each at one of our numbers
// are all answered, in order per conversation, and no second of that number's sends holds more than the rate
// plus its one-second burst; a second number of ours answers its own users without waiting behind the first.
func TestPerNumberRate(t *testing.T) {
	const rate = 5
	s, c := start(t, twoNumbers(2, "SEND_RATE_PER_NUMBER=5", "SEND_RATE_ACCOUNT=0"))
	ctx := ctxT(t, 3*time.Minute)
	busy, quiet := numbersIn("312", 60), numbersIn("415", 10)
	began := time.Now()
	texts(t, ctx, c, numberA, busy, "hello", "info")
	texts(t, ctx, c, numberB, quiet, "hello")
	_, err := c.WaitDelivered(ctx, "", 2*len(busy)+len(quiet))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	all, _ := c.Delivered(ctx, "")
	if len(all) != 2*len(busy)+len(quiet) {
		t.Fatalf("%d messages delivered, want %d (one per inbound, none twice)", len(all), 2*len(busy)+len(quiet))
	}
	for _, u := range busy {
		got, _ := c.Delivered(ctx, u)
		if len(got) != 2 || got[0].Text != conversation.ReplyGreeting || got[1].Text != conversation.ReplyInfo {
			t.Fatalf("user %s got %d replies out of order or wrong: %+v", u, len(got), got)
		}
	}
	a, b := from(all, numberA), from(all, numberB)
	peak := maxInSecond(a)
	if peak > 2*rate {
		t.Errorf("number A sent %d segments within one second; the limit allows %d (rate %d + burst %d)", peak, 2*rate, rate, rate)
	}
	// Number B has its own limit: its 10 replies are through while A still works through its backlog.
	if last := b[len(b)-1].At; !last.Before(a[len(a)/2].At) {
		t.Errorf("number B's last reply at %s, after A's median reply at %s: B waited behind A", last.Sub(began), a[len(a)/2].At.Sub(began))
	}
	t.Logf("number A: %d replies in %s, %.2f/s after its burst (configured %d/s), peak %d in a second (allowed %d)",
		len(a), a[len(a)-1].At.Sub(a[0].At).Round(time.Millisecond), rateAfterBurst(a, rate), rate, peak, 2*rate)
	t.Logf("number B: %d replies, the last %s after the burst began (A's last: %s)",
		len(b), b[len(b)-1].At.Sub(began).Round(time.Millisecond), a[len(a)-1].At.Sub(began).Round(time.Millisecond))
}

// TestBulkDoesNotDelayReplies: a bulk /sms/send of 500 on a number is paced to its lane (half the number's
// rate), and conversation replies on the same number, arriving while it runs, go through ahead of it.
func TestBulkDoesNotDelayReplies(t *testing.T) {
	const rate, bulk, replies = 50, 500, 30
	s, c := start(t, twoNumbers(2, "SEND_RATE_PER_NUMBER=50", "SEND_RATE_ACCOUNT=0", "SEND_RATE_BULK_SHARE=0.5"))
	ctx := ctxT(t, 3*time.Minute)
	recipients := numbersIn("646", bulk)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, to := range recipients {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			var out map[string]any
			if status, _, err := c.Admin(ctx, "POST", "/sms/send", map[string]string{"to": to, "message": fmt.Sprintf("Sale %d", i), "from": numberA}, &out); err != nil || status != 202 {
				t.Errorf("send %d: %d %v", i, status, err)
			}
		})
	}
	wg.Wait()
	// The bulk is under way: now the users text in.
	if _, err := c.WaitDelivered(ctx, "", 50); err != nil {
		t.Fatal(err)
	}
	texters := numbersIn("718", replies)
	posted := time.Now()
	texts(t, ctx, c, numberA, texters, "hello")
	if _, err := c.WaitDelivered(ctx, "", bulk+replies); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	all, _ := c.Delivered(ctx, "")
	if len(all) != bulk+replies {
		t.Fatalf("%d delivered, want %d", len(all), bulk+replies)
	}
	var bulkSent, replySent []stack.Delivered
	for _, m := range from(all, numberA) {
		if m.Text == conversation.ReplyGreeting {
			replySent = append(replySent, m)
		} else {
			bulkSent = append(bulkSent, m)
		}
	}
	if len(replySent) != replies || len(bulkSent) != bulk {
		t.Fatalf("%d replies and %d bulk messages, want %d and %d", len(replySent), len(bulkSent), replies, bulk)
	}
	lastReply, lastBulk := replySent[len(replySent)-1].At, bulkSent[len(bulkSent)-1].At
	if !lastReply.Before(lastBulk) {
		t.Errorf("the last reply went at %s, after the bulk finished at %s: replies queued behind bulk", lastReply.Sub(posted), lastBulk.Sub(posted))
	}
	// The reply lane has at least half the rate (25/s) plus the reserve: 30 replies in about 1.2 s. A reply
	// stuck behind the bulk backlog would wait for it (about 18 s at 25/s).
	lane := time.Duration(float64(replies)/(rate/2)*float64(time.Second)) + time.Second
	if took := lastReply.Sub(posted); took > 4*lane {
		t.Errorf("replies took %s after the texts, more than four times their lane's %s", took, lane)
	}
	if peak := maxInSecond(from(all, numberA)); peak > 2*rate {
		t.Errorf("number A sent %d segments within one second; the limit allows %d", peak, 2*rate)
	}
	t.Logf("bulk: %d in %s (%.1f/s after its burst; lane %d/s); replies: %d, the last %s after the texts (lane bound %s); peak %d/s (allowed %d)",
		len(bulkSent), lastBulk.Sub(bulkSent[0].At).Round(time.Millisecond), rateAfterBurst(bulkSent, rate/2), rate/2,
		len(replySent), lastReply.Sub(posted).Round(time.Millisecond), lane, maxInSecond(from(all, numberA)), 2*rate)
}

// TestSustainedThrottling: for 20 s (the 60 s, shortened for CI) every send is answered 429 with
// 10011. Nothing is lost or sent twice, the requests stay within the limiter's bound (about one per pause
// per scope once it reacts, plus the first burst), and when the 429s stop the backlog drains at the
// configured rate.
func TestSustainedThrottling(t *testing.T) {
	const (
		rate     = 20
		n        = 100
		throttle = 20 * time.Second
		pause    = time.Second // the sandbox's Retry-After and x-ratelimit-reset
	)
	s, c := start(t, twoNumbers(2, "SEND_RATE_ACCOUNT=20"))
	ctx := ctxT(t, 3*time.Minute)
	if err := c.Faults(ctx, map[string]any{"failure_rate": 1, "status": 429, "code": "10011"}); err != nil {
		t.Fatal(err)
	}
	texters := numbersIn("917", n)
	texts(t, ctx, c, numberA, texters, "hello")
	time.Sleep(throttle) // the fault's duration: Telnyx throttles for this long
	during, err := c.SandboxRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Faults(ctx, map[string]any{"failure_rate": 0}); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	if _, err := c.WaitDelivered(ctx, "", n); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	all, _ := c.Delivered(ctx, "")
	total, _ := c.SandboxRequests(ctx)
	if len(all) != n {
		t.Fatalf("%d delivered, want %d: lost or sent twice", len(all), n)
	}
	seen := map[string]bool{}
	for _, m := range all {
		if seen[m.To] {
			t.Fatalf("%s texted twice", m.To)
		}
		seen[m.To] = true
	}
	// The bound: the first burst (a second of the account's rate) goes before the first 429 is known; then
	// each pause lets about one request through. Twice that leaves room for both workers' timing.
	bound := 2 * (rate + int(throttle/pause))
	if during > bound {
		t.Errorf("%d requests during %s of 429s, want at most %d (2 × (burst %d + one per %s pause))", during, throttle, bound, rate, pause)
	}
	peak := maxInSecond(all)
	if peak > 2*rate {
		t.Errorf("the drain sent %d within one second; the limit allows %d", peak, 2*rate)
	}
	drain := all[len(all)-1].At.Sub(stopped)
	t.Logf("%s of 429s: %d requests (%.2f per message, bound %d in all); after: %d drained in %s (%.1f/s after the burst, configured %d/s, peak %d in a second); %d requests in all, %.2f per message",
		throttle, during, float64(during)/n, bound, n, drain.Round(time.Millisecond), rateAfterBurst(all, rate), rate, peak, total, float64(total)/n)
}
