package consumer_test

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/smsconv/smsconv/services/worker/internal/consumer"
	"github.com/smsconv/smsconv/services/worker/internal/metrics"
	"github.com/smsconv/smsconv/services/worker/internal/processor"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/obs"
	"github.com/smsconv/smsconv/shared/obs/obstest"
)

// recordSpans makes the global tracer provider record every span until the test ends.
func recordSpans(tb testing.TB) *tracetest.SpanRecorder {
	tb.Helper()
	rec := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	tb.Cleanup(func() { otel.SetTracerProvider(prev) })
	return rec
}

func TestMetricsAndTraceAcrossTheQueue(t *testing.T) {
	rec := recordSpans(t)

	e := newEnv(t)
	reg := obs.NewRegistry()
	m := metrics.New(reg)
	e.proc.Sender = processor.Instrument(e.proc.Sender, m)
	e.start(consumer.Options{Metrics: m})

	// The ingress's side: a webhook span whose context travels in the message headers.
	ctx, parent := obs.Tracer().Start(context.Background(), "webhook")
	msg := nats.NewMsg(events.ConversationSubject(our, "+12125550001"))
	msg.Data = events.Message{Kind: events.KindInbound, ID: "traced", OurNumber: our, UserNumber: "+12125550001", Text: "hello", AcceptedAt: time.Now()}.Encode()
	obs.InjectNATS(ctx, msg)
	parent.End()
	if _, err := e.js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	e.waitReplies(1)

	var process, send sdktrace.ReadOnlySpan
	deadline := time.Now().Add(5 * time.Second)
	for (process == nil || send == nil) && time.Now().Before(deadline) {
		for _, s := range rec.Ended() {
			switch s.Name() {
			case "process":
				process = s
			case "telnyx.send":
				send = s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if process == nil || send == nil {
		t.Fatalf("spans ended: %d, want process and telnyx.send", len(rec.Ended()))
	}
	if process.Parent().SpanID() != parent.SpanContext().SpanID() || process.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Fatalf("process span is not a child of the ingress span: parent %v, want %v", process.Parent().SpanID(), parent.SpanContext().SpanID())
	}
	if send.Parent().SpanID() != process.SpanContext().SpanID() {
		t.Fatal("telnyx.send is not a child of process")
	}

	srv := httptest.NewServer(obs.Handler(reg))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`smsconv_messages_processed_total{outcome="done"} 1`,
		`smsconv_telnyx_api_requests_total{code="200"} 1`,
		`smsconv_message_processing_duration_seconds_count{outcome="done"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}
}

// TestEveryTelnyxRequestIsCounted: two 500s then a 200 are three HTTP requests, each counted and traced
// with its own status: the queue's redelivery is the only retry loop, and it is visible.
func TestEveryTelnyxRequestIsCounted(t *testing.T) {
	rec := recordSpans(t)

	e := newEnv(t)
	e.fake.FailNext(2, 500, "10007")
	reg := obs.NewRegistry()
	m := metrics.New(reg)
	e.proc.Sender = processor.Instrument(e.proc.Sender, m)
	e.start(consumer.Options{Metrics: m, MaxAttempts: 10})
	e.publish("+12125550001", "flaky", "hello")
	e.waitReplies(1)
	e.waitIdle()

	got := obstest.ExpectSeries(t, reg, map[string]float64{
		"smsconv_telnyx_api_requests_total{code=500}":                  2,
		"smsconv_telnyx_api_requests_total{code=200}":                  1,
		"smsconv_telnyx_api_request_duration_seconds_count{class=5xx}": 2,
		"smsconv_telnyx_api_request_duration_seconds_count{class=2xx}": 1,
	})
	if n := e.fake.Requests(); n != 3 {
		t.Errorf("fake Telnyx saw %d requests, want 3", n)
	}
	var spans []int64
	for _, s := range rec.Ended() {
		if s.Name() != "telnyx.send" {
			continue
		}
		for _, a := range s.Attributes() {
			if a.Key == "http.status_code" {
				spans = append(spans, a.Value.AsInt64())
			}
		}
	}
	if len(spans) != 3 {
		t.Errorf("telnyx.send spans with a status: %v, want one per request (500, 500, 200)", spans)
	}
	t.Logf("Telnyx requests seen by the metrics under 500, 500, 200: code=500 %v, code=200 %v",
		got["smsconv_telnyx_api_requests_total{code=500}"], got["smsconv_telnyx_api_requests_total{code=200}"])
}
