package obs

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric of the system ("smsconv_..."). Each service defines its own metrics in
// its own package; what lives here is what both services use.
const Namespace = "smsconv"

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

// NewRedisErrors returns smsconv_redis_errors_total, which both services export: failed Redis operations by
// a fixed operation name.
func NewRedisErrors() *prometheus.CounterVec {
	return NewCounterVec("redis_errors_total", "Failed Redis operations, by operation.", "op")
}

// NewCounterVec returns the counter smsconv_<name> with labels: the services define their metrics through
// these constructors so that every name carries the namespace.
func NewCounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
}

// NewHistogramVec returns the histogram smsconv_<name> with buckets (in seconds) and labels.
func NewHistogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets},
		labels)
}

// NewGaugeVec returns the gauge smsconv_<name> with labels.
func NewGaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, labels)
}
