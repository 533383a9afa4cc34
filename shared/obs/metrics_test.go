package obs_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smsconv/smsconv/shared/obs"
)

// series gathers reg into "name{k=v,...}" -> value; histograms appear as name_count and name_sum.
func series(tb testing.TB, reg prometheus.Gatherer) map[string]float64 {
	tb.Helper()
	mfs, err := reg.Gather()
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

func TestIngressMetricsStartAtZeroAndMove(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := obs.NewIngressMetrics(reg)
	before := series(t, reg)
	for _, o := range []string{"accepted", "duplicate", "invalid_signature", "bad_request", "unavailable"} {
		if v, ok := before["smsconv_webhooks_total{outcome="+o+"}"]; !ok || v != 0 {
			t.Errorf("webhooks_total{outcome=%s} before any webhook = %v (present %v), want a zero series", o, v, ok)
		}
	}

	m.ObserveWebhook(obs.WebhookAccepted, 2*time.Millisecond)
	m.ObserveWebhook(obs.WebhookAccepted, 3*time.Millisecond)
	m.ObserveWebhook(obs.WebhookInvalidSignature, time.Millisecond)
	m.ObservePublish(time.Millisecond, nil)
	m.ObservePublish(time.Second, errors.New("nats: timeout"))
	m.RedisError("list_conversations")

	got := series(t, reg)
	want := map[string]float64{
		"smsconv_webhooks_total{outcome=accepted}":                    2,
		"smsconv_webhooks_total{outcome=invalid_signature}":           1,
		"smsconv_webhooks_total{outcome=unavailable}":                 0,
		"smsconv_webhook_duration_seconds_count{outcome=accepted}":    2,
		"smsconv_webhook_duration_seconds_sum{outcome=accepted}":      0.005,
		"smsconv_publish_duration_seconds_count{result=ok}":           1,
		"smsconv_publish_duration_seconds_count{result=error}":        1,
		"smsconv_redis_errors_total{op=list_conversations}":           1,
		"smsconv_webhook_duration_seconds_count{outcome=unavailable}": -1, // absent: never observed
	}
	for name, w := range want {
		v, ok := got[name]
		switch {
		case w < 0 && ok:
			t.Errorf("%s present (%v), want absent", name, v)
		case w >= 0 && (!ok || v < w-1e-9 || v > w+1e-9):
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, w)
		}
	}
}

func TestWorkerMetricsMove(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := obs.NewWorkerMetrics(reg)

	m.ObserveProcessed(obs.OutcomeDone, 5*time.Millisecond)
	m.ObserveProcessed(obs.OutcomeRetry, time.Millisecond)
	m.Retry("redis unavailable")
	m.DeadLetter("telnyx rejected the message")
	m.OptedOutBlock()
	m.OptedOutBlock()
	m.RedisError("commit")
	m.SetConsumerPending("conv-000", 12)
	m.SetConsumerPending("conv-001", 3)
	m.DropConsumer("conv-001")

	got := series(t, reg)
	want := map[string]float64{
		"smsconv_messages_processed_total{outcome=done}":                  1,
		"smsconv_messages_processed_total{outcome=retry}":                 1,
		"smsconv_messages_processed_total{outcome=dead_letter}":           0,
		"smsconv_message_processing_duration_seconds_count{outcome=done}": 1,
		"smsconv_message_retries_total{reason=redis unavailable}":         1,
		"smsconv_dead_letters_total{reason=telnyx rejected the message}":  1,
		"smsconv_opted_out_blocks_total{}":                                2,
		"smsconv_redis_errors_total{op=commit}":                           1,
		"smsconv_consumer_pending_messages{consumer=conv-000}":            12,
	}
	for name, w := range want {
		if v, ok := got[name]; !ok || v != w {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, w)
		}
	}
	if _, ok := got["smsconv_consumer_pending_messages{consumer=conv-001}"]; ok {
		t.Error("a dropped consumer still reports its pending gauge")
	}
}

func TestTelnyxCallLabels(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		code, class string
	}{
		{"accepted", 200, "200", "2xx"},
		{"rate limited", 429, "429", "4xx"},
		{"opted out", 403, "403", "4xx"},
		{"server error", 503, "503", "5xx"},
		{"no response", 0, "error", "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := obs.NewWorkerMetrics(reg)
			m.ObserveTelnyxCall(tt.status, 40*time.Millisecond)
			got := series(t, reg)
			if v := got["smsconv_telnyx_api_requests_total{code="+tt.code+"}"]; v != 1 {
				t.Errorf("telnyx_api_requests_total{code=%s} = %v, want 1 (all: %v)", tt.code, v, got)
			}
			if v := got["smsconv_telnyx_api_request_duration_seconds_count{class="+tt.class+"}"]; v != 1 {
				t.Errorf("telnyx_api_request_duration_seconds{class=%s} count = %v, want 1", tt.class, v)
			}
		})
	}
}

// TestMetricNamesFollowConventions runs Prometheus' own linter (units in names, _total on counters, help
// text) over every metric once it has a sample.
func TestMetricNamesFollowConventions(t *testing.T) {
	in := prometheus.NewRegistry()
	im := obs.NewIngressMetrics(in)
	im.ObserveWebhook(obs.WebhookAccepted, time.Millisecond)
	im.ObservePublish(time.Millisecond, nil)
	im.RedisError("get")
	wk := prometheus.NewRegistry()
	wm := obs.NewWorkerMetrics(wk)
	wm.ObserveProcessed(obs.OutcomeDone, time.Millisecond)
	wm.ObserveTelnyxCall(200, time.Millisecond)
	wm.Retry("x")
	wm.DeadLetter("x")
	wm.OptedOutBlock()
	wm.SetConsumerPending("conv-000", 1)
	wm.RedisError("load")
	for name, reg := range map[string]*prometheus.Registry{"ingress": in, "worker": wk} {
		problems, err := testutil.GatherAndLint(reg)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s: %s", name, p.Metric, p.Text)
		}
	}
}

func TestHandlerServesRegistry(t *testing.T) {
	reg := obs.NewRegistry()
	m := obs.NewIngressMetrics(reg)
	m.ObserveWebhook(obs.WebhookAccepted, time.Millisecond)
	srv := httptest.NewServer(obs.Handler(reg))
	defer srv.Close()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{`smsconv_webhooks_total{outcome="accepted"} 1`, "go_goroutines ", "process_cpu_seconds_total "} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestDoubleRegistrationPanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	obs.NewWorkerMetrics(reg)
	defer func() {
		if recover() == nil {
			t.Fatal("registering the worker metrics twice on one registry did not panic")
		}
	}()
	obs.NewWorkerMetrics(reg)
}

// TestGrafanaDashboardUsesRealMetrics keeps deploy/grafana/smsconv.json in step with the metric names: every
// smsconv_ series a panel queries must be one these collectors export.
func TestGrafanaDashboardUsesRealMetrics(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "smsconv.json"))
	if err != nil {
		t.Fatal(err)
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
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	known := map[string]bool{}
	in, wk := prometheus.NewRegistry(), prometheus.NewRegistry()
	im, wm := obs.NewIngressMetrics(in), obs.NewWorkerMetrics(wk)
	im.ObserveWebhook(obs.WebhookAccepted, time.Millisecond)
	im.ObservePublish(time.Millisecond, nil)
	im.RedisError("x")
	wm.ObserveProcessed(obs.OutcomeDone, time.Millisecond)
	wm.ObserveTelnyxCall(200, time.Millisecond)
	wm.Retry("x")
	wm.DeadLetter("x")
	wm.OptedOutBlock()
	wm.SetConsumerPending("conv-000", 1)
	wm.RedisError("x")
	for _, reg := range []*prometheus.Registry{in, wk} {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			known[mf.GetName()] = true
		}
	}
	name := regexp.MustCompile(`smsconv_[a-z_]+`)
	queried := map[string]bool{}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				base := n
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					base = strings.TrimSuffix(base, suffix)
				}
				if !known[base] {
					t.Errorf("panel %q queries %s, which no collector exports", p.Title, n)
				}
				queried[base] = true
			}
		}
	}
	for n := range known {
		if !queried[n] {
			t.Errorf("metric %s has no panel on the dashboard", n)
		}
	}
}
