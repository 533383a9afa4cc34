package sendrate_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smsconv/smsconv/shared/redistest"
	"github.com/smsconv/smsconv/shared/sendrate"
)

const (
	numA = "+12125550100"
	numB = "+12125550101"
)

func newLimiter(tb testing.TB, lim sendrate.Limits) *sendrate.Limiter {
	tb.Helper()
	srv := redistest.Start(tb)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	tb.Cleanup(func() { _ = rdb.Close() })
	l := sendrate.New(rdb, fmt.Sprintf("t%d", time.Now().UnixNano()), lim)
	l.MaxWait = 0 // the tests read the slots themselves
	return l
}

func reserve(tb testing.TB, l *sendrate.Limiter, id, from string, lane sendrate.Lane, segs int) time.Duration {
	tb.Helper()
	d, err := l.Reserve(context.Background(), id, from, lane, segs)
	if err != nil {
		tb.Fatalf("Reserve(%s): %v", id, err)
	}
	return d
}

// TestReserveSpacesSlots: the first second's burst goes at once, then each message gets a slot one interval
// after the previous one, and asking again with the same id keeps the slot instead of taking another.
func TestReserveSpacesSlots(t *testing.T) {
	l := newLimiter(t, sendrate.Limits{PerNumber: 5})
	var waits []time.Duration
	for i := range 15 {
		waits = append(waits, reserve(t, l, fmt.Sprint("m", i), numA, sendrate.Reply, 1))
	}
	for i := range 5 {
		if waits[i] != 0 {
			t.Fatalf("message %d of the burst waits %s", i, waits[i])
		}
	}
	for i := 5; i < 15; i++ {
		// Slot i is (i-4) intervals of 200 ms after the start; the calls themselves take a little time.
		want := time.Duration(i-4) * 200 * time.Millisecond
		if waits[i] > want || waits[i] < want-150*time.Millisecond {
			t.Fatalf("message %d waits %s, want about %s (waits %v)", i, waits[i], want, waits)
		}
	}
	again := reserve(t, l, "m14", numA, sendrate.Reply, 1)
	if again > waits[14] || again < waits[14]-150*time.Millisecond {
		t.Fatalf("asking again moved the slot: %s then %s", waits[14], again)
	}
	// The other number has its own limit.
	if d := reserve(t, l, "b0", numB, sendrate.Reply, 1); d != 0 {
		t.Fatalf("another number waits %s", d)
	}
}

// TestSegmentsCount: a message of 3 segments costs 3.
func TestSegmentsCount(t *testing.T) {
	l := newLimiter(t, sendrate.Limits{PerNumber: 2})
	if d := reserve(t, l, "a", numA, sendrate.Reply, 3); d != 0 {
		t.Fatalf("a message larger than the burst still goes on an idle number; waits %s", d)
	}
	// 3 segments at 2/s overdrew the bucket of 2 by one: the next segment fits once 2 have drained, in 1 s.
	if d := reserve(t, l, "b", numA, sendrate.Reply, 1); d < 800*time.Millisecond || d > time.Second {
		t.Fatalf("next waits %s, want about 1s", d)
	}
}

// TestAccountLimit: numbers without a limit of their own share the account's.
func TestAccountLimit(t *testing.T) {
	l := newLimiter(t, sendrate.Limits{Account: 4})
	waiting := 0
	for i := range 8 {
		from := numA
		if i%2 == 1 {
			from = numB
		}
		if reserve(t, l, fmt.Sprint("m", i), from, sendrate.Reply, 1) > 0 {
			waiting++
		}
	}
	if waiting != 4 {
		t.Fatalf("%d of 8 wait, want 4 (the account's burst is 4)", waiting)
	}
}

// TestRepliesAheadOfBulk: a queued bulk send does not take the capacity replies reserved, and bulk is paced
// to its share.
func TestRepliesAheadOfBulk(t *testing.T) {
	l := newLimiter(t, sendrate.Limits{PerNumber: 10, BulkShare: 0.5})
	// Bulk alone: its lane bursts 5 (half of 10) and then waits.
	bulkNow := 0
	for i := range 10 {
		if reserve(t, l, fmt.Sprint("b", i), numA, sendrate.Bulk, 1) == 0 {
			bulkNow++
		}
	}
	if bulkNow != 5 {
		t.Fatalf("%d bulk messages went at once, want 5 (half the burst)", bulkNow)
	}
	// Replies still have the rest of the burst...
	for i := range 5 {
		if d := reserve(t, l, fmt.Sprint("r", i), numA, sendrate.Reply, 1); d != 0 {
			t.Fatalf("reply %d waits %s behind bulk", i, d)
		}
	}
	// ...and reserve the slots after it; a bulk message whose lane slot comes must not take them.
	r := reserve(t, l, "r5", numA, sendrate.Reply, 1)
	if r == 0 || r > 150*time.Millisecond {
		t.Fatalf("reply 5 waits %s, want about one interval", r)
	}
	time.Sleep(r)
	if d := reserve(t, l, "r5", numA, sendrate.Reply, 1); d != 0 {
		t.Fatalf("reply 5 at its slot waits %s more", d)
	}
	b := reserve(t, l, "b5", numA, sendrate.Bulk, 1)
	if b == 0 {
		t.Fatal("bulk took capacity while replies use the whole limit")
	}
}

// TestThrottled: a throttling answer holds the scope for its pause, then the rate is lower with no burst.
func TestThrottled(t *testing.T) {
	l := newLimiter(t, sendrate.Limits{PerNumber: 10})
	f, err := l.Throttled(context.Background(), numA, sendrate.Number, 500*time.Millisecond)
	if err != nil || f != 0.5 {
		t.Fatalf("Throttled = %v, %v; want 0.5", f, err)
	}
	// Concurrent answers to requests already in flight lower the rate once.
	if f, _ := l.Throttled(context.Background(), numA, sendrate.Number, 500*time.Millisecond); f != 0.5 {
		t.Fatalf("a second answer within the pause lowered the rate again: %v", f)
	}
	d := reserve(t, l, "m0", numA, sendrate.Reply, 1)
	if d < 350*time.Millisecond || d > 500*time.Millisecond {
		t.Fatalf("first message waits %s, want the pause (500ms)", d)
	}
	// At half the rate (5/s) with no burst, the next slots are 200 ms apart.
	d1 := reserve(t, l, "m1", numA, sendrate.Reply, 1)
	if gap := d1 - d; gap < 150*time.Millisecond || gap > 250*time.Millisecond {
		t.Fatalf("slots %s apart after throttling, want 200ms", gap)
	}
	// The account was not slowed.
	if d := reserve(t, l, "x", numB, sendrate.Reply, 1); d != 0 {
		t.Fatalf("another number waits %s", d)
	}
	// A number with no limit of its own is still held by the pause.
	l2 := newLimiter(t, sendrate.Limits{Account: 50})
	if _, err := l2.Throttled(context.Background(), numA, sendrate.Account, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := reserve(t, l2, "y", numB, sendrate.Reply, 1); d < 200*time.Millisecond {
		t.Fatalf("account hold not applied: waits %s", d)
	}
}

// TestSharedAcrossReplicas: limiters of several replicas on one Redis hand out no more than rate + burst
// per second, measured on the slots they give.
func TestSharedAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	const rate, n = 20.0, 120
	lim := sendrate.Limits{PerNumber: rate}
	var limiters []*sendrate.Limiter
	for range 3 {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
		t.Cleanup(func() { _ = rdb.Close() })
		l := sendrate.New(rdb, "shared", lim)
		l.MaxWait = 0
		limiters = append(limiters, l)
	}
	start := time.Now()
	slots := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			d, err := limiters[i%3].Reserve(context.Background(), fmt.Sprint("m", i), numA, sendrate.Reply, 1)
			if err != nil {
				t.Error(err)
			}
			slots[i] = time.Since(start) + d
		})
	}
	wg.Wait()
	perSecond := map[int]int{}
	last := time.Duration(0)
	for _, s := range slots {
		perSecond[int(s/time.Second)]++
		last = max(last, s)
	}
	for sec, c := range perSecond {
		if c > int(2*rate)+1 { // +1: the slots are read on this clock, the limiter keeps Redis's
			t.Fatalf("second %d has %d slots, more than rate + burst (%v)", sec, c, 2*rate)
		}
	}
	// 120 at 20/s with a 20 burst: the last slot is 5 s out.
	want := time.Duration(float64(n-int(rate)) / rate * float64(time.Second))
	if math.Abs(float64(last-want)) > float64(500*time.Millisecond) {
		t.Fatalf("last slot at %s, want about %s", last, want)
	}
	t.Logf("3 replicas, %d reservations at %v/s: last slot at %s (%.1f/s after the burst)", n, rate, last, float64(n-int(rate))/last.Seconds())
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    map[string]float64
		wantErr string
	}{
		{"rates in every unit", "numbers:\n  \"+18005550100\": 20\n  \"+12125550100\": 75/min\n  \"+12125550101\": 3600/h\n  \"+12125550102\": 0\n",
			map[string]float64{"+18005550100": 20, "+12125550100": 1.25, "+12125550101": 1, "+12125550102": 0}, ""},
		{"empty file", "", map[string]float64{}, ""},
		{"unknown key", "number:\n  \"+18005550100\": 20\n", nil, "field number not found"},
		{"bad number", "numbers:\n  \"12\": 20\n", nil, "line 2"},
		{"bad rate", "numbers:\n  \"+18005550100\": fast\n", nil, "rate \"fast\""},
		{"negative rate", "numbers:\n  \"+18005550100\": -1\n", nil, "rate \"-1\""},
		{"number twice", "numbers:\n  \"+18005550100\": 20\n  \"+1 800 555 0100\": 10\n", nil, "given twice"},
		{"not a map", "numbers: [1, 2]\n", nil, "want a map"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sendrate.Parse([]byte(tc.yaml))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("Parse = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		name string
		lim  sendrate.Limits
		ok   bool
	}{
		{"defaults", sendrate.Limits{Account: 50}, true},
		{"all off", sendrate.Limits{}, true},
		{"negative account", sendrate.Limits{Account: -1}, false},
		{"negative number override", sendrate.Limits{Numbers: map[string]float64{numA: -2}}, false},
		{"bulk share over one", sendrate.Limits{BulkShare: 1.5}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.lim.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestScopeOf(t *testing.T) {
	tests := []struct {
		name      string
		code      string
		status    int
		want      sendrate.Scope
		throttled bool
	}{
		{"API rate limit slows the account", "10011", 429, sendrate.Account, true},
		{"queue full slows the number", "40318", 429, sendrate.Number, true},
		{"temporary spam slows the number", "40002", 400, sendrate.Number, true},
		{"a 429 without code slows the account", "", 429, sendrate.Account, true},
		{"a 500 is not throttling", "10007", 500, sendrate.Account, false},
		{"opt-out is not throttling", "40300", 403, sendrate.Account, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ok := sendrate.ScopeOf(tc.code, tc.status)
			if ok != tc.throttled || ok && s != tc.want {
				t.Fatalf("ScopeOf = %v, %v; want %v, %v", s, ok, tc.want, tc.throttled)
			}
		})
	}
}

// TestHoldRespacesReservations: messages that reserved slots before a throttling answer do not all go when
// the hold ends: each takes a new slot when it comes back.
func TestHoldRespacesReservations(t *testing.T) {
	l := newLimiter(t, sendrate.Limits{PerNumber: 10})
	for i := range 12 { // the burst of 10 goes, two reserve slots
		reserve(t, l, fmt.Sprint("m", i), numA, sendrate.Reply, 1)
	}
	if _, err := l.Throttled(context.Background(), numA, sendrate.Number, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	a := reserve(t, l, "m10", numA, sendrate.Reply, 1)
	b := reserve(t, l, "m11", numA, sendrate.Reply, 1)
	// At half the rate (5/s) with no burst, 200 ms apart, the first no sooner than the hold's end.
	if a < 200*time.Millisecond || b-a < 150*time.Millisecond {
		t.Fatalf("after the hold: waits %s and %s, want the hold then 200 ms apart", a, b)
	}
}

// TestMaxWaitAndRecovery: a wait is handed out in pieces of at most MaxWait, the slot kept between them; when
// a throttled scope recovers, the slow slots are dropped and the next reservation goes at the configured rate.
func TestMaxWaitAndRecovery(t *testing.T) {
	l := newLimiter(t, sendrate.Limits{PerNumber: 10})
	l.MaxWait, l.Cooldown = 300*time.Millisecond, 400*time.Millisecond
	if _, err := l.Throttled(context.Background(), numA, sendrate.Number, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var last time.Duration
	for i := range 10 { // at 5/s after the hold: the tenth slot is about 2 s out
		last = reserve(t, l, fmt.Sprint("m", i), numA, sendrate.Reply, 1)
	}
	if last != 300*time.Millisecond {
		t.Fatalf("a 2 s wait handed out as %s, want the 300ms MaxWait", last)
	}
	time.Sleep(500 * time.Millisecond) // past the cooldown: the configured rate is back
	if d := reserve(t, l, "m9", numA, sendrate.Reply, 1); d >= 300*time.Millisecond {
		t.Fatalf("after recovery the last message still waits %s for its slow slot", d)
	}
}
