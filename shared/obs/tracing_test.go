package obs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/smsconv/smsconv/shared/natstest"
	"github.com/smsconv/smsconv/shared/obs"
)

// provider returns a tracer provider for service that records into exp synchronously.
func provider(tb testing.TB, service string, exp *tracetest.InMemoryExporter) *sdktrace.TracerProvider {
	tb.Helper()
	tp := obs.NewTracerProvider(service, sdktrace.WithSyncer(exp))
	tb.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

func spanNamed(tb testing.TB, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	tb.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	tb.Fatalf("no span %q among %d recorded", name, len(spans))
	return tracetest.SpanStub{}
}

func serviceOf(s tracetest.SpanStub) string {
	for _, kv := range s.Resource.Attributes() {
		if kv.Key == "service.name" {
			return kv.Value.AsString()
		}
	}
	return ""
}

// TestTraceCrossesJetStream publishes from an "ingress" span through a real JetStream stream and continues
// the trace in a "worker" that consumes the message: the worker's spans must be children of the ingress's.
func TestTraceCrossesJetStream(t *testing.T) {
	ns := natstest.Start(t)
	nc, err := nats.Connect(ns.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "TRACE", Subjects: []string{"trace.>"}, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}

	exp := tracetest.NewInMemoryExporter()
	ingress, worker := provider(t, "ingress", exp), provider(t, "worker", exp)

	// Ingress side: a span per webhook, its context injected into the message's headers.
	wctx, webhook := ingress.Tracer(obs.TracerName).Start(ctx, "webhook")
	msg := nats.NewMsg("trace.conv.1")
	msg.Data = []byte(`{"id":"msg-1"}`)
	msg.Header.Set("Nats-Msg-Id", "evt-1") // headers already there must survive the injection
	obs.InjectNATS(wctx, msg)
	if _, err := js.PublishMsg(wctx, msg); err != nil {
		t.Fatal(err)
	}
	webhook.End()

	// Worker side: consume, extract, and run processing and the Telnyx call as child spans.
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "w", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	pctx, process := worker.Tracer(obs.TracerName).Start(obs.ExtractNATS(ctx, got.Headers()), "process")
	_, send := worker.Tracer(obs.TracerName).Start(pctx, "telnyx.send")
	send.End()
	process.End()
	if err := got.Ack(); err != nil {
		t.Fatal(err)
	}

	spans := exp.GetSpans()
	wh, pr, sn := spanNamed(t, spans, "webhook"), spanNamed(t, spans, "process"), spanNamed(t, spans, "telnyx.send")
	if pr.SpanContext.TraceID() != wh.SpanContext.TraceID() || sn.SpanContext.TraceID() != wh.SpanContext.TraceID() {
		t.Fatalf("traces differ: webhook %s, process %s, send %s", wh.SpanContext.TraceID(), pr.SpanContext.TraceID(), sn.SpanContext.TraceID())
	}
	if pr.Parent.SpanID() != wh.SpanContext.SpanID() || !pr.Parent.IsRemote() {
		t.Errorf("process's parent = %s (remote %v), want the webhook span %s, remote", pr.Parent.SpanID(), pr.Parent.IsRemote(), wh.SpanContext.SpanID())
	}
	if sn.Parent.SpanID() != pr.SpanContext.SpanID() {
		t.Errorf("telnyx.send's parent = %s, want the process span %s", sn.Parent.SpanID(), pr.SpanContext.SpanID())
	}
	if serviceOf(wh) != "ingress" || serviceOf(pr) != "worker" {
		t.Errorf("service.name of webhook = %q, of process = %q", serviceOf(wh), serviceOf(pr))
	}
	if got.Headers().Get("Nats-Msg-Id") != "evt-1" {
		t.Errorf("Nats-Msg-Id header lost: %v", got.Headers())
	}
}

func TestInjectNATS(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := provider(t, "ingress", exp)
	ctx, span := tp.Tracer(obs.TracerName).Start(context.Background(), "webhook")
	defer span.End()
	tests := []struct {
		name string
		msg  *nats.Msg
	}{
		{"message without headers", &nats.Msg{Subject: "x"}},
		{"message with headers", nats.NewMsg("x")},
	}
	traceparent := regexp.MustCompile(`^00-` + span.SpanContext().TraceID().String() + `-` + span.SpanContext().SpanID().String() + `-01$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs.InjectNATS(ctx, tt.msg)
			if tp := tt.msg.Header.Get("traceparent"); !traceparent.MatchString(tp) {
				t.Fatalf("traceparent = %q, want %s", tp, traceparent)
			}
		})
	}
}

func TestExtractNATSWithoutTraceStartsFresh(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := provider(t, "worker", exp)
	for name, h := range map[string]nats.Header{"nil headers": nil, "no trace headers": {"Nats-Msg-Id": {"e"}},
		"garbage traceparent": {"traceparent": {"not-a-trace"}}} {
		t.Run(name, func(t *testing.T) {
			ctx := obs.ExtractNATS(context.Background(), h)
			if trace.SpanContextFromContext(ctx).IsValid() {
				t.Fatal("a span context came out of headers without a valid one")
			}
			_, span := tp.Tracer(obs.TracerName).Start(ctx, "process")
			span.End()
			if p := exp.GetSpans()[len(exp.GetSpans())-1].Parent; p.IsValid() {
				t.Fatalf("span has parent %v, want a root span", p)
			}
		})
	}
}

func TestWithTraceAndTraceID(t *testing.T) {
	tp := provider(t, "worker", tracetest.NewInMemoryExporter())
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))

	if obs.TraceID(context.Background()) != "" {
		t.Error("TraceID of a context without a span is not empty")
	}
	obs.WithTrace(context.Background(), log).Info("no span")
	if bytes.Contains(buf.Bytes(), []byte("trace_id")) {
		t.Errorf("WithTrace without a span added a trace id: %s", buf.String())
	}
	buf.Reset()
	ctx, span := tp.Tracer(obs.TracerName).Start(context.Background(), "process")
	defer span.End()
	obs.WithTrace(ctx, log).Info("reply sent")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["trace_id"] != span.SpanContext().TraceID().String() || line["trace_id"] != obs.TraceID(ctx) {
		t.Errorf("log line %v, want trace_id %s", line, span.SpanContext().TraceID())
	}
	if line["span_id"] != span.SpanContext().SpanID().String() {
		t.Errorf("log line %v, want span_id %s", line, span.SpanContext().SpanID())
	}
}

func TestRecordError(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := provider(t, "worker", exp)
	_, ok := tp.Tracer(obs.TracerName).Start(context.Background(), "ok")
	obs.RecordError(ok, nil)
	ok.End()
	_, bad := tp.Tracer(obs.TracerName).Start(context.Background(), "bad")
	obs.RecordError(bad, errors.New("telnyx: 503"))
	bad.End()
	spans := exp.GetSpans()
	if s := spanNamed(t, spans, "ok"); s.Status.Code != codes.Unset || len(s.Events) != 0 {
		t.Errorf("span without error: status %v, %d events", s.Status, len(s.Events))
	}
	if s := spanNamed(t, spans, "bad"); s.Status.Code != codes.Error || s.Status.Description != "telnyx: 503" || len(s.Events) != 1 {
		t.Errorf("span with error: status %v, %d events", s.Status, len(s.Events))
	}
}

// restoreGlobal puts a no-op tracer provider back after a test that installed one.
func restoreGlobal(t *testing.T) {
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
}

func TestSetupTracingOffWithoutEndpoint(t *testing.T) {
	t.Setenv(obs.EnvOTLPEndpoint, "")
	t.Setenv(obs.EnvOTLPTracesEndpoint, "")
	restoreGlobal(t)
	otel.SetTracerProvider(noop.NewTracerProvider())
	shutdown, err := obs.SetupTracing(context.Background(), "ingress")
	if err != nil {
		t.Fatal(err)
	}
	_, span := obs.Tracer().Start(context.Background(), "webhook")
	span.End()
	if span.IsRecording() {
		t.Error("spans record although no OTLP endpoint is configured")
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestSetupTracingExportsOTLP points the exporter at a fake collector and checks spans arrive over OTLP/HTTP.
func TestSetupTracingExportsOTLP(t *testing.T) {
	var posts atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	t.Setenv(obs.EnvOTLPEndpoint, collector.URL)
	t.Setenv(obs.EnvOTLPTracesEndpoint, "")
	restoreGlobal(t)

	shutdown, err := obs.SetupTracing(context.Background(), "worker")
	if err != nil {
		t.Fatal(err)
	}
	_, span := obs.Tracer().Start(context.Background(), "process")
	if !span.IsRecording() {
		t.Error("span not recording with an OTLP endpoint configured")
	}
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if posts.Load() == 0 {
		t.Fatal("the collector received no OTLP trace export")
	}
}

// TestUnexportedSpansKeepOneTraceID: without an exporter nothing is sampled, yet the ingress's and the worker's
// spans about one message share a trace id (which their log lines carry), and the traceparent they pass says
// the trace is not sampled, so NATS does not take it as a request to trace the message.
func TestUnexportedSpansKeepOneTraceID(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	ingress := obs.NewTracerProvider("ingress", sdktrace.WithSampler(obs.Unexported), sdktrace.WithSyncer(exp))
	worker := obs.NewTracerProvider("worker", sdktrace.WithSampler(obs.Unexported), sdktrace.WithSyncer(exp))
	ctx, webhook := ingress.Tracer(obs.TracerName).Start(context.Background(), "webhook")
	msg := nats.NewMsg("conv.x")
	obs.InjectNATS(ctx, msg)
	webhook.End()
	pctx, process := worker.Tracer(obs.TracerName).Start(obs.ExtractNATS(context.Background(), msg.Header), "process")
	process.SetAttributes(attribute.String("k", "v"))
	process.End()

	want := webhook.SpanContext().TraceID().String()
	if got := obs.TraceID(pctx); got != want || got == "" {
		t.Fatalf("worker's trace id = %q, want the ingress's %q", got, want)
	}
	if tp := msg.Header.Get("traceparent"); !strings.HasSuffix(tp, "-00") || !strings.Contains(tp, want) {
		t.Errorf("traceparent = %q, want trace %s, not sampled (-00)", tp, want)
	}
	if process.IsRecording() || len(exp.GetSpans()) != 0 {
		t.Errorf("recording %v, %d spans exported: want nothing recorded", process.IsRecording(), len(exp.GetSpans()))
	}
}
