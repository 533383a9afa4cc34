// Package metrics defines the ingress's Prometheus metrics. Labels are low-cardinality by construction:
// outcomes are the constants below, never a phone number or an id.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsconv/smsconv/shared/obs"
)

// Webhook outcomes, the values of the outcome label of smsconv_webhooks_total.
const (
	WebhookAccepted         = "accepted"          // queued (JetStream acknowledged it)
	WebhookDuplicate        = "duplicate"         // JetStream had the event id already
	WebhookInvalidSignature = "invalid_signature" // 401
	WebhookBadRequest       = "bad_request"       // unreadable, too large or unparseable: 4xx other than 401
	WebhookUnavailable      = "unavailable"       // NATS down or stream full: 503, Telnyx retries
	WebhookInvalid          = "invalid"           // signed but unusable: kept in events.invalid, answered 200
	WebhookIgnored          = "ignored"           // not to our numbers or from one: kept in events.ignored, 200
)

// fastBuckets are the latency buckets, in seconds: the webhook and publish paths live in the
// sub-millisecond to 100 ms range.
var fastBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// Metrics are the ingress's metrics.
type Metrics struct {
	webhooks       *prometheus.CounterVec
	webhookLatency *prometheus.HistogramVec
	publishLatency *prometheus.HistogramVec
	redisErrors    *prometheus.CounterVec
}

// New creates the ingress's metrics and registers them on reg. It panics if they are registered twice on
// the same registry (a programming error, as with prometheus.MustRegister).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		webhooks: obs.NewCounterVec("webhooks_total",
			"Telnyx webhooks received, by outcome (accepted, duplicate, invalid, ignored, invalid_signature, bad_request, unavailable).",
			"outcome"),
		webhookLatency: obs.NewHistogramVec("webhook_duration_seconds",
			"Time from reading a webhook to answering it (including the JetStream acknowledgement), by outcome.",
			fastBuckets, "outcome"),
		publishLatency: obs.NewHistogramVec("publish_duration_seconds",
			"Time for JetStream to acknowledge a publish, by result (ok, error).",
			fastBuckets, "result"),
		redisErrors: obs.NewRedisErrors(),
	}
	reg.MustRegister(m.webhooks, m.webhookLatency, m.publishLatency, m.redisErrors)
	// Known series start at zero so rate() and alerts see them before the first event.
	for _, o := range []string{WebhookAccepted, WebhookDuplicate, WebhookInvalid, WebhookIgnored, WebhookInvalidSignature, WebhookBadRequest, WebhookUnavailable} {
		m.webhooks.WithLabelValues(o)
	}
	for _, r := range []string{"ok", "error"} {
		m.publishLatency.WithLabelValues(r)
	}
	return m
}

// ObserveWebhook counts one webhook with its outcome (one of the Webhook* constants) and how long it took.
func (m *Metrics) ObserveWebhook(outcome string, d time.Duration) {
	m.webhooks.WithLabelValues(outcome).Inc()
	m.webhookLatency.WithLabelValues(outcome).Observe(d.Seconds())
}

// ObservePublish records one JetStream publish: how long the acknowledgement took, and whether it failed.
func (m *Metrics) ObservePublish(d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.publishLatency.WithLabelValues(result).Observe(d.Seconds())
}

// RedisError counts a failed Redis operation; op is a fixed name such as "list_conversations".
func (m *Metrics) RedisError(op string) { m.redisErrors.WithLabelValues(op).Inc() }
