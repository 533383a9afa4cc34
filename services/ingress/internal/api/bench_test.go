package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/services/ingress/internal/api"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/natstest"
	"github.com/smsconv/smsconv/shared/telnyx"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
)

// benchIngress is the real webhook handler on a real in-process JetStream (file storage, as deployed), without
// an HTTP listener: the benchmarks measure the handler, not the loopback network.
type benchIngress struct {
	h      *echo.Echo
	js     jetstream.JetStream
	signer *fakeapi.Signer
}

func newBenchIngress(tb testing.TB) *benchIngress {
	tb.Helper()
	nc, js := natstest.Start(tb).Connect(tb)
	o := events.DefaultStreamOptions()
	o.Partitions = 4
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := events.EnsureStreams(ctx, js, o); err != nil {
		tb.Fatal(err)
	}
	signer, err := fakeapi.GenerateSigner()
	if err != nil {
		tb.Fatal(err)
	}
	h := api.New(api.Deps{NC: nc, JS: js, Verifier: telnyx.NewVerifier([]ed25519.PublicKey{signer.PublicKey()}, 300*time.Second),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), DefaultFrom: ourNumber, WebhookMaxBody: 64 << 10,
		PublishTimeout: 5 * time.Second})
	return &benchIngress{h: h, js: js, signer: signer}
}

// signedWebhook is a webhook body with its signature headers, prepared before the timer runs.
type signedWebhook struct {
	body   []byte
	header http.Header
}

// prepare signs n distinct inbound webhooks (distinct event and message ids over 1,000 users), numbered
// from first, so no delivery is a duplicate.
func (bi *benchIngress) prepare(first, n int) []signedWebhook {
	out := make([]signedWebhook, n)
	now := time.Now()
	for i := range out {
		id := strconv.Itoa(first + i)
		body := fakeapi.InboundWebhook(fakeapi.Inbound{EventID: "evt-" + id, MessageID: "msg-" + id,
			From: "+1212555" + strconv.Itoa(10_000 + (first+i)%1000)[1:], To: ourNumber, Text: "hello", At: now})
		sig, ts := bi.signer.Sign(body, now)
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		h.Set(telnyx.HeaderSignature, sig)
		h.Set(telnyx.HeaderTimestamp, ts)
		out[i] = signedWebhook{body: body, header: h}
	}
	return out
}

func (bi *benchIngress) serve(tb testing.TB, w signedWebhook) {
	req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/webhooks/sms", bytes.NewReader(w.body))
	req.Header = w.header
	rec := httptest.NewRecorder()
	bi.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"queued"`)) {
		tb.Errorf("webhook: %d %s", rec.Code, rec.Body.Bytes())
	}
}

const benchBatch = 2048

// BenchmarkWebhook is one inbound webhook through the real handler, one at a time: read, Ed25519 verify,
// parse, publish to JetStream and wait for its acknowledgement.
func BenchmarkWebhook(b *testing.B) {
	bi := newBenchIngress(b)
	var batch []signedWebhook
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%benchBatch == 0 {
			b.StopTimer()
			batch = bi.prepare(i, benchBatch)
			b.StartTimer()
		}
		bi.serve(b, batch[i%benchBatch])
	}
}

// BenchmarkWebhookParallel is the same with 16 requests in flight per core, as under load: JetStream
// acknowledgements overlap, so this is the handler's throughput rather than its latency.
func BenchmarkWebhookParallel(b *testing.B) {
	bi := newBenchIngress(b)
	n := b.N + 64*benchBatch/64 // every goroutine may round its share up
	ws := bi.prepare(0, n)
	var mu sync.Mutex
	next := 0
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			w := ws[next]
			next++
			mu.Unlock()
			bi.serve(b, w)
		}
	})
}

// BenchmarkPublish is the publish step alone: a synchronous JetStream publish with a Nats-Msg-Id, as the
// handler does it, of an encoded inbound event.
func BenchmarkPublish(b *testing.B) {
	bi := newBenchIngress(b)
	data := events.Message{Kind: events.KindInbound, ID: "msg", EventID: "evt", OurNumber: ourNumber,
		UserNumber: userNumber, Text: "hello", ReceivedAt: time.Now(), AcceptedAt: time.Now(), Attempt: 1}.Encode()
	subject := events.ConversationSubject(ourNumber, userNumber)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		msg := nats.NewMsg(subject)
		msg.Data = data
		if _, err := bi.js.PublishMsg(ctx, msg, jetstream.WithMsgID("evt-"+strconv.Itoa(i))); err != nil {
			b.Fatal(err)
		}
	}
}
