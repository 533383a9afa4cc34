package console

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/shared/events"
)

// The at-a-glance charts cover the last hour in samples taken every sampleEvery.
const (
	sampleEvery = 10 * time.Second
	samplesKept = int(time.Hour / sampleEvery)
	// totalsWait is how long a sample waits for the workers' answers.
	totalsWait = 500 * time.Millisecond
)

// sample is one reading of the figures.
type sample struct {
	at                  time.Time
	sent, failed        float64 // the workers' counters summed (they restart from zero with a worker)
	backlog, deadLetter uint64
	workers             int
}

// glance keeps the last hour of samples.
type glance struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	samples []sample
}

func newGlance(nc *nats.Conn, js jetstream.JetStream, log *slog.Logger, now func() time.Time) *glance {
	return &glance{nc: nc, js: js, log: log, now: now}
}

func (g *glance) run(ctx context.Context) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		g.take(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// take reads the stream states from JetStream and asks every worker for its totals.
func (g *glance) take(ctx context.Context) {
	if g.js == nil || g.nc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	s := sample{at: g.now()}
	if st, err := g.js.Stream(ctx, events.StreamConversations); err == nil {
		s.backlog = st.CachedInfo().State.Msgs
	}
	if st, err := g.js.Stream(ctx, events.StreamDeadLetters); err == nil {
		s.deadLetter = st.CachedInfo().State.Msgs
	}
	for _, t := range g.totals() {
		s.sent += t.Sent
		s.failed += t.Failed
		s.workers++
	}
	g.mu.Lock()
	g.samples = append(g.samples, s)
	if len(g.samples) > samplesKept+1 {
		g.samples = g.samples[len(g.samples)-samplesKept-1:]
	}
	g.mu.Unlock()
}

// totals gathers the answers of every worker that answers within totalsWait.
func (g *glance) totals() []events.Totals {
	inbox := g.nc.NewRespInbox()
	sub, err := g.nc.SubscribeSync(inbox)
	if err != nil {
		return nil
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := g.nc.PublishRequest(events.TotalsSubject, inbox, nil); err != nil {
		return nil
	}
	var out []events.Totals
	deadline := time.Now().Add(totalsWait)
	for {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			return out
		}
		var t events.Totals
		if json.Unmarshal(m.Data, &t) == nil {
			out = append(out, t)
		}
	}
}

// Glance is what the charts show.
type Glance struct {
	Charts  []Chart
	Workers int
	Since   string
}

// Chart is one small line chart: its points in a 0..100 x 0..30 box, and the latest value.
type Chart struct {
	Title, Now, Points string
}

// snapshot turns the samples into charts: replies per second and failed sends per interval (from the
// counters' increases; a restarted worker's counter starting again counts as no increase), backlog and
// dead letters as read.
func (g *glance) snapshot() Glance {
	g.mu.Lock()
	s := append([]sample(nil), g.samples...)
	g.mu.Unlock()
	if len(s) == 0 {
		return Glance{}
	}
	var rate, failed, backlog, dead []float64
	for i := 1; i < len(s); i++ {
		dt := s[i].at.Sub(s[i-1].at).Seconds()
		if dt <= 0 {
			continue
		}
		rate = append(rate, max(0, s[i].sent-s[i-1].sent)/dt)
		failed = append(failed, max(0, s[i].failed-s[i-1].failed))
	}
	for _, x := range s {
		backlog = append(backlog, float64(x.backlog))
		dead = append(dead, float64(x.deadLetter))
	}
	last := s[len(s)-1]
	sum := 0.0
	for _, f := range failed {
		sum += f
	}
	return Glance{
		Workers: last.workers,
		Since:   fmtClock(s[0].at),
		Charts: []Chart{
			{Title: "Replies per second", Now: fmtFloat(lastOr(rate)), Points: points(rate)},
			{Title: "Backlog", Now: strconv.FormatUint(last.backlog, 10), Points: points(backlog)},
			{Title: "Dead letters", Now: strconv.FormatUint(last.deadLetter, 10), Points: points(dead)},
			{Title: "Failed sends (hour)", Now: fmtFloat(sum), Points: points(failed)},
		},
	}
}

func lastOr(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}

func fmtFloat(f float64) string {
	if f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

// points scales v into the chart's box (x 0..100 over the hour, y 30 at zero, 2 at the maximum).
func points(v []float64) string {
	if len(v) == 0 {
		return ""
	}
	top := 0.0
	for _, x := range v {
		top = max(top, x)
	}
	var b strings.Builder
	step := 100.0 / float64(max(samplesKept-1, 1))
	start := 100 - step*float64(len(v)-1)
	for i, x := range v {
		y := 30.0
		if top > 0 {
			y = 30 - 28*x/top
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", start+step*float64(i), y)
	}
	return b.String()
}

// glanceFragment answers the charts alone, for the list page to refresh them.
func (c *Console) glanceFragment(ctx echo.Context) error {
	return c.render(ctx, http.StatusOK, "list", pageData{Data: struct{ Glance Glance }{c.glass.snapshot()}})
}
