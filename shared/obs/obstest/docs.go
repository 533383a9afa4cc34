// Package obstest checks, from each service's tests, that the metrics a service exports are the ones the
// README's metrics table and the Grafana dashboard describe. Each service checks its own metrics against
// the table; the table is checked against the dashboard once, so together every documented or charted
// metric is one some service really exports, with the labels the table names.
package obstest

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Row is one metric as the README's metrics table documents it.
type Row struct {
	// Services are the services that export it (ingress, worker).
	Services []string
	// Labels are its label names, sorted.
	Labels []string
}

var (
	backticked = regexp.MustCompile("`([^`]+)`")
	labelName  = regexp.MustCompile("`([a-z_]+)`:")
	metricName = regexp.MustCompile(`smsconv_[a-z_]+`)
)

// READMETable reads the metrics table of the README at root: rows "| `name`[, `name`] | services | labels |
// what |", where labels are written "`label`: values".
func READMETable(tb testing.TB, root string) map[string]Row {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]Row{}
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "| `smsconv_") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 4 {
			tb.Fatalf("README metrics row %q: want | metric | service | labels | what |", line)
		}
		row := Row{Services: strings.Fields(strings.ReplaceAll(cells[1], ",", " ")), Labels: []string{}}
		for _, m := range labelName.FindAllStringSubmatch(cells[2], -1) {
			row.Labels = append(row.Labels, m[1])
		}
		slices.Sort(row.Labels)
		for _, m := range backticked.FindAllStringSubmatch(cells[0], -1) {
			out[m[1]] = row
		}
	}
	if len(out) == 0 {
		tb.Fatal("README has no metrics table rows (| `smsconv_...` |)")
	}
	return out
}

// DashboardMetrics returns the smsconv_ metrics the Grafana dashboard at root queries (histogram suffixes
// removed), each with the titles of the panels that query it.
func DashboardMetrics(tb testing.TB, root string) map[string][]string {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "deploy", "grafana", "smsconv.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		tb.Fatalf("dashboard is not valid JSON: %v", err)
	}
	out := map[string][]string{}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range metricName.FindAllString(tg.Expr, -1) {
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					n = strings.TrimSuffix(n, suffix)
				}
				out[n] = append(out[n], p.Title)
			}
		}
	}
	return out
}

// CheckDocumented checks the smsconv_ metrics g exports for service against the README table at root: each
// is documented for service with the same label names, and each row documented for service is exported.
// Every metric must have at least one series in g (exercise it first), or its labels cannot be seen.
func CheckDocumented(tb testing.TB, root, service string, g prometheus.Gatherer) {
	tb.Helper()
	table := READMETable(tb, root)
	mfs, err := g.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	exported := map[string]bool{}
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, "smsconv_") {
			continue
		}
		exported[name] = true
		row, ok := table[name]
		if !ok {
			tb.Errorf("%s (exported by the %s) is missing from the README's metrics table", name, service)
			continue
		}
		if !slices.Contains(row.Services, service) {
			tb.Errorf("README says %s comes from %v; the %s exports it", name, row.Services, service)
		}
		labels := []string{}
		if len(mf.GetMetric()) > 0 {
			for _, l := range mf.GetMetric()[0].GetLabel() {
				labels = append(labels, l.GetName())
			}
		}
		slices.Sort(labels)
		if !slices.Equal(labels, row.Labels) {
			tb.Errorf("%s has labels %v; the README says %v", name, labels, row.Labels)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(table)) {
		if slices.Contains(table[name].Services, service) && !exported[name] {
			tb.Errorf("README documents %s for the %s, which does not export it", name, service)
		}
	}
}

// Series gathers g into "name{k=v,...}" -> value; histograms appear as name_count and name_sum.
func Series(tb testing.TB, g prometheus.Gatherer) map[string]float64 {
	tb.Helper()
	mfs, err := g.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			suffix := "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[mf.GetName()+suffix] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[mf.GetName()+suffix] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[mf.GetName()+"_count"+suffix] = float64(m.GetHistogram().GetSampleCount())
				out[mf.GetName()+"_sum"+suffix] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

// Absent, as a value in ExpectSeries' want, says the series must not exist.
const Absent = -1.0

// ExpectSeries gathers g and checks each series named in want (as Series names them) has that value, or
// does not exist when the value is Absent. It returns what it gathered.
func ExpectSeries(tb testing.TB, g prometheus.Gatherer, want map[string]float64) map[string]float64 {
	tb.Helper()
	got := Series(tb, g)
	for _, name := range slices.Sorted(maps.Keys(want)) {
		w := want[name]
		v, ok := got[name]
		switch {
		case w == Absent && ok:
			tb.Errorf("%s present (%v), want absent", name, v)
		case w != Absent && (!ok || v < w-1e-9 || v > w+1e-9):
			tb.Errorf("%s = %v (present %v), want %v", name, v, ok, w)
		}
	}
	return got
}
