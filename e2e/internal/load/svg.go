package load

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// series is one line of a plot.
type series struct {
	name  string
	color string
	dash  string // SVG stroke-dasharray, "" for solid
	pts   [][2]float64
}

// axis maps data values to pixels, linearly or on a log10 scale.
type axis struct {
	lo, hi   float64 // data range (for log: positive)
	log      bool
	from, to float64 // pixel range
}

func (a axis) px(v float64) float64 {
	lo, hi := a.lo, a.hi
	if a.log {
		v, lo, hi = math.Log10(math.Max(v, a.lo)), math.Log10(lo), math.Log10(hi)
	}
	if hi == lo {
		return (a.from + a.to) / 2
	}
	return a.from + (v-lo)/(hi-lo)*(a.to-a.from)
}

// ticks are the values labelled on the axis: decades (with 2 and 5 between when few) on a log scale,
// round steps on a linear one.
func (a axis) ticks() []float64 {
	var out []float64
	if a.log {
		decades := math.Log10(a.hi) - math.Log10(a.lo)
		for e := math.Floor(math.Log10(a.lo)); e <= math.Ceil(math.Log10(a.hi)); e++ {
			for _, m := range []float64{1, 2, 5} {
				v := m * math.Pow(10, e)
				if (m == 1 || decades <= 3) && v >= a.lo*0.999 && v <= a.hi*1.001 {
					out = append(out, v)
				}
			}
		}
		return out
	}
	step := niceStep((a.hi - a.lo) / 5)
	for v := math.Ceil(a.lo/step) * step; v <= a.hi+step/1000; v += step {
		out = append(out, v)
	}
	return out
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func label(v float64) string {
	switch {
	case v >= 1000 && math.Mod(v, 1000) == 0:
		return strconv.FormatFloat(v/1000, 'f', -1, 64) + "k"
	case v >= 1:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return strconv.FormatFloat(v, 'g', 2, 64)
	}
}

// panel draws one plot with its axes, grid, lines and legend in the box (x, y, w, h).
func panel(b *strings.Builder, x, y, w, h float64, title, xlabel, ylabel string, ss []series, logX, logY bool) {
	const left, right, top, bottom = 58, 12, 28, 44
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="14" font-weight="bold">%s</text>`+"\n", x+left, y+18, html.EscapeString(title))
	var xs, ys []float64
	for _, s := range ss {
		for _, p := range s.pts {
			if (!logX || p[0] > 0) && (!logY || p[1] > 0) {
				xs, ys = append(xs, p[0]), append(ys, p[1])
			}
		}
	}
	if len(xs) == 0 {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="12" fill="#666">not measured</text>`+"\n", x+left, y+h/2)
		return
	}
	ax := axis{lo: 0, hi: slicesMax(xs) * 1.05, log: logX, from: x + left, to: x + w - right}
	if logX {
		ax.lo, ax.hi = math.Pow(10, math.Floor(math.Log10(slicesMin(xs)))), math.Pow(10, math.Ceil(math.Log10(slicesMax(xs))))
	}
	// Headroom above the highest point keeps the legend (top left) clear of the lines.
	ay := axis{lo: 0, hi: slicesMax(ys) * 1.35, log: logY, from: y + h - bottom, to: y + top}
	if logY {
		ay.lo, ay.hi = math.Pow(10, math.Floor(math.Log10(slicesMin(ys)))), math.Pow(10, math.Ceil(math.Log10(slicesMax(ys))))
	}
	// Frame, grid and tick labels.
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#999"/>`+"\n", ax.from, ay.to, ax.to-ax.from, ay.from-ay.to)
	for _, t := range ax.ticks() {
		px := ax.px(t)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, px, ay.to, px, ay.from)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%s</text>`+"\n", px, ay.from+15, label(t))
	}
	for _, t := range ay.ticks() {
		py := ay.px(t)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, ax.from, py, ax.to, py)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="end">%s</text>`+"\n", ax.from-5, py+4, label(t))
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="12" text-anchor="middle">%s</text>`+"\n", (ax.from+ax.to)/2, y+h-8, html.EscapeString(xlabel))
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="12" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
		x+14, (ay.from+ay.to)/2, x+14, (ay.from+ay.to)/2, html.EscapeString(ylabel))
	// Lines with their points, then the legend.
	for i, s := range ss {
		var pts []string
		for _, p := range s.pts {
			if (logX && p[0] <= 0) || (logY && p[1] <= 0) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", ax.px(p[0]), ay.px(p[1])))
		}
		dash := ""
		if s.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.dash)
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", s.color, dash, strings.Join(pts, " "))
		for _, p := range pts {
			xy := strings.Split(p, ",")
			fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`, xy[0], xy[1], s.color)
		}
		ly := ay.to + 14 + float64(i)*15
		fmt.Fprintf(b, "\n"+`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`, ax.from+8, ly-4, ax.from+28, ly-4, s.color, dash)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="11">%s</text>`+"\n", ax.from+32, ly, html.EscapeString(s.name))
	}
}

func slicesMax(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = math.Max(m, x)
	}
	return m
}

func slicesMin(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = math.Min(m, x)
	}
	return m
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

// SVG draws latency percentiles against offered rate for the ingress and the end-to-end path (one colour
// per worker count, p50 dashed and p99 solid), and the slow-provider replies per second against the number
// of conversations.
func (r *Report) SVG() []byte {
	const w, h = 1320.0, 440.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif">`+"\n", w, h, w, h)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	sub := fmt.Sprintf("%s · %s · medians of %d run(s) of %gs · open-loop, latency from the due time",
		r.StartedAt.Format("2006-01-02"), r.Machine, r.Runs, r.DurationSeconds)
	if r.Short {
		sub += " · SHORT MODE (smoke run, not a measurement)"
	}
	fmt.Fprintf(&b, `<text x="16" y="22" font-size="16" font-weight="bold">smsconv: latency percentiles vs offered rate</text>`+"\n")
	fmt.Fprintf(&b, `<text x="16" y="40" font-size="11" fill="#444">%s</text>`+"\n", html.EscapeString(sub))

	var ing []series
	for i, p := range []struct {
		name string
		f    func(Latency) float64
	}{{"p50", func(l Latency) float64 { return l.P50 }}, {"p99", func(l Latency) float64 { return l.P99 }},
		{"p99.9", func(l Latency) float64 { return l.P999 }}} {
		s := series{name: p.name, color: palette[i]}
		for _, st := range r.Ingress {
			s.pts = append(s.pts, [2]float64{st.OfferedRPS, p.f(st.Median.Latency)})
		}
		ing = append(ing, s)
	}
	panel(&b, 0, 50, 440, h-50, "Ingress only: webhook -> 2xx (JetStream ack)", "offered webhooks/s", "latency, ms (log)", ing, false, true)

	var e2e []series
	var workers []int
	for _, st := range r.EndToEnd {
		if len(workers) == 0 || workers[len(workers)-1] != st.Workers {
			workers = append(workers, st.Workers)
		}
	}
	for i, wk := range workers {
		p50 := series{name: fmt.Sprintf("p50, %d worker(s)", wk), color: palette[i%len(palette)], dash: "5,4"}
		p99 := series{name: fmt.Sprintf("p99, %d worker(s)", wk), color: palette[i%len(palette)]}
		for _, st := range r.EndToEnd {
			if st.Workers == wk {
				p50.pts = append(p50.pts, [2]float64{st.OfferedRPS, st.Median.Latency.P50})
				p99.pts = append(p99.pts, [2]float64{st.OfferedRPS, st.Median.Latency.P99})
			}
		}
		e2e = append(e2e, p99, p50)
	}
	panel(&b, 440, 50, 440, h-50, "End to end: webhook -> reply at the fake Telnyx", "offered messages/s", "latency, ms (log)", e2e, false, true)

	var slow []series
	if len(r.Slow) > 0 {
		got := series{name: "replies/s", color: palette[0]}
		offered := series{name: "offered/s", color: "#999", dash: "3,3"}
		for _, st := range r.Slow {
			got.pts = append(got.pts, [2]float64{float64(st.Conversations), st.Median.RepliesPerSec})
			offered.pts = append(offered.pts, [2]float64{float64(st.Conversations), st.OfferedRPS})
		}
		slow = append(slow, got, offered)
	}
	title := "Slow Telnyx: throughput"
	if len(r.Slow) > 0 {
		title = fmt.Sprintf("Slow Telnyx (%.0f ms): throughput, %d worker(s)", r.Slow[0].ProviderLatencyMS, r.Slow[0].Workers)
	}
	panel(&b, 880, 50, 440, h-50, title, "conversations (log)", "replies/s", slow, true, false)
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// WriteSVG writes SVG() to path.
func (r *Report) WriteSVG(path string) error { return writeFile(path, r.SVG()) }
