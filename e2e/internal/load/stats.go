package load

import (
	"math"
	"slices"
	"sort"
	"time"
)

// Latency is a latency distribution, in milliseconds.
type Latency struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p99_9_ms"`
	Max  float64 `json:"max_ms"`
}

// latencyOf summarises ds (it sorts ds in place). Percentiles use the nearest-rank method: the p99 of 100
// samples is the 99th smallest.
func latencyOf(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		i = max(0, min(i, len(ds)-1))
		return round(ms(ds[i]), 3)
	}
	return Latency{N: len(ds), P50: q(0.50), P90: q(0.90), P99: q(0.99), P999: q(0.999), Max: round(ms(ds[len(ds)-1]), 3)}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// median of xs (the mean of the two middle values for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medianBy is the median of f over runs.
func medianBy[T any](runs []T, f func(T) float64) float64 {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = f(r)
	}
	return median(xs)
}

// medianInt is medianBy for counts, rounded.
func medianInt[T any](runs []T, f func(T) int) int {
	return int(math.Round(medianBy(runs, func(r T) float64 { return float64(f(r)) })))
}

// medianLatency takes the median of each percentile across runs (each figure is a median of its own).
func medianLatency[T any](runs []T, f func(T) Latency) Latency {
	return Latency{
		N:    medianInt(runs, func(r T) int { return f(r).N }),
		P50:  medianBy(runs, func(r T) float64 { return f(r).P50 }),
		P90:  medianBy(runs, func(r T) float64 { return f(r).P90 }),
		P99:  medianBy(runs, func(r T) float64 { return f(r).P99 }),
		P999: medianBy(runs, func(r T) float64 { return f(r).P999 }),
		Max:  medianBy(runs, func(r T) float64 { return f(r).Max }),
	}
}

// medianMap takes the median of every key across runs (a key missing from a run counts as 0 there).
func medianMap[T any](runs []T, f func(T) map[string]float64) map[string]float64 {
	keys := map[string]bool{}
	for _, r := range runs {
		for k := range f(r) {
			keys[k] = true
		}
	}
	if len(keys) == 0 {
		return nil
	}
	out := make(map[string]float64, len(keys))
	for k := range keys {
		out[k] = medianBy(runs, func(r T) float64 { return f(r)[k] })
	}
	return out
}

// windowRate counts the events at offsets ts that fall in the steady-state window of a run of length d
// (from d/5 to d: the first fifth is ramp-up) and returns them per second.
func windowRate(ts []time.Duration, d time.Duration) float64 {
	from, to := d/5, d
	n := 0
	for _, t := range ts {
		if t >= from && t < to {
			n++
		}
	}
	return float64(n) / (to - from).Seconds()
}

// round keeps n significant decimals, so the JSON stays readable.
func round(x float64, n int) float64 {
	p := math.Pow(10, float64(n))
	return math.Round(x*p) / p
}
