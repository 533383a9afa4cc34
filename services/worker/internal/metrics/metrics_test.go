package metrics_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smsconv/smsconv/services/worker/internal/metrics"
	"github.com/smsconv/smsconv/shared/obs/obstest"
)

// exercised returns a registry with every worker metric holding a series.
func exercised() (*prometheus.Registry, *metrics.Metrics) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.ObserveProcessed(metrics.OutcomeDone, time.Millisecond)
	m.ObserveTelnyxRequest(200, time.Millisecond)
	m.Retry("redis")
	m.DeadLetter("permanent")
	m.OptedOutBlock()
	m.SetConsumerPending("conv-000", 1)
	m.RedisError("load")
	m.CapacityWait("+12125550100", "reply", time.Second)
	m.SegmentsSent("+12125550100", "bulk", 2)
	m.Throttled("account")
	m.UnknownOutcome("resend")
	return reg, m
}

func TestMetricsMove(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)

	m.ObserveProcessed(metrics.OutcomeDone, 5*time.Millisecond)
	m.ObserveProcessed(metrics.OutcomeRetry, time.Millisecond)
	m.Retry("redis")
	m.DeadLetter("exhausted")
	m.OptedOutBlock()
	m.OptedOutBlock()
	m.RedisError("commit")
	m.SetConsumerPending("conv-000", 12)
	m.SetConsumerPending("conv-001", 3)
	m.DropConsumer("conv-001")

	obstest.ExpectSeries(t, reg, map[string]float64{
		"smsconv_messages_processed_total{outcome=done}":                  1,
		"smsconv_messages_processed_total{outcome=retry}":                 1,
		"smsconv_messages_processed_total{outcome=dead_letter}":           0,
		"smsconv_messages_processed_total{outcome=deferred}":              0,
		"smsconv_message_processing_duration_seconds_count{outcome=done}": 1,
		"smsconv_message_retries_total{reason=redis}":                     1,
		"smsconv_dead_letters_total{class=exhausted}":                     1,
		"smsconv_opted_out_blocks_total{}":                                2,
		"smsconv_redis_errors_total{op=commit}":                           1,
		"smsconv_consumer_pending_messages{consumer=conv-000}":            12,
		// A dropped consumer no longer reports: two workers never both report one partition.
		"smsconv_consumer_pending_messages{consumer=conv-001}": obstest.Absent,
	})
}

func TestTelnyxRequestLabels(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		code, class string
	}{
		{"accepted", 200, "200", "2xx"},
		{"rate limited", 429, "429", "4xx"},
		{"opted out", 403, "403", "4xx"},
		{"server error", 503, "503", "5xx"},
		{"no answer", 0, metrics.NoAnswer, metrics.NoAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := metrics.New(reg)
			m.ObserveTelnyxRequest(tt.status, 40*time.Millisecond)
			got := obstest.Series(t, reg)
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
	reg, _ := exercised()
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestSendingMetrics: the pacing metrics count what they are told, per our number and lane.
func TestSendingMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.CapacityWait("+12125550100", "reply", 1500*time.Millisecond)
	m.CapacityWait("+12125550100", "reply", 500*time.Millisecond)
	m.SegmentsSent("+12125550101", "bulk", 3)
	m.Throttled("number")
	m.UnknownOutcome("hold")
	obstest.ExpectSeries(t, reg, map[string]float64{
		"smsconv_send_capacity_wait_seconds_total{lane=reply,number=+12125550100}": 2,
		"smsconv_send_segments_total{lane=bulk,number=+12125550101}":               3,
		"smsconv_send_throttled_total{scope=number}":                               1,
		"smsconv_send_unknown_outcome_total{policy=hold}":                          1,
	})
}

func TestDoubleRegistrationPanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics.New(reg)
	defer func() {
		if recover() == nil {
			t.Fatal("registering the worker metrics twice on one registry did not panic")
		}
	}()
	metrics.New(reg)
}

// TestREADMEDocumentsTheMetrics keeps the README's metrics table true for the worker: names, labels and
// which service exports them.
func TestREADMEDocumentsTheMetrics(t *testing.T) {
	reg, _ := exercised()
	obstest.CheckDocumented(t, "../../../..", "worker", reg)
}
