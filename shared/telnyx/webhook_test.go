package telnyx_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/telnyx"
)

func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("read fixture: %v", err)
	}
	return b
}

func parseFixture(tb testing.TB, name string) telnyx.Webhook {
	tb.Helper()
	w, err := telnyx.ParseWebhook(readFixture(tb, name))
	if err != nil {
		tb.Fatalf("ParseWebhook(%s): %v", name, err)
	}
	return w
}

func ts(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t.UTC()
}

func TestParseWebhookFixtures(t *testing.T) {
	tests := []struct {
		file string
		want telnyx.Webhook // Payload is checked for presence only
	}{
		{"message_received_sms.json", telnyx.Webhook{EventType: telnyx.EventMessageReceived, EventID: "b301ed3f-1490-491f-995f-6e64e69674d4",
			OccurredAt: ts(t, "2024-05-14T20:16:07.588Z"), Attempt: 1}},
		{"message_received_mms.json", telnyx.Webhook{EventType: telnyx.EventMessageReceived, EventID: "5f1d9a3c-2c4e-4a8b-9a57-0f4c2e6d8b11",
			OccurredAt: ts(t, "2024-05-14T20:18:41.102Z"), Attempt: 1}},
		{"message_received_lenient.json", telnyx.Webhook{EventType: telnyx.EventMessageReceived, EventID: "0d4c7a7e-8f5b-4c1e-9a2d-3b6e5f4a1c00",
			OccurredAt: ts(t, "2024-05-14T20:20:00Z"), Attempt: 2}},
		{"message_sent.json", telnyx.Webhook{EventType: telnyx.EventMessageSent, EventID: "3c2b0a6f-7c24-4b8e-8d8c-7b1c2a3e4f50",
			OccurredAt: ts(t, "2024-05-14T20:16:09.214Z"), Attempt: 1}},
		{"message_finalized_delivered.json", telnyx.Webhook{EventType: telnyx.EventMessageFinalized, EventID: "9e0f5a8d-1b2c-4d3e-8f7a-6b5c4d3e2f10",
			OccurredAt: ts(t, "2024-05-14T20:16:11.412Z"), Attempt: 1}},
		{"message_finalized_failed.json", telnyx.Webhook{EventType: telnyx.EventMessageFinalized, EventID: "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
			OccurredAt: ts(t, "2024-05-14T20:17:30Z"), Attempt: 3}},
		{"unknown_event.json", telnyx.Webhook{EventType: "number_order.complete", EventID: "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
			OccurredAt: ts(t, "2024-05-14T19:00:00Z"), Attempt: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			w := parseFixture(t, tc.file)
			if len(w.Payload) == 0 || w.Payload[0] != '{' {
				t.Fatalf("Payload = %q, want the raw payload object", w.Payload)
			}
			w.Payload = nil
			if !reflect.DeepEqual(w, tc.want) {
				t.Fatalf("ParseWebhook:\n got %+v\nwant %+v", w, tc.want)
			}
		})
	}
}

func TestParseWebhookMalformed(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"empty", "", "malformed webhook: empty body"},
		{"whitespace", " \n", "malformed webhook: empty body"},
		{"not JSON", "hello", "malformed webhook: invalid JSON at offset 1: invalid character 'h' looking for beginning of value"},
		{"truncated", `{"data":{"event_type":"message.received"`, "malformed webhook: invalid JSON at offset 40: unexpected end of JSON input"},
		{"offset counts leading whitespace", `  {"data":}`, "malformed webhook: invalid JSON at offset 11: invalid character '}' looking for beginning of value"},
		{"trailing garbage", `{"data":{"event_type":"x"}} {}`, "malformed webhook: invalid JSON at offset 29: invalid character '{' after top-level value"},
		{"array", `[{"data":{}}]`, "malformed webhook: top level is not a JSON object"},
		{"string", `"data"`, "malformed webhook: top level is not a JSON object"},
		{"null", `null`, "malformed webhook: top level is not a JSON object"},
		{"no data", `{"meta":{"attempt":1}}`, "malformed webhook: missing data"},
		{"data null", `{"data":null}`, "malformed webhook: missing data"},
		{"data array", `{"data":[]}`, "malformed webhook: data is not an object"},
		{"no event_type", `{"data":{"id":"e1","payload":{}}}`, "malformed webhook: missing data.event_type"},
		{"empty event_type", `{"data":{"event_type":""}}`, "malformed webhook: missing data.event_type"},
		{"event_type object", `{"data":{"event_type":{"name":"message.received"}}}`, "malformed webhook: missing data.event_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := telnyx.ParseWebhook([]byte(tc.body))
			if !errors.Is(err, telnyx.ErrMalformed) {
				t.Fatalf("ParseWebhook: %v, want ErrMalformed", err)
			}
			if err.Error() != tc.want {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
		})
	}
}

// TestParseWebhookLenientEnvelope: fields outside what is required never fail a parse.
func TestParseWebhookLenientEnvelope(t *testing.T) {
	tests := []struct {
		name string
		body string
		want telnyx.Webhook
	}{
		{"minimal", `{"data":{"event_type":"message.received"}}`, telnyx.Webhook{EventType: "message.received"}},
		{"meta not an object", `{"data":{"event_type":"e"},"meta":"x"}`, telnyx.Webhook{EventType: "e"}},
		{"attempt as string with spaces", `{"data":{"event_type":"e"},"meta":{"attempt":" 3 "}}`, telnyx.Webhook{EventType: "e", Attempt: 3}},
		{"attempt as float", `{"data":{"event_type":"e"},"meta":{"attempt":2.0}}`, telnyx.Webhook{EventType: "e", Attempt: 2}},
		{"attempt unreadable", `{"data":{"event_type":"e"},"meta":{"attempt":"first","delivered_to":"u"}}`, telnyx.Webhook{EventType: "e"}},
		{"numeric event id", `{"data":{"event_type":"e","id":12345}}`, telnyx.Webhook{EventType: "e", EventID: "12345"}},
		{"escaped strings", `{"data":{"event_type":"message\u002ereceived","id":"a\u002db"}}`, telnyx.Webhook{EventType: "message.received", EventID: "a-b"}},
		{"occurred_at without fraction", `{"data":{"event_type":"e","occurred_at":"2024-05-14T20:16:07Z"}}`, telnyx.Webhook{EventType: "e", OccurredAt: ts(t, "2024-05-14T20:16:07Z")}},
		{"occurred_at microseconds and offset", `{"data":{"event_type":"e","occurred_at":"2024-05-14T22:16:07.123456+02:00"}}`, telnyx.Webhook{EventType: "e", OccurredAt: ts(t, "2024-05-14T20:16:07.123456Z")}},
		{"occurred_at offset without colon", `{"data":{"event_type":"e","occurred_at":"2024-05-14T20:16:07.5+0000"}}`, telnyx.Webhook{EventType: "e", OccurredAt: ts(t, "2024-05-14T20:16:07.5Z")}},
		{"occurred_at with space and no zone", `{"data":{"event_type":"e","occurred_at":"2024-05-14 20:16:07"}}`, telnyx.Webhook{EventType: "e", OccurredAt: ts(t, "2024-05-14T20:16:07Z")}},
		{"occurred_at as Unix seconds", `{"data":{"event_type":"e","occurred_at":1715717767}}`, telnyx.Webhook{EventType: "e", OccurredAt: time.Unix(1715717767, 0).UTC()}},
		{"occurred_at unreadable", `{"data":{"event_type":"e","occurred_at":"last tuesday"}}`, telnyx.Webhook{EventType: "e"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := telnyx.ParseWebhook([]byte(tc.body))
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			w.Payload = nil
			if !reflect.DeepEqual(w, tc.want) {
				t.Fatalf("ParseWebhook:\n got %+v\nwant %+v", w, tc.want)
			}
		})
	}
}

func TestInboundMessage(t *testing.T) {
	tests := []struct {
		file string
		want telnyx.InboundMessage
	}{
		{"message_received_sms.json", telnyx.InboundMessage{
			ID:   "84cca175-9755-4859-b67f-4730d7f58aa3",
			From: "+13125550001", To: "+17735550002", Text: "Hello",
			ReceivedAt: ts(t, "2024-05-14T20:16:07.503Z"),
		}},
		{"message_received_mms.json", telnyx.InboundMessage{
			ID:   "a7e0c7c2-6a62-4bd0-9d4e-1f1a3b2c4d5e",
			From: "+13125550001", To: "+17735550002", Text: "",
			Media: []conversation.Media{
				{URL: "https://media.telnyx.com/mms/a7e0c7c2/IMG_0001.jpg", ContentType: "image/jpeg", Size: 104857},
				{URL: "https://media.telnyx.com/mms/a7e0c7c2/text_0.txt", ContentType: "text/plain", Size: 12},
			},
			ReceivedAt: ts(t, "2024-05-14T20:18:40.977Z"),
		}},
		{"message_received_lenient.json", telnyx.InboundMessage{
			ID:   "40385f64-5717-4562-b3fc-2c963f66afa6",
			From: "+13125550003", To: "+17735550002", Text: "café 😀", AutoresponseType: "stop",
			Media:      []conversation.Media{{URL: "https://media.telnyx.com/mms/40385f64/clip.mp4", ContentType: "video/mp4", Size: 2048}},
			ReceivedAt: ts(t, "2024-05-14T20:19:59Z"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			m, err := parseFixture(t, tc.file).InboundMessage()
			if err != nil {
				t.Fatalf("InboundMessage: %v", err)
			}
			m.Recipients = nil // TestRecipients
			if !reflect.DeepEqual(m, tc.want) {
				t.Fatalf("InboundMessage:\n got %+v\nwant %+v", m, tc.want)
			}
		})
	}
}

// inbound wraps a payload in a message.received envelope.
func inbound(payload string) string {
	return `{"data":{"event_type":"message.received","id":"e1","occurred_at":"2024-05-14T20:00:00Z","payload":` + payload + `}}`
}

func TestInboundMessageLenientPayload(t *testing.T) {
	occurred := ts(t, "2024-05-14T20:00:00Z")
	tests := []struct {
		name    string
		payload string
		want    telnyx.InboundMessage
	}{
		{"to as a string", `{"id":"m1","from":{"phone_number":"+13125550001"},"to":"+17735550002","text":"hi"}`,
			telnyx.InboundMessage{ID: "m1", From: "+13125550001", To: "+17735550002", Text: "hi", ReceivedAt: occurred}},
		{"from as a string", `{"id":"m1","from":"+13125550001","to":[{"phone_number":"+17735550002"}]}`,
			telnyx.InboundMessage{ID: "m1", From: "+13125550001", To: "+17735550002", ReceivedAt: occurred}},
		{"first of several to", `{"id":"m1","from":{"phone_number":"+13125550001"},"to":[{"phone_number":"+17735550002"},{"phone_number":"+17735550003"}]}`,
			telnyx.InboundMessage{ID: "m1", From: "+13125550001", To: "+17735550002", ReceivedAt: occurred}},
		{"text null", `{"id":"m1","from":{"phone_number":"+13125550001"},"to":[{"phone_number":"+17735550002"}],"text":null}`,
			telnyx.InboundMessage{ID: "m1", From: "+13125550001", To: "+17735550002", ReceivedAt: occurred}},
		{"media single object, size as float string", `{"id":"m1","from":{"phone_number":"+13125550001"},"to":[{"phone_number":"+17735550002"}],"media":{"url":"https://m/1","size":"10.0"}}`,
			telnyx.InboundMessage{ID: "m1", From: "+13125550001", To: "+17735550002", Media: []conversation.Media{{URL: "https://m/1", Size: 10}}, ReceivedAt: occurred}},
		{"media without url dropped, bad size zero", `{"id":"m1","from":{"phone_number":"+13125550001"},"to":[{"phone_number":"+17735550002"}],"media":[{"content_type":"image/png"},{"url":"https://m/2","size":"big"}]}`,
			telnyx.InboundMessage{ID: "m1", From: "+13125550001", To: "+17735550002", Media: []conversation.Media{{URL: "https://m/2"}}, ReceivedAt: occurred}},
		{"media null", `{"id":"m1","from":{"phone_number":"+13125550001"},"to":[{"phone_number":"+17735550002"}],"media":null}`,
			telnyx.InboundMessage{ID: "m1", From: "+13125550001", To: "+17735550002", ReceivedAt: occurred}},
		{"received_at unreadable falls back to occurred_at", `{"id":"m1","from":{"phone_number":"+13125550001"},"to":[{"phone_number":"+17735550002"}],"received_at":"soon"}`,
			telnyx.InboundMessage{ID: "m1", From: "+13125550001", To: "+17735550002", ReceivedAt: occurred}},
		{"numeric id", `{"id":42,"from":{"phone_number":"+13125550001"},"to":[{"phone_number":"+17735550002"}]}`,
			telnyx.InboundMessage{ID: "42", From: "+13125550001", To: "+17735550002", ReceivedAt: occurred}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := telnyx.ParseWebhook([]byte(inbound(tc.payload)))
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			m, err := w.InboundMessage()
			if err != nil {
				t.Fatalf("InboundMessage: %v", err)
			}
			m.Recipients = nil // TestRecipients
			if !reflect.DeepEqual(m, tc.want) {
				t.Fatalf("InboundMessage:\n got %+v\nwant %+v", m, tc.want)
			}
		})
	}
}

func TestInboundMessageMalformed(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"no payload", `{"data":{"event_type":"message.received"}}`, "malformed webhook: missing data.payload"},
		{"payload not an object", inbound(`"hello"`), "malformed webhook: data.payload is not an object"},
		{"missing id", inbound(`{"from":{"phone_number":"+13125550001"},"to":[{"phone_number":"+17735550002"}],"text":"hi"}`), "malformed webhook: missing data.payload.id"},
		{"missing from", inbound(`{"id":"m1","to":[{"phone_number":"+17735550002"}],"text":"hi"}`), "malformed webhook: missing data.payload.from.phone_number"},
		{"from without number", inbound(`{"id":"m1","from":{"carrier":"x"},"to":[{"phone_number":"+17735550002"}]}`), "malformed webhook: missing data.payload.from.phone_number"},
		{"missing to", inbound(`{"id":"m1","from":{"phone_number":"+13125550001"},"text":"hi"}`), "malformed webhook: missing data.payload.to[0].phone_number"},
		{"empty to", inbound(`{"id":"m1","from":{"phone_number":"+13125550001"},"to":[]}`), "malformed webhook: missing data.payload.to[0].phone_number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := telnyx.ParseWebhook([]byte(tc.body))
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			_, err = w.InboundMessage()
			if !errors.Is(err, telnyx.ErrMalformed) || err.Error() != tc.want {
				t.Fatalf("InboundMessage: %v, want %q wrapping ErrMalformed", err, tc.want)
			}
		})
	}
}

func TestDeliveryReceipt(t *testing.T) {
	tests := []struct {
		file string
		want telnyx.DeliveryReceipt
	}{
		{"message_sent.json", telnyx.DeliveryReceipt{
			MessageID: "40317159-3af4-4c4f-a5e5-2b8e4d8e3a11", Status: telnyx.StatusSent,
			OccurredAt: ts(t, "2024-05-14T20:16:09.214Z"),
		}},
		{"message_finalized_delivered.json", telnyx.DeliveryReceipt{
			MessageID: "40317159-3af4-4c4f-a5e5-2b8e4d8e3a11", Status: telnyx.StatusDelivered,
			OccurredAt: ts(t, "2024-05-14T20:16:11.412Z"),
		}},
		{"message_finalized_failed.json", telnyx.DeliveryReceipt{
			MessageID: "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9", Status: telnyx.StatusDeliveryFailed,
			Errors: []telnyx.ErrorDetail{
				{Code: "40008", Title: "Undeliverable"},
				{Code: "40002", Title: "Blocked as spam - temporary"},
			},
			OccurredAt: ts(t, "2024-05-14T20:17:30Z"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			r, err := parseFixture(t, tc.file).DeliveryReceipt()
			if err != nil {
				t.Fatalf("DeliveryReceipt: %v", err)
			}
			if !reflect.DeepEqual(r, tc.want) {
				t.Fatalf("DeliveryReceipt:\n got %+v\nwant %+v", r, tc.want)
			}
		})
	}
}

func TestDeliveryReceiptLenientAndMalformed(t *testing.T) {
	receipt := func(payload string) string {
		return `{"data":{"event_type":"message.finalized","id":"e1","payload":` + payload + `}}`
	}
	t.Run("status normalised, single to, time from completed_at", func(t *testing.T) {
		w, err := telnyx.ParseWebhook([]byte(receipt(`{"id":"m1","to":{"phone_number":"+13125550001","status":" Delivery_Unconfirmed "},"completed_at":"2024-05-14T20:00:00Z","errors":null}`)))
		if err != nil {
			t.Fatal(err)
		}
		r, err := w.DeliveryReceipt()
		if err != nil {
			t.Fatalf("DeliveryReceipt: %v", err)
		}
		want := telnyx.DeliveryReceipt{MessageID: "m1", Status: telnyx.StatusDeliveryUnconfirmed, OccurredAt: ts(t, "2024-05-14T20:00:00Z")}
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("DeliveryReceipt:\n got %+v\nwant %+v", r, want)
		}
	})

	bad := []struct {
		name, body, want string
	}{
		{"missing id", receipt(`{"to":[{"phone_number":"+13125550001","status":"sent"}]}`), "malformed webhook: missing data.payload.id"},
		{"missing status", receipt(`{"id":"m1","to":[{"phone_number":"+13125550001"}]}`), "malformed webhook: missing data.payload.to[0].status"},
		{"missing to", receipt(`{"id":"m1"}`), "malformed webhook: missing data.payload.to[0].status"},
		{"payload array", receipt(`[]`), "malformed webhook: data.payload is not an object"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			w, err := telnyx.ParseWebhook([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.DeliveryReceipt()
			if !errors.Is(err, telnyx.ErrMalformed) || err.Error() != tc.want {
				t.Fatalf("DeliveryReceipt: %v, want %q wrapping ErrMalformed", err, tc.want)
			}
		})
	}
}

// TestPayloadAccessorsCheckEventType: reading a payload as the wrong kind is a routing bug, reported as such
// and not as a malformed webhook.
func TestPayloadAccessorsCheckEventType(t *testing.T) {
	unknown := parseFixture(t, "unknown_event.json")
	sent := parseFixture(t, "message_sent.json")
	received := parseFixture(t, "message_received_sms.json")
	tests := []struct {
		name string
		call func() error
	}{
		{"InboundMessage of unknown event", func() error { _, err := unknown.InboundMessage(); return err }},
		{"InboundMessage of message.sent", func() error { _, err := sent.InboundMessage(); return err }},
		{"DeliveryReceipt of unknown event", func() error { _, err := unknown.DeliveryReceipt(); return err }},
		{"DeliveryReceipt of message.received", func() error { _, err := received.DeliveryReceipt(); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, telnyx.ErrUnexpectedEvent) || errors.Is(err, telnyx.ErrMalformed) {
				t.Fatalf("got %v, want ErrUnexpectedEvent only", err)
			}
			if !strings.Contains(err.Error(), "unexpected event type") {
				t.Fatalf("message %q does not say what is wrong", err)
			}
		})
	}
}

func BenchmarkParseInbound(b *testing.B) {
	body := readFixture(b, "message_received_sms.json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		w, err := telnyx.ParseWebhook(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.InboundMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRecipients(t *testing.T) {
	tests := []struct {
		name string
		to   string // the payload's to and cc members
		want []string
	}{
		{"to only", `"to":[{"phone_number":"+17735550002"}]`, []string{"+17735550002"}},
		{"group MMS: to then cc, normalized, repeats dropped",
			`"to":[{"phone_number":"+1 312 555 0001"},{"phone_number":"17735550002"}],"cc":[{"phone_number":"+17735550002"},"+447911123456"]`,
			[]string{"+13125550001", "+17735550002", "+447911123456"}},
		{"entries that are not numbers are skipped", `"to":[{"phone_number":"+17735550002"}],"cc":[{"phone_number":"ours"},"+447911123456"]`,
			[]string{"+17735550002", "+447911123456"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := telnyx.ParseWebhook([]byte(inbound(`{"id":"m1","from":{"phone_number":"+13125550009"},` + tt.to + `}`)))
			if err != nil {
				t.Fatal(err)
			}
			in, err := w.InboundMessage()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(in.Recipients, tt.want) {
				t.Fatalf("Recipients = %q, want %q", in.Recipients, tt.want)
			}
		})
	}
	var to []string
	for i := range telnyx.MaxRecipients + 5 {
		to = append(to, fmt.Sprintf(`"+1312555%04d"`, i))
	}
	w, err := telnyx.ParseWebhook([]byte(inbound(`{"id":"m1","from":{"phone_number":"+13125550009"},"to":[` + strings.Join(to, ",") + `]}`)))
	if err != nil {
		t.Fatal(err)
	}
	if in, err := w.InboundMessage(); err != nil || len(in.Recipients) != telnyx.MaxRecipients {
		t.Fatalf("%d recipients (%v), want the first %d", len(in.Recipients), err, telnyx.MaxRecipients)
	}
}
