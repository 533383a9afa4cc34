package processor

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/smsconv/smsconv/services/worker/internal/metrics"
	"github.com/smsconv/smsconv/shared/obs"
	"github.com/smsconv/smsconv/shared/telnyx"
)

// instrumented times every send, counts it by HTTP status, and traces it as a child of the processing span.
// The Telnyx client makes exactly one HTTP request per Send, so this counts HTTP requests, failed ones
// included.
type instrumented struct {
	next Sender
	m    *metrics.Metrics
}

// Instrument wraps s with metrics and tracing.
func Instrument(s Sender, m *metrics.Metrics) Sender { return instrumented{next: s, m: m} }

func (i instrumented) Send(ctx context.Context, req telnyx.SendRequest, key string) (telnyx.SendResult, error) {
	ctx, span := obs.Tracer().Start(ctx, "telnyx.send", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("idempotency_key", key)))
	defer span.End()
	start := time.Now()
	res, err := i.next.Send(ctx, req, key)
	if errors.Is(err, telnyx.ErrInvalidIdempotencyKey) {
		obs.RecordError(span, err)
		return res, err // refused before any request was made: nothing to count
	}
	status := res.StatusCode
	var te *telnyx.Error
	switch {
	case err == nil && status == 0:
		status = 200 // a Sender that does not say (a test double): it succeeded
	case errors.As(err, &te):
		status = te.StatusCode
	case err != nil:
		status = 0 // no HTTP answer: network error or timeout
	}
	i.m.ObserveTelnyxRequest(status, time.Since(start))
	span.SetAttributes(attribute.Int("http.status_code", status))
	obs.RecordError(span, err)
	return res, err
}
