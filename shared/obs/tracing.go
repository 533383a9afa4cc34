package obs

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TracerName names the tracer the services create their spans with.
const TracerName = "github.com/smsconv/smsconv"

// Environment variables that turn OTLP export on. They are the OpenTelemetry SDK's standard ones, read by the
// exporter itself (with OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TIMEOUT and the rest), so they stay
// out of the services' config structs.
const (
	EnvOTLPEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvOTLPTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
)

// propagator carries trace context across NATS: W3C traceparent/tracestate plus baggage. It is fixed rather
// than taken from otel's global, so context crosses the queue even in a process that never set one up.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// SetupTracing installs the global tracer provider and propagator for serviceName. When
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, spans are batched and exported
// with OTLP over HTTP; otherwise nothing is exported, but spans still get ids so that logs carry trace_id.
// shutdown flushes pending spans; call it after the service has stopped taking work.
func SetupTracing(ctx context.Context, serviceName string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagator)
	if os.Getenv(EnvOTLPEndpoint) == "" && os.Getenv(EnvOTLPTracesEndpoint) == "" {
		tp := NewTracerProvider(serviceName, sdktrace.WithSampler(Unexported))
		otel.SetTracerProvider(tp)
		return tp.Shutdown, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	tp := NewTracerProvider(serviceName, sdktrace.WithBatcher(exp))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// Unexported is the sampler where no span is exported: every span still gets real ids, so the log lines of the
// ingress and the workers about one message share a trace_id that operators can search for, but none is
// sampled. An unsampled span records nothing (its attributes and events cost nothing), and its traceparent
// says so (flags 00): NATS reads a sampled traceparent on every publish as a request to trace the message,
// which cost the server about 7% of its CPU per message.
var Unexported = sdktrace.NeverSample()

// NewTracerProvider returns an SDK tracer provider whose spans carry service.name = serviceName; opts add
// the exporter (sdktrace.WithBatcher, or WithSyncer in tests) and sampling.
func NewTracerProvider(serviceName string, opts ...sdktrace.TracerProviderOption) *sdktrace.TracerProvider {
	// resource.Default() already holds the SDK's attributes and OTEL_RESOURCE_ATTRIBUTES; merging with a
	// schemaless resource cannot conflict, so the error is impossible.
	res, err := resource.Merge(resource.Default(),
		resource.NewSchemaless(attribute.String("service.name", serviceName)))
	if err != nil {
		res = resource.Default()
	}
	return sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{sdktrace.WithResource(res)}, opts...)...)
}

// Tracer returns the tracer of the global provider (set by SetupTracing).
func Tracer() trace.Tracer { return otel.Tracer(TracerName) }

// NATSHeaderCarrier adapts nats.Header to OpenTelemetry's TextMapCarrier. NATS headers are case-sensitive;
// the W3C propagator reads and writes the same lower-case keys, so that is no problem.
type NATSHeaderCarrier nats.Header

// Get returns the first value of key.
func (c NATSHeaderCarrier) Get(key string) string { return nats.Header(c).Get(key) }

// Set replaces the values of key with value.
func (c NATSHeaderCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the header names.
func (c NATSHeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// InjectNATS writes the trace context of ctx into msg's headers (creating them if needed), for the
// consumer to continue the trace with ExtractNATS.
func InjectNATS(ctx context.Context, msg *nats.Msg) {
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	propagator.Inject(ctx, NATSHeaderCarrier(msg.Header))
}

// ExtractNATS returns ctx carrying the remote span context found in h (a jetstream.Msg's Headers()); spans
// started from it are children of the publisher's span. Without trace headers it returns ctx unchanged.
func ExtractNATS(ctx context.Context, h nats.Header) context.Context {
	if h == nil {
		return ctx
	}
	return propagator.Extract(ctx, NATSHeaderCarrier(h))
}

// TraceID is the hex trace id of the span in ctx, "" when there is none.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// WithTrace returns log with trace_id (and span_id) of the span in ctx, so every line about a message can
// be found from its trace (log, Deferred, when ctx has no trace). Its attributes are formatted only for lines
// written (Deferred).
func WithTrace(ctx context.Context, log *slog.Logger) *slog.Logger {
	log = Deferred(log)
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return log
	}
	return log.With("trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String())
}

// RecordError marks span as failed with err; a nil err is a no-op.
func RecordError(span trace.Span, err error) {
	if err == nil {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}
