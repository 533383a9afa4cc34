// Package metrics defines the worker's Prometheus metrics. Labels are low-cardinality by construction:
// outcomes, causes and classes are the constants below, never a user's phone number or an id (the send
// pacing metrics carry our own sending number: a handful, configured).
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsconv/smsconv/shared/obs"
)

// Processing outcomes, the values of the outcome label of smsconv_messages_processed_total.
const (
	OutcomeDone       = "done"
	OutcomeRetry      = "retry"
	OutcomeDeadLetter = "dead_letter"
	// OutcomeDeferred is a message held back by the order check: an older one of its conversation is pending.
	OutcomeDeferred = "deferred"
)

// NoAnswer is the code label of a Telnyx request that got no HTTP answer (timeout, connection refused).
const NoAnswer = "error"

// remoteBuckets are the latency buckets, in seconds: processing includes the Telnyx request, which can take
// seconds.
var remoteBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics are the worker's metrics.
type Metrics struct {
	processed     *prometheus.CounterVec
	procLatency   *prometheus.HistogramVec
	telnyxCalls   *prometheus.CounterVec
	telnyxLatency *prometheus.HistogramVec
	retries       *prometheus.CounterVec
	deadLetters   *prometheus.CounterVec
	optedOut      prometheus.Counter
	pending       *prometheus.GaugeVec
	redisErrors   *prometheus.CounterVec
	orderChecks   *prometheus.CounterVec
	send          *sending
}

// New creates the worker's metrics and registers them on reg (panicking on a double registration, as
// prometheus.MustRegister does).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		processed: obs.NewCounterVec("messages_processed_total",
			"Conversation messages handled by the worker, by outcome (done, retry, dead_letter, deferred).",
			"outcome"),
		procLatency: obs.NewHistogramVec("message_processing_duration_seconds",
			"Time to handle one message (Redis commit and Telnyx send), by outcome.",
			remoteBuckets, "outcome"),
		telnyxCalls: obs.NewCounterVec("telnyx_api_requests_total",
			"HTTP requests to the Telnyx Messaging API, by HTTP status code (\"error\" when no answer came back).",
			"code"),
		telnyxLatency: obs.NewHistogramVec("telnyx_api_request_duration_seconds",
			"Duration of HTTP requests to the Telnyx Messaging API, by status class (2xx, 4xx, 5xx, error).",
			remoteBuckets, "class"),
		retries: obs.NewCounterVec("message_retries_total",
			"Messages handed back for a later attempt, by reason (redis, telnyx, conflict, order_check, capacity).",
			"reason"),
		deadLetters: obs.NewCounterVec("dead_letters_total",
			"Messages moved to the dead-letter stream, by class (permanent, exhausted, undecodable).",
			"class"),
		optedOut: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: obs.Namespace, Name: "opted_out_blocks_total",
			Help: "Replies not delivered because the recipient opted out (Telnyx code 40300).",
		}),
		pending: obs.NewGaugeVec("consumer_pending_messages",
			"Messages waiting in the stream for a consumer (JetStream num_pending), per consumer this worker runs.",
			"consumer"),
		redisErrors: obs.NewRedisErrors(),
		orderChecks: obs.NewCounterVec("order_checks_total",
			"Order checks of conversation messages before processing, by where the answer came from: the stream "+
				"(a request for the conversation's oldest pending message) or the worker's own unbroken deliveries.",
			"source"),
		send: newSending(),
	}
	reg.MustRegister(m.processed, m.procLatency, m.telnyxCalls, m.telnyxLatency, m.retries, m.deadLetters,
		m.optedOut, m.pending, m.redisErrors, m.orderChecks)
	reg.MustRegister(m.send.collectors()...)
	// Known series start at zero so rate() and alerts see them before the first event.
	for _, o := range []string{OutcomeDone, OutcomeRetry, OutcomeDeadLetter, OutcomeDeferred} {
		m.processed.WithLabelValues(o)
	}
	for _, s := range []string{OrderFromStream, OrderFromDeliveries} {
		m.orderChecks.WithLabelValues(s)
	}
	return m
}

// ObserveProcessed counts one handled message with its outcome (one of the Outcome* constants) and duration.
func (m *Metrics) ObserveProcessed(outcome string, d time.Duration) {
	m.processed.WithLabelValues(outcome).Inc()
	m.procLatency.WithLabelValues(outcome).Observe(d.Seconds())
}

// ObserveTelnyxRequest records one HTTP request to the Telnyx API; status is the HTTP status, 0 when the
// request got no answer (timeout, connection refused).
func (m *Metrics) ObserveTelnyxRequest(status int, d time.Duration) {
	code, class := NoAnswer, NoAnswer
	if status > 0 {
		code, class = strconv.Itoa(status), strconv.Itoa(status/100)+"xx"
	}
	m.telnyxCalls.WithLabelValues(code).Inc()
	m.telnyxLatency.WithLabelValues(class).Observe(d.Seconds())
}

// Retry counts a message handed back for another attempt. reason is a fixed cause name (the processor's
// causes, or "order_check"), never an error message.
func (m *Metrics) Retry(reason string) { m.retries.WithLabelValues(reason).Inc() }

// DeadLetter counts a message dead-lettered, by its dead-letter class.
func (m *Metrics) DeadLetter(class string) { m.deadLetters.WithLabelValues(class).Inc() }

// OptedOutBlock counts a reply withheld because the user opted out.
func (m *Metrics) OptedOutBlock() { m.optedOut.Inc() }

// SetConsumerPending records the pending messages of a consumer (e.g. "conv-003") this worker runs.
func (m *Metrics) SetConsumerPending(consumer string, pending uint64) {
	m.pending.WithLabelValues(consumer).Set(float64(pending))
}

// DropConsumer removes a consumer's pending gauge when the worker stops running it, so two workers never
// both report the same partition.
func (m *Metrics) DropConsumer(consumer string) { m.pending.DeleteLabelValues(consumer) }

// RedisError counts a failed Redis operation; op is a fixed name such as "load" or "commit".
func (m *Metrics) RedisError(op string) { m.redisErrors.WithLabelValues(op).Inc() }

// Sources of an order check's answer, the values of the source label of smsconv_order_checks_total.
const (
	// OrderFromStream is a request to the stream for the conversation's oldest pending message.
	OrderFromStream = "stream"
	// OrderFromDeliveries is an answer known from the worker's own unbroken deliveries (no request).
	OrderFromDeliveries = "deliveries"
)

// OrderCheck counts one order check of a message about to be processed, by where its answer came from.
func (m *Metrics) OrderCheck(source string) { m.orderChecks.WithLabelValues(source).Inc() }
