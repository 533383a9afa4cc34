package metrics_test

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smsconv/smsconv/services/ingress/internal/metrics"
	"github.com/smsconv/smsconv/shared/obs/obstest"
)

func TestIngressMetricsStartAtZeroAndMove(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	before := obstest.Series(t, reg)
	for _, o := range []string{"accepted", "duplicate", "invalid_signature", "bad_request", "unavailable"} {
		if v, ok := before["smsconv_webhooks_total{outcome="+o+"}"]; !ok || v != 0 {
			t.Errorf("webhooks_total{outcome=%s} before any webhook = %v (present %v), want a zero series", o, v, ok)
		}
	}

	m.ObserveWebhook(metrics.WebhookAccepted, 2*time.Millisecond)
	m.ObserveWebhook(metrics.WebhookAccepted, 3*time.Millisecond)
	m.ObserveWebhook(metrics.WebhookInvalidSignature, time.Millisecond)
	m.ObservePublish(time.Millisecond, nil)
	m.ObservePublish(time.Second, errors.New("nats: timeout"))
	m.RedisError("list_conversations")

	obstest.ExpectSeries(t, reg, map[string]float64{
		"smsconv_webhooks_total{outcome=accepted}":                    2,
		"smsconv_webhooks_total{outcome=invalid_signature}":           1,
		"smsconv_webhooks_total{outcome=unavailable}":                 0,
		"smsconv_webhook_duration_seconds_count{outcome=accepted}":    2,
		"smsconv_webhook_duration_seconds_sum{outcome=accepted}":      0.005,
		"smsconv_publish_duration_seconds_count{result=ok}":           1,
		"smsconv_publish_duration_seconds_count{result=error}":        1,
		"smsconv_redis_errors_total{op=list_conversations}":           1,
		"smsconv_webhook_duration_seconds_count{outcome=unavailable}": obstest.Absent, // never observed
	})
}

// exercised returns a registry with every ingress metric holding a series.
func exercised() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.ObserveWebhook(metrics.WebhookAccepted, time.Millisecond)
	m.ObservePublish(time.Millisecond, nil)
	m.RedisError("get")
	return reg
}

// TestMetricNamesFollowConventions runs Prometheus' own linter (units in names, _total on counters, help
// text) over every metric once it has a sample.
func TestMetricNamesFollowConventions(t *testing.T) {
	problems, err := testutil.GatherAndLint(exercised())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestREADMEDocumentsTheMetrics keeps the README's metrics table true for the ingress: names, labels and
// which service exports them.
func TestREADMEDocumentsTheMetrics(t *testing.T) {
	obstest.CheckDocumented(t, "../../../..", "ingress", exercised())
}
