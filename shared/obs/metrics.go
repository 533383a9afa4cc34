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
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "redis_errors_total",
		Help: "Failed Redis operations, by operation.",
	}, []string{"op"})
}
