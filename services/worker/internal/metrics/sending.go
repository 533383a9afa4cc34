package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsconv/smsconv/shared/obs"
)

// sending are the metrics of pacing sends to Telnyx's limits. Their number label is one of our own sending
// numbers (at most phone.MaxNumbers, configured, not a user's): the limits are per number, so the wait is too.
type sending struct {
	wait      *prometheus.CounterVec
	segments  *prometheus.CounterVec
	throttled *prometheus.CounterVec
	unknown   *prometheus.CounterVec
}

func newSending() *sending {
	return &sending{
		wait: obs.NewCounterVec("send_capacity_wait_seconds_total",
			"Seconds messages were told to wait for sending capacity, by our sending number and lane (reply, bulk).",
			"number", "lane"),
		segments: obs.NewCounterVec("send_segments_total",
			"Segments handed to Telnyx (each request, as the limits count them), by our sending number and lane.",
			"number", "lane"),
		throttled: obs.NewCounterVec("send_throttled_total",
			"Throttling answers from Telnyx (429 10011, 40318, 40002) that slowed a scope (number, account).",
			"scope"),
		unknown: obs.NewCounterVec("send_unknown_outcome_total",
			"Outbound messages found with an unknown send outcome (the answer was lost), by what was done (resend, hold).",
			"policy"),
	}
}

func (s *sending) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.wait, s.segments, s.throttled, s.unknown}
}

// CapacityWait counts d of waiting for capacity on our number from, in lane.
func (m *Metrics) CapacityWait(from, lane string, d time.Duration) {
	m.send.wait.WithLabelValues(from, lane).Add(d.Seconds())
}

// SegmentsSent counts the segments of one request to Telnyx.
func (m *Metrics) SegmentsSent(from, lane string, parts int) {
	m.send.segments.WithLabelValues(from, lane).Add(float64(parts))
}

// Throttled counts a throttling answer that slowed scope ("number" or "account").
func (m *Metrics) Throttled(scope string) { m.send.throttled.WithLabelValues(scope).Inc() }

// UnknownOutcome counts a message found in the unknown-outcome window, and what policy did with it.
func (m *Metrics) UnknownOutcome(policy string) { m.send.unknown.WithLabelValues(policy).Inc() }
