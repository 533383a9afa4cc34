package load

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/stack"
)

func TestLatencyOf(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // unsorted on purpose
	}
	tests := []struct {
		name string
		in   []time.Duration
		want Latency
	}{
		{"none", nil, Latency{}},
		{"one", ms(7), Latency{N: 1, P50: 7, P90: 7, P99: 7, P999: 7, Max: 7}},
		{"1..100", ms(hundred...), Latency{N: 100, P50: 50, P90: 90, P99: 99, P999: 100, Max: 100}},
		{"outlier", ms(1, 1, 1, 1, 1, 1, 1, 1, 1, 1000), Latency{N: 10, P50: 1, P90: 1, P99: 1000, P999: 1000, Max: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := latencyOf(tt.in); got != tt.want {
				t.Fatalf("latencyOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMedians(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	runs := []E2ERun{
		{Replies: 10, RedisCommands: map[string]float64{"evalsha": 1, "hset": 2}, Latency: Latency{P99: 9}, Drained: true},
		{Replies: 30, RedisCommands: map[string]float64{"evalsha": 1}, Latency: Latency{P99: 3}, Drained: false},
		{Replies: 20, RedisCommands: map[string]float64{"evalsha": 3, "hset": 4}, Latency: Latency{P99: 5}, Drained: true},
	}
	m := medianE2E(runs)
	if m.Replies != 20 || m.Latency.P99 != 5 || m.Drained {
		t.Errorf("median run: replies %d, p99 %v, drained %v; want 20, 5, false", m.Replies, m.Latency.P99, m.Drained)
	}
	if m.RedisCommands["evalsha"] != 1 || m.RedisCommands["hset"] != 2 {
		t.Errorf("median commands %v: want evalsha 1, hset 2 (a command missing from a run counts 0)", m.RedisCommands)
	}
}

func TestWindowRate(t *testing.T) {
	var ts []time.Duration
	for i := range 1000 { // 100/s over 10 s
		ts = append(ts, time.Duration(i)*10*time.Millisecond)
	}
	if got := windowRate(ts, 10*time.Second); got != 100 {
		t.Errorf("steady 100/s: windowRate = %v", got)
	}
	late := append(ts[:200:200], 20*time.Second) // everything after 2 s arrived late
	if got := windowRate(late, 10*time.Second); got != 0 {
		t.Errorf("nothing in the window: windowRate = %v", got)
	}
}

func TestClosedUsersAreDistinctNANPNumbers(t *testing.T) {
	seen := map[string]bool{}
	users := func(yield func(int64) bool) {
		for u := range int64(200_000) {
			if !yield(u) {
				return
			}
		}
		// Across every exchange: one line number per area code and exchange.
		for u := int64(200_000); u < 79_200_000; u += 10_000 {
			if !yield(u + 1) {
				return
			}
		}
	}
	for u := range users {
		n := closedUser(u)
		if len(n) != 12 || !strings.HasPrefix(n, "+1") || strings.Trim(n[1:], "0123456789") != "" || n[5] < '2' || n[6:8] == "11" {
			t.Fatalf("user %d: %q is not a +1 NANP number", u, n)
		}
		if seen[n] {
			t.Fatalf("user %d: %s repeats", u, n)
		}
		seen[n] = true
	}
}

func TestUserNumbersAreDistinctE164(t *testing.T) {
	seen := map[string]bool{}
	for u := range 100_000 {
		n := UserNumber(u)
		if len(n) != 12 || !strings.HasPrefix(n, "+1") || strings.Trim(n[1:], "0123456789") != "" {
			t.Fatalf("user %d: %q is not a +1 E.164 number", u, n)
		}
		if seen[n] {
			t.Fatalf("user %d: %s repeats", u, n)
		}
		seen[n] = true
	}
}

func TestRedisInfoPerMessage(t *testing.T) {
	before := parseRedisInfo("# Stats\r\ntotal_commands_processed:10\r\ntotal_reads_processed:100\r\n# Commandstats\r\n" +
		"cmdstat_evalsha:calls=5,usec=50,usec_per_call=10.00,rejected_calls=0,failed_calls=0\r\ncmdstat_info:calls=1,usec=1\r\n")
	after := parseRedisInfo("total_reads_processed:401\r\ncmdstat_evalsha:calls=105,usec=1\r\ncmdstat_hset:calls=300,usec=1\r\n" +
		"cmdstat_hgetall:calls=200,usec=1\r\ncmdstat_info:calls=2,usec=1\r\n")
	reads, cmds, by := redisPerMessage(before, after, 100)
	if reads != 3 || cmds != 6 || by["evalsha"] != 1 || by["hset"] != 3 || by["hgetall"] != 2 || len(by) != 3 {
		t.Fatalf("per message: %v round trips, %v commands, %v; want 3, 6, evalsha 1 hset 3 hgetall 2 (INFO left out)", reads, cmds, by)
	}
	if r, c, b := redisPerMessage(before, after, 0); r != 0 || c != 0 || b != nil {
		t.Fatalf("no messages: %v %v %v", r, c, b)
	}
}

func TestPerMessageAndOtherLoad(t *testing.T) {
	before := cpuSnapshot{"ingress": time.Second, "workers": 0, keyMachine: 10 * time.Second, keyWall: time.Minute}
	after := cpuSnapshot{"ingress": 3 * time.Second, "workers": time.Second, keyMachine: 15 * time.Second, keyWall: time.Minute + 2*time.Second}
	got := perMessage(before, after, 1000)
	if len(got) != 2 || got["ingress"] != 2000 || got["workers"] != 1000 {
		t.Fatalf("perMessage = %v, want ingress 2000 and workers 1000 µs only", got)
	}
	// The machine was busy 5 s in 2 s of wall time; our processes account for 3 s: 1 core went elsewhere.
	if o := otherCores(before, after); o != 1 {
		t.Fatalf("otherCores = %v, want 1", o)
	}
	if d, err := machineBusy(); err != nil || d <= 0 {
		t.Fatalf("machineBusy = %v, %v", d, err)
	}
}

// TestFireIsOpenLoop sends to a server that answers nothing until all 40 requests are in flight: a closed-loop
// generator waits for answers before sending more, so it never gets there and the server gives up (its answers
// are then 503); an open-loop one sends on schedule (every 10 ms) and charges each answer from its due time.
func TestFireIsOpenLoop(t *testing.T) {
	const n = 40
	var got atomic.Int32
	allIn := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got.Add(1) == n {
			close(allIn)
		}
		select {
		case <-allIn:
			w.WriteHeader(http.StatusOK)
		case <-time.After(20 * time.Second): // a bound on a broken generator, not a measurement
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	g := newGenerator(srv.URL)
	defer g.close()
	reqs := make([]request, n)
	for i := range reqs {
		reqs[i] = request{body: []byte(fmt.Sprintf(`{"n":%d}`, i))}
	}
	_, samples := g.fire(context.Background(), reqs, 100)
	if len(samples) != n || got.Load() != n {
		t.Fatalf("%d samples, %d requests served; want %d", len(samples), got.Load(), n)
	}
	for i, s := range samples {
		if want := time.Duration(i) * 10 * time.Millisecond; s.scheduled != want {
			t.Fatalf("request %d due at %v, want %v", i, s.scheduled, want)
		}
		if s.status != http.StatusOK || s.sent < s.scheduled || s.latency() < 0 {
			t.Fatalf("request %d: %+v (503: not every request was in flight at once; the generator waited for answers)", i, s)
		}
	}
}

// TestFireStopsWithContext: the server cancels the run at its fifth request; fire stops scheduling and
// returns what it sent instead of the 1,000 planned (10 s of load).
func TestFireStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if got.Add(1) == 5 {
			cancel()
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	g := newGenerator(srv.URL)
	defer g.close()
	reqs := make([]request, 1000)
	_, samples := g.fire(ctx, reqs, 100)
	if len(samples) < 5 || len(samples) == len(reqs) {
		t.Fatalf("%d requests sent; want the run stopped soon after the fifth (of %d)", len(samples), len(reqs))
	}
}

func TestPrepareSignsDistinctWebhooks(t *testing.T) {
	s := &stack.Stack{Seed: make([]byte, 32), OurNumber: "+13125550100"}
	reqs := prepare(s.Client(), "tag", 23, 5, s.OurNumber)
	keys := map[string]bool{}
	for i, r := range reqs {
		if r.header.Get("Telnyx-Signature-Ed25519") == "" || r.header.Get("Telnyx-Timestamp") == "" {
			t.Fatalf("request %d is not signed: %v", i, r.header)
		}
		wantFrom := UserNumber(i % 5)
		if !strings.Contains(string(r.body), `"phone_number":"`+wantFrom+`"`) {
			t.Fatalf("request %d not from user %s: %s", i, wantFrom, r.body)
		}
		if keys[r.replyKey] || !strings.HasPrefix(r.replyKey, "rpl_mtag-") {
			t.Fatalf("request %d reply key %q repeats or is malformed", i, r.replyKey)
		}
		keys[r.replyKey] = true
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig(true)
	ok.Bins = stack.Binaries{Ingress: "x"}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"valid", func(*Config) {}, ""},
		{"unknown scenario", func(c *Config) { c.Scenarios = []string{"soak"} }, `scenario "soak"`},
		{"zero rate", func(c *Config) { c.E2ERates = []float64{0} }, "rate 0"},
		{"no workers", func(c *Config) { c.Workers = []int{0} }, "worker count 0"},
		{"too many users", func(c *Config) { c.Users = 200_000 }, "conversation count 200000"},
		{"short duration", func(c *Config) { c.Duration = time.Millisecond }, "duration 1ms"},
		{"no runs", func(c *Config) { c.Runs = 0 }, "runs 0"},
		{"not built", func(c *Config) { c.Bins = stack.Binaries{} }, "binaries not built"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mutate(&c)
			err := c.validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("validate = %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	rep := &Report{VerifyMicros: 50,
		Ingress: []IngressStep{
			{OfferedRPS: 1000, Median: IngressRun{AcceptedPerSec: 1000, IngressCPUPerAcceptedUS: 90}},
			{OfferedRPS: 2000, Median: IngressRun{AcceptedPerSec: 1990, IngressCPUPerAcceptedUS: 70},
				Floor: IngressRun{AcceptedPerSec: 2000, IngressCPUPerAcceptedUS: 45}},
			{OfferedRPS: 4000, Median: IngressRun{AcceptedPerSec: 2500, IngressCPUPerAcceptedUS: 60}}, // overloaded
		},
		EndToEnd: []E2EStep{
			{Workers: 1, OfferedRPS: 1000, Median: E2ERun{RedisRoundTripsPerMsg: 3, Latency: Latency{P99: 30}}},
			{Workers: 2, OfferedRPS: 1000, Median: E2ERun{RedisRoundTripsPerMsg: 3, Latency: Latency{P99: 20}}},
		},
		Slow: []E2EStep{{Conversations: 100, OfferedRPS: 2500, Median: E2ERun{RepliesPerSec: 500}},
			{Conversations: 10_000, OfferedRPS: 2500, Median: E2ERun{RepliesPerSec: 2100}}},
		Closed: &ClosedStep{Ratio: 0.4, RatioTuned: 0.3,
			Naive:   ClosedRun{Replies: 100, RepliesPerSec: 2500, SystemCPUPerReplyUS: 400},
			Tuned:   ClosedRun{Replies: 100, RepliesPerSec: 3300, SystemCPUPerReplyUS: 300},
			Floor:   ClosedRun{Replies: 100, RepliesPerSec: 2400, SystemCPUPerReplyUS: 350, CPUPerReplyUS: map[string]float64{procNATS: 150, procRedis: 200}},
			SMSConv: ClosedRun{Replies: 100, RepliesPerSec: 1000, SystemCPUPerReplyUS: 1300}},
	}
	got := map[string]string{}
	for _, tg := range targets(rep) {
		got[tg.Name] = strings.TrimSpace(verdict(tg.Met)) + " " + tg.Measured
	}
	want := map[string]string{
		"ingress CPU per accepted webhook":                                         "met 70.0 µs = 1.40 x Verify, at 2000 webhooks/s offered",
		"ingress floor: the HTTP exchange and the signature check alone (no goal)": "n/a 45.0 µs = 0.90 x Verify, at 2000 webhooks/s offered; the ingress spends 25.0 µs more",
		"closed-loop replies/s beside the naive server":                            "MISS 0.40x",
		"closed-loop replies/s beside the tuned toy (no goal)":                     "n/a 0.30x",
		"closed-loop floor: NATS and Redis alone (no goal)":                        "n/a 350 µs per message (redis 200, nats 150), 0.88x the naive server's whole 400 µs",
		"closed-loop bound for a design with NATS and Redis on the path (no goal)": "n/a CPU per reply >= the tuned toy's 300 + the floor's 350 = 650 µs, 1.62x the naive server's; smsconv spends 650 µs above the bound",
		"closed-loop CPU per reply, all processes":                                 "MISS 1300 µs",
		"Redis round trips per inbound message (worker)":                           "MISS",
		"end-to-end p99 at 1000 msg/s, 1 worker(s)":                                "MISS",
		"end-to-end p99 at 1000 msg/s, 2 worker(s)":                                "met",
		"replies/s with a 0 ms fake Telnyx":                                        "met 2100 replies/s with 10000 conversations",
	}
	if len(got) != len(want) {
		t.Errorf("targets %v", got)
	}
	for name, prefix := range want {
		if !strings.HasPrefix(got[name], prefix) {
			t.Errorf("%s: %q, want it to start with %q", name, got[name], prefix)
		}
	}
	if tg := targets(&Report{Slow: []E2EStep{{OfferedRPS: 100, Median: E2ERun{RepliesPerSec: 100}}}}); tg[0].Met != nil {
		t.Errorf("a slow run offered below the goal was judged: %+v", tg[0])
	}
}

func TestSVGOfEmptyAndPartialReports(t *testing.T) {
	checkSVG(t, (&Report{}).SVG(), 0)
	rep := &Report{Ingress: []IngressStep{{OfferedRPS: 500, Median: IngressRun{Latency: Latency{P50: 1, P99: 3, P999: 9}}},
		{OfferedRPS: 1000, Median: IngressRun{Latency: Latency{P50: 1.2, P99: 4, P999: 30}}}}}
	svg := rep.SVG()
	checkSVG(t, svg, 3)
	if !strings.Contains(string(svg), "not measured") {
		t.Error("empty panels are not marked as not measured")
	}
}

func TestAxisTicks(t *testing.T) {
	tests := []struct {
		a    axis
		want string
	}{
		{axis{lo: 0, hi: 4200}, "[0 1000 2000 3000 4000]"},
		{axis{lo: 0, hi: 105}, "[0 50 100]"},
		{axis{lo: 0.1, hi: 100, log: true}, "[0.1 0.2 0.5 1 2 5 10 20 50 100]"},
		{axis{lo: 0.01, hi: 1000, log: true}, "[0.01 0.1 1 10 100 1000]"},
	}
	for _, tt := range tests {
		got := fmt.Sprint(tt.a.ticks())
		if got != tt.want {
			t.Errorf("ticks of %+v = %s, want %s", tt.a, got, tt.want)
		}
	}
	a := axis{lo: 1, hi: 100, log: true, from: 0, to: 200}
	if p := a.px(10); math.Abs(p-100) > 1e-9 {
		t.Errorf("10 on a 1..100 log axis over 200 px at %v, want 100", p)
	}
}

// checkSVG parses b as XML and checks it is an SVG with at least minLines plotted lines.
func checkSVG(tb testing.TB, b []byte, minLines int) {
	tb.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	n, root := 0, ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("SVG is not well-formed XML: %v\n%s", err, b)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "polyline" {
				n++
			}
		}
	}
	if root != "svg" || n < minLines {
		tb.Fatalf("SVG root <%s> with %d polylines, want <svg> with at least %d", root, n, minLines)
	}
}
