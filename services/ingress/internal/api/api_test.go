package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/services/ingress/internal/api"
	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/deadletter"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/ids"
	"github.com/smsconv/smsconv/shared/natstest"
	"github.com/smsconv/smsconv/shared/redistest"
	"github.com/smsconv/smsconv/shared/store"
	"github.com/smsconv/smsconv/shared/telnyx"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
)

const (
	ourNumber  = "+15550001000"
	userNumber = "+12125551234"
	adminToken = "s3cret-token"
)

type env struct {
	t      testing.TB
	url    string
	nc     *nats.Conn
	nats   *natstest.Server
	redis  *redistest.Server
	js     jetstream.JetStream
	store  *store.Store
	signer *fakeapi.Signer
}

func newEnv(t testing.TB, mutate ...func(*api.Deps)) *env {
	t.Helper()
	ns := natstest.Start(t)
	rs := redistest.Start(t)
	nc, js := ns.Connect(t, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.ReconnectBufSize(-1))
	o := events.DefaultStreamOptions()
	o.Partitions = 4
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := events.EnsureStreams(ctx, js, o); err != nil {
		t.Fatal(err)
	}
	signer, err := fakeapi.GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(rs.Client(), store.Options{Prefix: "t"})
	d := api.Deps{NC: nc, JS: js, Store: st, Verifier: telnyx.NewVerifier([]ed25519.PublicKey{signer.PublicKey()}, 300*time.Second),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), DefaultFrom: ourNumber, AdminToken: adminToken,
		WebhookMaxBody: 64 << 10, PublishTimeout: time.Second}
	for _, m := range mutate {
		m(&d)
	}
	srv := httptest.NewServer(api.New(d))
	t.Cleanup(srv.Close)
	return &env{t: t, url: srv.URL, nc: nc, nats: ns, redis: rs, js: js, store: st, signer: signer}
}

// result is what the tests look at of a response (its body is read and closed by do).
type result struct {
	StatusCode int
	Header     http.Header
}

// do sends a request and decodes a JSON answer into out (if non-nil).
func (e *env) do(method, path string, body []byte, hdr map[string]string, out any) result {
	e.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: status %d, body %q is not the JSON expected: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return result{StatusCode: resp.StatusCode, Header: resp.Header}
}

func (e *env) admin() map[string]string {
	return map[string]string{"Authorization": "Bearer " + adminToken}
}

// webhook posts body signed at ts with the test's key.
func (e *env) webhook(body []byte, ts time.Time, out any) result {
	sig, tsv := e.signer.Sign(body, ts)
	return e.do("POST", "/webhooks/sms", body, map[string]string{telnyx.HeaderSignature: sig, telnyx.HeaderTimestamp: tsv}, out)
}

func (e *env) streamMsgs(stream string) uint64 {
	e.t.Helper()
	s, err := e.js.Stream(context.Background(), stream)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.Msgs
}

func (e *env) lastConversationMsg() (*jetstream.RawStreamMsg, events.Message) {
	e.t.Helper()
	raw := e.stored(events.StreamConversations)
	if raw == nil {
		e.t.Fatal("the conversation stream is empty")
	}
	m, err := events.Decode(raw.Data)
	if err != nil {
		e.t.Fatal(err)
	}
	return raw, m
}

func TestWebhookQueuesInboundOnceAndAnswersFast(t *testing.T) {
	e := newEnv(t)
	body := fakeapi.InboundWebhook(fakeapi.Inbound{EventID: "evt-1", MessageID: "msg-1", From: userNumber, To: ourNumber, Text: "Hello"})
	var got map[string]string
	if resp := e.webhook(body, time.Now(), &got); resp.StatusCode != 200 || got["status"] != "queued" || got["message_id"] != "msg-1" {
		t.Fatalf("first delivery: %d %v", resp.StatusCode, got)
	}
	// Telnyx retries the same event: it is acknowledged again but queued once.
	if resp := e.webhook(body, time.Now(), &got); resp.StatusCode != 200 || got["status"] != "duplicate" {
		t.Fatalf("second delivery: %d %v", resp.StatusCode, got)
	}
	if n := e.streamMsgs(events.StreamConversations); n != 1 {
		t.Fatalf("stream holds %d messages, want 1", n)
	}
	raw, m := e.lastConversationMsg()
	if m.Kind != events.KindInbound || m.ID != "msg-1" || m.EventID != "evt-1" || m.Text != "Hello" || m.OurNumber != ourNumber || m.UserNumber != userNumber {
		t.Fatalf("queued message = %+v", m)
	}
	if p, ok := events.PartitionOf(raw.Subject); !ok || p > 3 {
		t.Fatalf("stored subject %q is not partitioned", raw.Subject)
	}
}

func TestWebhookRejectsBadInput(t *testing.T) {
	e := newEnv(t)
	good := fakeapi.InboundWebhook(fakeapi.Inbound{From: userNumber, To: ourNumber, Text: "hi"})
	other, _ := fakeapi.GenerateSigner()
	now := time.Now()
	sign := func(s *fakeapi.Signer, body []byte, ts time.Time) map[string]string {
		sig, tsv := s.Sign(body, ts)
		return map[string]string{telnyx.HeaderSignature: sig, telnyx.HeaderTimestamp: tsv}
	}
	tampered := sign(e.signer, good, now)
	tests := []struct {
		name       string
		body       []byte
		hdr        map[string]string
		wantStatus int
		wantError  string
	}{
		{"no signature", good, nil, 401, "invalid signature"},
		{"wrong key", good, sign(other, good, now), 401, "invalid signature"},
		{"tampered body", append([]byte(nil), bytes.Replace(good, []byte(`"hi"`), []byte(`"yo"`), 1)...), tampered, 401, "invalid signature"},
		{"stale timestamp", good, sign(e.signer, good, now.Add(-6*time.Minute)), 401, "invalid signature"},
		{"future timestamp", good, sign(e.signer, good, now.Add(6*time.Minute)), 401, "invalid signature"},
		{"garbage signature", good, map[string]string{telnyx.HeaderSignature: "!!!", telnyx.HeaderTimestamp: "1"}, 401, "invalid signature"},
		{"oversized body", bytes.Repeat([]byte("x"), 65<<10), nil, 413, "request body too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got map[string]string
			resp := e.do("POST", "/webhooks/sms", tc.body, tc.hdr, &got)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(got["error"], tc.wantError) {
				t.Fatalf("status %d error %q, want %d %q", resp.StatusCode, got["error"], tc.wantStatus, tc.wantError)
			}
		})
	}
	if n := e.streamMsgs(events.StreamConversations); n != 0 {
		t.Fatalf("rejected webhooks queued %d messages", n)
	}
	// Signed but unusable events are kept and answered 200: hostile_test.go.
	if n := e.streamMsgs(events.StreamEvents); n != 0 {
		t.Fatalf("rejected webhooks kept %d events", n)
	}
}

func TestWebhookOtherEventsAndMediaOnly(t *testing.T) {
	e := newEnv(t)
	receipt := fakeapi.ReceiptWebhook(fakeapi.Receipt{EventType: "message.finalized", MessageID: "tx-1", From: ourNumber, To: userNumber, Status: "delivered"})
	var got map[string]string
	if resp := e.webhook(receipt, time.Now(), &got); resp.StatusCode != 200 || got["status"] != "acknowledged" {
		t.Fatalf("receipt: %d %v", resp.StatusCode, got)
	}
	// The receipt crosses the queue as our typed event, not as Telnyx's webhook.
	es, err := e.js.Stream(context.Background(), events.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := es.GetLastMsgForSubject(context.Background(), events.EventSubject(events.EventMessageFinalized))
	if err != nil {
		t.Fatal(err)
	}
	if rc, err := events.DecodeReceipt(raw.Data); err != nil || rc.TelnyxID != "tx-1" || rc.Status != "delivered" || rc.EventType != events.EventMessageFinalized {
		t.Fatalf("queued receipt = %+v, %v; want telnyx_id tx-1, status delivered", rc, err)
	}
	unknown := []byte(`{"data":{"event_type":"number.ported","id":"evt-x","payload":{}},"meta":{"attempt":1}}`)
	if resp := e.webhook(unknown, time.Now(), &got); resp.StatusCode != 200 || got["status"] != "acknowledged" {
		t.Fatalf("unknown event: %d %v", resp.StatusCode, got)
	}
	if n := e.streamMsgs(events.StreamEvents); n != 2 {
		t.Fatalf("events stream holds %d, want 2", n)
	}
	mms := fakeapi.InboundWebhook(fakeapi.Inbound{From: userNumber, To: ourNumber, Text: "",
		Media: []fakeapi.Media{{URL: "https://example.com/cat.jpg", ContentType: "image/jpeg", Size: 1234}}})
	if resp := e.webhook(mms, time.Now(), &got); resp.StatusCode != 200 || got["status"] != "queued" {
		t.Fatalf("media-only MMS: %d %v (must be accepted, or Telnyx retries forever)", resp.StatusCode, got)
	}
	_, m := e.lastConversationMsg()
	if m.Text != "" || len(m.Media) != 1 || m.Media[0].ContentType != "image/jpeg" {
		t.Fatalf("queued MMS = %+v", m)
	}
}

func TestWebhookNATSDownAnswers503AndLosesNothing(t *testing.T) {
	e := newEnv(t)
	body := fakeapi.InboundWebhook(fakeapi.Inbound{EventID: "evt-down", From: userNumber, To: ourNumber, Text: "hello"})
	e.nats.Stop()
	var got map[string]string
	resp := e.webhook(body, time.Now(), &got)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || got["error"] == "" {
		t.Fatalf("NATS down: %d %v (Retry-After %q), want 503", resp.StatusCode, got, resp.Header.Get("Retry-After"))
	}
	e.nats.Restart()
	// Telnyx delivers the event again; now it is queued.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp = e.webhook(body, time.Now(), &got)
		if resp.StatusCode == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp.StatusCode != 200 || got["status"] != "queued" {
		t.Fatalf("after NATS is back: %d %v", resp.StatusCode, got)
	}
	if n := e.streamMsgs(events.StreamConversations); n != 1 {
		t.Fatalf("stream holds %d, want 1", n)
	}
}

func TestAdminAuth(t *testing.T) {
	e := newEnv(t)
	disabled := newEnv(t, func(d *api.Deps) { d.AdminToken = "" })
	tests := []struct {
		name string
		e    *env
		hdr  map[string]string
		want int
	}{
		{"no token configured", disabled, map[string]string{"Authorization": "Bearer anything"}, 403},
		{"missing header", e, nil, 401},
		{"wrong token", e, map[string]string{"Authorization": "Bearer nope"}, 401},
		{"wrong scheme", e, map[string]string{"Authorization": "Basic " + adminToken}, 401},
		{"right token", e, e.admin(), 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got any
			resp := tc.e.do("GET", "/conversations", nil, tc.hdr, &got)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tc.want, got)
			}
		})
	}
}

func TestSend(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name      string
		body      string
		want      int
		wantError string
	}{
		{"malformed JSON", `{"to":`, 400, "malformed JSON"},
		{"not E.164", `{"to":"2125551234","message":"x"}`, 422, "to: invalid phone number"},
		{"impossible number", `{"to":"+1555","message":"x"}`, 422, "to: invalid phone number"},
		{"empty message", `{"to":"+12125551234","message":"  "}`, 422, "message: required"},
		{"too long", `{"to":"+12125551234","message":"` + strings.Repeat("a", 1601) + `"}`, 422, "too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got map[string]string
			resp := e.do("POST", "/sms/send", []byte(tc.body), e.admin(), &got)
			if resp.StatusCode != tc.want || !strings.Contains(got["error"], tc.wantError) {
				t.Fatalf("status %d %v, want %d %q", resp.StatusCode, got, tc.want, tc.wantError)
			}
		})
	}
	// A body that is not declared JSON (curl -d without -H sends a form) is refused as such.
	for _, ct := range []string{"", "application/x-www-form-urlencoded", "text/plain"} {
		t.Run("content type "+ct, func(t *testing.T) {
			var got map[string]string
			hdr := e.admin()
			hdr["Content-Type"] = ct
			resp := e.do("POST", "/sms/send", []byte(`{"to":"+12125551234","message":"x"}`), hdr, &got)
			if resp.StatusCode != 415 || !strings.Contains(got["error"], "want application/json") {
				t.Fatalf("status %d %v, want 415", resp.StatusCode, got)
			}
		})
	}
	var got map[string]string
	hdr := e.admin()
	hdr["Content-Type"] = "application/json; charset=utf-8"
	hdr["Idempotency-Key"] = "order-42"
	resp := e.do("POST", "/sms/send", []byte(`{"to":"+12125551234","message":"Your order shipped"}`), hdr, &got)
	if resp.StatusCode != 202 || got["status"] != "queued" || got["id"] != "snd_order-42" || got["from"] != ourNumber {
		t.Fatalf("send: %d %v", resp.StatusCode, got)
	}
	resp = e.do("POST", "/sms/send", []byte(`{"to":"+12125551234","message":"Your order shipped"}`), hdr, &got)
	if resp.StatusCode != 202 || got["id"] != "snd_order-42" {
		t.Fatalf("repeated send: %d %v", resp.StatusCode, got)
	}
	// The same key with another body is refused, and nothing more is queued (checked below).
	resp = e.do("POST", "/sms/send", []byte(`{"to":"+12125551234","message":"Your order was cancelled"}`), hdr, &got)
	if resp.StatusCode != 422 || !strings.Contains(got["error"], "Idempotency-Key: already used for a different request") {
		t.Fatalf("key reused with another body: %d %v, want 422", resp.StatusCode, got)
	}
	if n := e.streamMsgs(events.StreamConversations); n != 1 {
		t.Fatalf("stream holds %d sends, want 1", n)
	}
	_, m := e.lastConversationMsg()
	if m.Kind != events.KindSend || m.ID != "snd_order-42" || m.Text != "Your order shipped" {
		t.Fatalf("queued send = %+v", m)
	}
	var msg map[string]any
	if resp := e.do("GET", "/messages/snd_order-42", nil, e.admin(), &msg); resp.StatusCode != 200 || msg["status"] != "queued" || msg["to"] != userNumber ||
		msg["encoding"] != "gsm7" || msg["parts"] != 1.0 {
		t.Fatalf("GET /messages: %d %v", resp.StatusCode, msg)
	}
	if resp := e.do("GET", "/messages/nope", nil, e.admin(), &msg); resp.StatusCode != 404 {
		t.Fatalf("GET unknown message: %d", resp.StatusCode)
	}
	// An inbound record is kept under its ids.Inbound key; the Telnyx id the webhook answer names finds it.
	if err := e.store.QueueSend(context.Background(), store.Message{ID: ids.Inbound("40e8.abc_1"), Our: ourNumber, User: userNumber, Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"40e8.abc_1", ids.Inbound("40e8.abc_1")} {
		if resp := e.do("GET", "/messages/"+id, nil, e.admin(), &msg); resp.StatusCode != 200 || msg["text"] != "hello" {
			t.Fatalf("GET /messages/%s: %d %v", id, resp.StatusCode, msg)
		}
	}
	// A number that opted out is refused with a clear error.
	if err := e.store.SetOptedOut(context.Background(), store.Key{Our: ourNumber, User: "+12125550199"}, true); err != nil {
		t.Fatal(err)
	}
	if resp := e.do("POST", "/sms/send", []byte(`{"to":"+12125550199","message":"hi"}`), e.admin(), &got); resp.StatusCode != 409 || !strings.Contains(got["error"], "opted out") {
		t.Fatalf("send to opted-out: %d %v", resp.StatusCode, got)
	}
}

func TestConversations(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	t0 := time.Date(2026, 6, 18, 12, 0, 0, 0, time.UTC)
	for i, user := range []string{"+12125550001", "+12125550002", "+12125550003"} {
		k := store.Key{Our: ourNumber, User: user}
		res := conversation.Seed.Step(conversation.New(t0), conversation.Inbound{Text: "hello"}, t0)
		_, err := e.store.Apply(ctx, store.Commit{Key: k, Conversation: res.Conversation,
			Message: store.Message{ID: "in-" + user, Direction: store.DirectionInbound, Our: ourNumber, User: user, Text: "hello", Status: store.StatusReceived, CreatedAt: t0},
			Reply:   &store.Message{ID: "out-" + user, Direction: store.DirectionOutbound, Our: ourNumber, User: user, Text: res.Reply, Status: store.StatusPending, CreatedAt: t0}})
		if err != nil {
			t.Fatalf("seed conversation %d: %v", i, err)
		}
	}
	var page []map[string]any
	resp := e.do("GET", "/conversations?limit=2", nil, e.admin(), &page)
	link := resp.Header.Get("Link")
	if resp.StatusCode != 200 || len(page) != 2 || page[0]["phone_number"] != "+12125550001" || page[0]["state"] != "greeted" ||
		page[0]["message_count"] != float64(1) || page[0]["created_at"] != "2026-06-18T12:00:00Z" || !strings.Contains(link, `rel="next"`) {
		t.Fatalf("first page: %d %v Link %q", resp.StatusCode, page, link)
	}
	next := link[strings.Index(link, "<")+1 : strings.Index(link, ">")]
	resp = e.do("GET", next, nil, e.admin(), &page)
	if resp.StatusCode != 200 || len(page) != 1 || page[0]["phone_number"] != "+12125550003" || resp.Header.Get("Link") != "" {
		t.Fatalf("second page: %d %v", resp.StatusCode, page)
	}
	var one struct {
		PhoneNumber string `json:"phone_number"`
		State       string `json:"state"`
		Messages    []struct{ Direction, Text, Status, From, To string }
	}
	resp = e.do("GET", "/conversations/%2B12125550002", nil, e.admin(), &one)
	if resp.StatusCode != 200 || one.State != "greeted" || len(one.Messages) != 2 || one.Messages[0].Text != "hello" ||
		one.Messages[1].Text != conversation.ReplyGreeting || one.Messages[1].From != ourNumber || one.Messages[1].Status != "pending" {
		t.Fatalf("conversation: %d %+v", resp.StatusCode, one)
	}
	var e404 map[string]string
	if resp := e.do("GET", "/conversations/12125550009", nil, e.admin(), &e404); resp.StatusCode != 404 {
		t.Fatalf("unknown conversation: %d %v", resp.StatusCode, e404)
	}
	if resp := e.do("GET", "/conversations/notaphone", nil, e.admin(), &e404); resp.StatusCode != 400 {
		t.Fatalf("bad phone: %d %v", resp.StatusCode, e404)
	}
	if resp := e.do("GET", "/conversations?limit=0", nil, e.admin(), &e404); resp.StatusCode != 400 {
		t.Fatalf("bad limit: %d", resp.StatusCode)
	}
	// Replies skipped by the worker's reply limit are counted, and the count is shown.
	limited := store.New(e.redis.Client(), store.Options{Prefix: "t", RepliesPerMinute: 1})
	k := store.Key{Our: ourNumber, User: "+12125550003"}
	for _, id := range []string{"in-2", "in-3"} {
		l, err := limited.Load(ctx, k, id, "out-"+id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := limited.Apply(ctx, store.Commit{Key: k, ExpectVersion: l.Version, Conversation: l.Conversation,
			Message: store.Message{ID: id, Direction: store.DirectionInbound, Our: ourNumber, User: k.User, Text: "hi", CreatedAt: t0},
			Reply:   &store.Message{ID: "out-" + id, Direction: store.DirectionOutbound, Our: ourNumber, User: k.User, Text: "hi", Status: store.StatusPending}}); err != nil {
			t.Fatal(err)
		}
	}
	var counted map[string]any
	if resp := e.do("GET", "/conversations/%2B12125550003", nil, e.admin(), &counted); resp.StatusCode != 200 || counted["rate_limited"] != float64(1) {
		t.Fatalf("conversation: %d rate_limited %v, want 1", resp.StatusCode, counted["rate_limited"])
	}
}

func TestReadiness(t *testing.T) {
	e := newEnv(t)
	var got map[string]string
	if resp := e.do("GET", "/healthz", nil, nil, &got); resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
	if resp := e.do("GET", "/readyz", nil, nil, &got); resp.StatusCode != 200 || got["status"] != "ok" {
		t.Fatalf("readyz %d %v", resp.StatusCode, got)
	}
	e.redis.Kill()
	if resp := e.do("GET", "/readyz", nil, nil, &got); resp.StatusCode != 503 || got["redis"] != "unavailable" || got["nats"] != "ok" {
		t.Fatalf("readyz with Redis down: %d %v", resp.StatusCode, got)
	}
}

// TestUnknownOutcomes: a send held with an unknown outcome is listed for an operator with its encoding and
// parts as recorded when it left.
func TestUnknownOutcomes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.store.QueueSend(ctx, store.Message{ID: "snd_held", Our: ourNumber, User: "+12125551234", Text: "Ready 🚀", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if resp := e.do("GET", "/unknown-outcomes", nil, e.admin(), &list); resp.StatusCode != 200 || len(list) != 0 {
		t.Fatalf("nothing held: %d %v", resp.StatusCode, list)
	}
	for range 2 { // the request left and its answer was lost: the second attempt holds it
		if _, _, err := e.store.BeginSend(ctx, store.Key{Our: ourNumber, User: "+12125551234"}, "snd_held", "ucs2", 1, true); err != nil {
			t.Fatal(err)
		}
	}
	if resp := e.do("GET", "/unknown-outcomes", nil, e.admin(), &list); resp.StatusCode != 200 || len(list) != 1 ||
		list[0]["id"] != "snd_held" || list[0]["status"] != "unknown" || list[0]["encoding"] != "ucs2" || list[0]["send_attempts"] != 1.0 || list[0]["unknown_outcome_at"] == nil {
		t.Fatalf("GET /unknown-outcomes: %d %v", resp.StatusCode, list)
	}
	var errBody map[string]string
	if resp := e.do("GET", "/unknown-outcomes", nil, nil, &errBody); resp.StatusCode != 401 {
		t.Fatalf("without the admin token: %d", resp.StatusCode)
	}
}

func TestDeadLettersListAndReplay(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := events.Message{Kind: events.KindInbound, ID: "msg-dl", OurNumber: ourNumber, UserNumber: userNumber, Text: "info", AcceptedAt: time.Now().UTC()}
	if err := deadletter.Publish(ctx, e.js, deadletter.Entry{Data: m.Encode(), Subject: "conv.0.x.y", StreamSeq: 7,
		Attempts: 1, Class: deadletter.ClassPermanent, Reason: "telnyx rejected the message: 422"}); err != nil {
		t.Fatal(err)
	}
	var list []struct {
		ID      uint64
		Reason  string
		Class   string
		Message *events.Message
	}
	if resp := e.do("GET", "/dead-letters", nil, e.admin(), &list); resp.StatusCode != 200 || len(list) != 1 ||
		list[0].Reason != "telnyx rejected the message: 422" || list[0].Message == nil || list[0].Message.ID != "msg-dl" {
		t.Fatalf("list: %d %+v", resp.StatusCode, list)
	}
	var got map[string]any
	if resp := e.do("POST", "/dead-letters/999/replay", nil, e.admin(), &got); resp.StatusCode != 404 {
		t.Fatalf("replay unknown: %d %v", resp.StatusCode, got)
	}
	id := list[0].ID
	if resp := e.do("POST", "/dead-letters/"+itoa(id)+"/replay", nil, e.admin(), &got); resp.StatusCode != 202 || got["status"] != "replayed" {
		t.Fatalf("replay: %d %v", resp.StatusCode, got)
	}
	raw, back := e.lastConversationMsg()
	if back.ID != "msg-dl" || !deadletter.IsReplay(raw.Header) {
		t.Fatalf("replayed message %+v header %v", back, raw.Header)
	}
	if resp := e.do("GET", "/dead-letters", nil, e.admin(), &list); resp.StatusCode != 200 || len(list) != 0 {
		t.Fatalf("after replay the dead letter is still listed: %+v", list)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func TestStreamFullAnswers503(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s, err := e.js.Stream(ctx, events.StreamConversations)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.MaxMsgs = 2 // workers are "down": the backlog bound is reached after two messages
	if _, err := e.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	for i := range 3 {
		body := fakeapi.InboundWebhook(fakeapi.Inbound{EventID: "evt-full-" + strconv.Itoa(i), From: userNumber, To: ourNumber, Text: "hi"})
		resp := e.webhook(body, time.Now(), &got)
		want := 200
		if i == 2 {
			want = 503
		}
		if resp.StatusCode != want {
			t.Fatalf("webhook %d: %d %v, want %d", i, resp.StatusCode, got, want)
		}
	}
	if n := e.streamMsgs(events.StreamConversations); n != 2 {
		t.Fatalf("stream holds %d, want the 2 accepted", n)
	}
}

func TestMetricsMoveWithTraffic(t *testing.T) {
	e := newEnv(t)
	scrape := func() string {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), "GET", e.url+"/metrics", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	before := scrape()
	if !strings.Contains(before, `smsconv_webhooks_total{outcome="accepted"} 0`) {
		t.Fatalf("webhook counter not exposed at zero before traffic:\n%s", before)
	}
	body := fakeapi.InboundWebhook(fakeapi.Inbound{From: userNumber, To: ourNumber, Text: "hi"})
	e.webhook(body, time.Now(), nil)
	e.webhook(body, time.Now(), nil)
	e.do("POST", "/webhooks/sms", body, nil, nil) // unsigned
	after := scrape()
	for _, want := range []string{
		`smsconv_webhooks_total{outcome="accepted"} 1`,
		`smsconv_webhooks_total{outcome="duplicate"} 1`,
		`smsconv_webhooks_total{outcome="invalid_signature"} 1`,
		`smsconv_publish_duration_seconds_count{result="ok"} 2`,
		`smsconv_webhook_duration_seconds_count{outcome="accepted"} 1`,
	} {
		if !strings.Contains(after, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(after, userNumber) {
		t.Error("a phone number appears in the metrics")
	}
}
