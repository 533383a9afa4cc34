package obs

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric of the system ("smsconv_...").
const Namespace = "smsconv"

// Webhook outcomes, the values of the outcome label of smsconv_webhooks_total.
const (
	WebhookAccepted         = "accepted"          // queued (JetStream acknowledged it)
	WebhookDuplicate        = "duplicate"         // JetStream had the event id already
	WebhookInvalidSignature = "invalid_signature" // 401
	WebhookBadRequest       = "bad_request"       // unreadable, too large or unparseable: 4xx other than 401
	WebhookUnavailable      = "unavailable"       // NATS down or stream full: 503, Telnyx retries
)

// Processing outcomes, the values of the outcome label of smsconv_messages_processed_total. They match the
// worker processor's Outcome strings.
const (
	OutcomeDone       = "done"
	OutcomeRetry      = "retry"
	OutcomeDeadLetter = "dead_letter"
)

// Buckets of the latency histograms, in seconds. The fast paths (webhook, publish, processing) live in the
// sub-millisecond to 100 ms range; the Telnyx API call can take seconds.
var (
	fastBuckets   = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	remoteBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
)

// NewRegistry returns a registry with the Go runtime and process collectors (CPU, memory, file descriptors)
// already registered, for a service to add its own metrics to.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves the metrics of g in the Prometheus exposition format (GET /metrics).
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// IngressMetrics are the ingress's metrics. Labels are low-cardinality by construction: outcomes are the
// constants above, never a phone number or an id.
type IngressMetrics struct {
	webhooks       *prometheus.CounterVec
	webhookLatency *prometheus.HistogramVec
	publishLatency *prometheus.HistogramVec
	redisErrors    *prometheus.CounterVec
}

// NewIngressMetrics creates the ingress's metrics and registers them on reg. It panics if they are
// registered twice on the same registry (a programming error, as with prometheus.MustRegister).
func NewIngressMetrics(reg prometheus.Registerer) *IngressMetrics {
	m := &IngressMetrics{
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "webhooks_total",
			Help: "Telnyx webhooks received, by outcome (accepted, duplicate, invalid_signature, bad_request, unavailable).",
		}, []string{"outcome"}),
		webhookLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "webhook_duration_seconds",
			Help:    "Time from reading a webhook to answering it (including the JetStream acknowledgement), by outcome.",
			Buckets: fastBuckets,
		}, []string{"outcome"}),
		publishLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "publish_duration_seconds",
			Help:    "Time for JetStream to acknowledge a publish, by result (ok, error).",
			Buckets: fastBuckets,
		}, []string{"result"}),
		redisErrors: newRedisErrors(),
	}
	reg.MustRegister(m.webhooks, m.webhookLatency, m.publishLatency, m.redisErrors)
	// Known series start at zero so rate() and alerts see them before the first event.
	for _, o := range []string{WebhookAccepted, WebhookDuplicate, WebhookInvalidSignature, WebhookBadRequest, WebhookUnavailable} {
		m.webhooks.WithLabelValues(o)
	}
	for _, r := range []string{"ok", "error"} {
		m.publishLatency.WithLabelValues(r)
	}
	return m
}

// ObserveWebhook counts one webhook with its outcome (one of the Webhook* constants) and how long it took.
func (m *IngressMetrics) ObserveWebhook(outcome string, d time.Duration) {
	m.webhooks.WithLabelValues(outcome).Inc()
	m.webhookLatency.WithLabelValues(outcome).Observe(d.Seconds())
}

// ObservePublish records one JetStream publish: how long the acknowledgement took, and whether it failed.
func (m *IngressMetrics) ObservePublish(d time.Duration, err error) {
	m.publishLatency.WithLabelValues(result(err)).Observe(d.Seconds())
}

// RedisError counts a failed Redis operation; op is a fixed name such as "list_conversations".
func (m *IngressMetrics) RedisError(op string) { m.redisErrors.WithLabelValues(op).Inc() }

// WorkerMetrics are the worker's metrics.
type WorkerMetrics struct {
	processed     *prometheus.CounterVec
	procLatency   *prometheus.HistogramVec
	telnyxCalls   *prometheus.CounterVec
	telnyxLatency *prometheus.HistogramVec
	retries       *prometheus.CounterVec
	deadLetters   *prometheus.CounterVec
	optedOut      prometheus.Counter
	pending       *prometheus.GaugeVec
	redisErrors   *prometheus.CounterVec
}

// NewWorkerMetrics creates the worker's metrics and registers them on reg (panicking on a double
// registration, as prometheus.MustRegister does).
func NewWorkerMetrics(reg prometheus.Registerer) *WorkerMetrics {
	m := &WorkerMetrics{
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "messages_processed_total",
			Help: "Conversation messages handled by the worker, by outcome (done, retry, dead_letter).",
		}, []string{"outcome"}),
		procLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "message_processing_duration_seconds",
			Help:    "Time to handle one message (Redis commit and Telnyx send), by outcome.",
			Buckets: remoteBuckets,
		}, []string{"outcome"}),
		telnyxCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "telnyx_api_requests_total",
			Help: "Requests to the Telnyx Messaging API, by HTTP status code (\"error\" when no response came back).",
		}, []string{"code"}),
		telnyxLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "telnyx_api_request_duration_seconds",
			Help:    "Duration of requests to the Telnyx Messaging API, by status class (2xx, 4xx, 5xx, error).",
			Buckets: remoteBuckets,
		}, []string{"class"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "message_retries_total",
			Help: "Messages handed back for a later attempt, by reason.",
		}, []string{"reason"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "dead_letters_total",
			Help: "Messages moved to the dead-letter stream, by reason.",
		}, []string{"reason"}),
		optedOut: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "opted_out_blocks_total",
			Help: "Replies not delivered because the recipient opted out (Telnyx code 40300).",
		}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "consumer_pending_messages",
			Help: "Messages waiting in the stream for a consumer (JetStream num_pending), per consumer this worker runs.",
		}, []string{"consumer"}),
		redisErrors: newRedisErrors(),
	}
	reg.MustRegister(m.processed, m.procLatency, m.telnyxCalls, m.telnyxLatency, m.retries, m.deadLetters,
		m.optedOut, m.pending, m.redisErrors)
	for _, o := range []string{OutcomeDone, OutcomeRetry, OutcomeDeadLetter} {
		m.processed.WithLabelValues(o)
	}
	return m
}

// ObserveProcessed counts one handled message with its outcome (one of the Outcome* constants) and duration.
func (m *WorkerMetrics) ObserveProcessed(outcome string, d time.Duration) {
	m.processed.WithLabelValues(outcome).Inc()
	m.procLatency.WithLabelValues(outcome).Observe(d.Seconds())
}

// ObserveTelnyxCall records one request to the Telnyx API; status is the HTTP status, 0 when the request got
// no response (timeout, connection refused).
func (m *WorkerMetrics) ObserveTelnyxCall(status int, d time.Duration) {
	code, class := "error", "error"
	if status > 0 {
		code, class = strconv.Itoa(status), strconv.Itoa(status/100)+"xx"
	}
	m.telnyxCalls.WithLabelValues(code).Inc()
	m.telnyxLatency.WithLabelValues(class).Observe(d.Seconds())
}

// Retry counts a message handed back for another attempt. reason must come from a fixed set (the
// processor's reasons, such as "redis unavailable"), never from an error message.
func (m *WorkerMetrics) Retry(reason string) { m.retries.WithLabelValues(reason).Inc() }

// DeadLetter counts a message dead-lettered; reason as for Retry.
func (m *WorkerMetrics) DeadLetter(reason string) { m.deadLetters.WithLabelValues(reason).Inc() }

// OptedOutBlock counts a reply withheld because the user opted out.
func (m *WorkerMetrics) OptedOutBlock() { m.optedOut.Inc() }

// SetConsumerPending records the pending messages of a consumer (e.g. "conv-003") this worker runs.
func (m *WorkerMetrics) SetConsumerPending(consumer string, pending uint64) {
	m.pending.WithLabelValues(consumer).Set(float64(pending))
}

// DropConsumer removes a consumer's pending gauge when the worker stops running it, so two workers never
// both report the same partition.
func (m *WorkerMetrics) DropConsumer(consumer string) { m.pending.DeleteLabelValues(consumer) }

// RedisError counts a failed Redis operation; op is a fixed name such as "load" or "commit".
func (m *WorkerMetrics) RedisError(op string) { m.redisErrors.WithLabelValues(op).Inc() }

func newRedisErrors() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "redis_errors_total",
		Help: "Failed Redis operations, by operation.",
	}, []string{"op"})
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}
