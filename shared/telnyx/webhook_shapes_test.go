package telnyx_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/telnyx"
)

// TestEnvelopeShapes reads every envelope shape Telnyx's documentation shows, each as the payload accessor the
// ingress or the receipt consumer would use sees it.
func TestEnvelopeShapes(t *testing.T) {
	tests := []struct {
		file        string
		want        telnyx.Webhook // Payload is checked for presence only
		wantInbound *telnyx.InboundMessage
		wantReceipt *telnyx.DeliveryReceipt
	}{
		{"shape_top_level_received.json",
			telnyx.Webhook{EventType: telnyx.EventMessageReceived, EventID: "bf6307bd-884d-4c1f-b6ea-c62b8c495d3c", OccurredAt: ts(t, "2024-05-14T20:30:02.574Z")},
			&telnyx.InboundMessage{ID: "7ee4241c-f127-47e5-9c34-3aac291f8058", From: "+13125550001", To: "+17735550002",
				Text: "Hello, World!", ReceivedAt: ts(t, "2024-05-14T20:30:02.5Z")}, nil},
		{"shape_top_level_sent.json", // occurred_at is the reference page's placeholder "date-time"
			telnyx.Webhook{EventType: telnyx.EventMessageSent, EventID: "86f58db9-0fe3-4adc-9d1f-46e66e6e9323"},
			nil, &telnyx.DeliveryReceipt{MessageID: "40385f64-5717-4562-b3fc-2c963f66afa6", Status: telnyx.StatusQueued,
				OccurredAt: ts(t, "2024-05-14T20:31:01Z")}},
		{"shape_data_without_meta.json",
			telnyx.Webhook{EventType: telnyx.EventMessageReceived, EventID: "0a8f3c1e-2b4d-4e6f-8a0b-1c2d3e4f5a6b", OccurredAt: ts(t, "2024-05-14T20:32:10.001Z")},
			&telnyx.InboundMessage{ID: "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9", From: "+447911123456", To: "+17735550002",
				Text: "help", ReceivedAt: ts(t, "2024-05-14T20:32:09.95Z")}, nil},
		{"shape_data_is_record.json",
			telnyx.Webhook{EventType: telnyx.EventMessageReceived, EventID: "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f", Attempt: 2},
			&telnyx.InboundMessage{ID: "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f", From: "+13125550001", To: "+17735550002",
				Text: "info", ReceivedAt: ts(t, "2024-05-14T20:33:00Z")}, nil},
		{"shape_record_link_clicked.json", telnyx.Webhook{EventType: "link_clicked"}, nil, nil},
		{"message_received_unnormalized.json", // Arabic-Indic digits with spaces, a number without '+', Unix seconds
			telnyx.Webhook{EventType: telnyx.EventMessageReceived, EventID: "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6", OccurredAt: ts(t, "2024-05-14T20:40:00Z"), Attempt: 1},
			&telnyx.InboundMessage{ID: "e2f3a4b5-c6d7-4e8f-9a01-b2c3d4e5f6a7", From: "+447911123456", To: "+17735550002",
				Text: "مرحبا", ReceivedAt: ts(t, "2024-05-14T20:39:59Z")}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			w := parseFixture(t, tc.file)
			if len(w.Payload) == 0 || w.Payload[0] != '{' {
				t.Fatalf("Payload = %q, want the raw payload object", w.Payload)
			}
			head := w
			head.Payload = nil
			if !reflect.DeepEqual(head, tc.want) {
				t.Fatalf("ParseWebhook:\n got %+v\nwant %+v", head, tc.want)
			}
			if tc.wantInbound != nil {
				m, err := w.InboundMessage()
				m.Recipients = nil // TestRecipients
				if err != nil || !reflect.DeepEqual(m, *tc.wantInbound) {
					t.Fatalf("InboundMessage: %v\n got %+v\nwant %+v", err, m, *tc.wantInbound)
				}
			}
			if tc.wantReceipt != nil {
				r, err := w.DeliveryReceipt()
				if err != nil || !reflect.DeepEqual(r, *tc.wantReceipt) {
					t.Fatalf("DeliveryReceipt: %v\n got %+v\nwant %+v", err, r, *tc.wantReceipt)
				}
			}
		})
	}
}

// TestUnusable: a signed event whose fields would break a subject, a key, an id or an encoded event is refused
// with ErrUnusable and a reason, before anything downstream sees it.
func TestUnusable(t *testing.T) {
	long := strings.Repeat("9", 5000)
	msg := func(payload string) string {
		return `{"data":{"event_type":"message.received","id":"e1","payload":` + payload + `}}`
	}
	ok := `"id":"m1","from":{"phone_number":"+13125550001"},"to":[{"phone_number":"+17735550002"}]`
	tests := []struct {
		name, body, want string
		inbound          bool // the error comes from InboundMessage, not ParseWebhook
	}{
		{"event_type of thousands of bytes", `{"data":{"event_type":"message.` + long + `"}}`, "data.event_type is 5008 bytes, at most 64", false},
		{"event_type with a subject wildcard", `{"data":{"event_type":"message.>"}}`, `data.event_type has a character '>'`, false},
		{"event_type with a space", `{"data":{"event_type":"message received"}}`, `data.event_type has a character ' '`, false},
		{"event id too long", `{"data":{"event_type":"e","id":"` + long + `"}}`, "data.id is 5000 bytes, at most 128", false},
		{"event id with a newline", `{"data":{"event_type":"e","id":"a\nNats-Msg-Id: b"}}`, `data.id has a character '\n'`, false},
		{"top-level event_type too long", `{"event_type":"` + long + `"}`, "event_type is 5000 bytes", false},
		{"from of thousands of digits", msg(`{"id":"m1","from":{"phone_number":"+` + long + `"},"to":[{"phone_number":"+17735550002"}]}`),
			"data.payload.from.phone_number: invalid phone number: 5001 bytes, at most 64", true},
		{"to not a number", msg(`{"id":"m1","from":{"phone_number":"+13125550001"},"to":[{"phone_number":"ACME"}]}`),
			"data.payload.to[0].phone_number: invalid phone number: unexpected character 'A'", true},
		{"alphanumeric sender", msg(`{"id":"m1","from":{"phone_number":"Telnyx"},"to":[{"phone_number":"+17735550002"}]}`),
			"data.payload.from.phone_number: invalid phone number", true},
		{"message id too long", msg(`{"id":"` + long + `","from":{"phone_number":"+13125550001"},"to":[{"phone_number":"+17735550002"}]}`),
			"data.payload.id is 5000 bytes, at most 128", true},
		{"message id with a space", msg(`{"id":"a b","from":{"phone_number":"+13125550001"},"to":[{"phone_number":"+17735550002"}]}`),
			`data.payload.id has a character ' '`, true},
		{"message id not ASCII", msg(`{"id":"é","from":{"phone_number":"+13125550001"},"to":[{"phone_number":"+17735550002"}]}`),
			"data.payload.id has a non-ASCII character", true},
		{"text over the bound", msg(`{` + ok + `,"text":"` + strings.Repeat("<", telnyx.MaxText+1) + `"}`),
			"data.payload.text is 65537 bytes, at most 65536", true},
		{"too many attachments", msg(`{` + ok + `,"media":[` + strings.Repeat(`{"url":"https://m/1"},`, telnyx.MaxMedia) + `{"url":"https://m/2"}]}`),
			"data.payload.media has 33 entries, at most 32", true},
		{"attachment URL too long", msg(`{` + ok + `,"media":[{"url":"https://m/` + strings.Repeat("a", telnyx.MaxURL) + `"}]}`),
			"data.payload.media[0].url is 2058 bytes, at most 2048", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := telnyx.ParseWebhook([]byte(tc.body))
			if tc.inbound {
				if err != nil {
					t.Fatalf("ParseWebhook: %v", err)
				}
				_, err = w.InboundMessage()
			}
			if !errors.Is(err, telnyx.ErrUnusable) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrUnusable saying %q", err, tc.want)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("error of %d bytes: it must not echo the input", len(err.Error()))
			}
		})
	}
	t.Run("malformed is a kind of unusable", func(t *testing.T) {
		_, err := telnyx.ParseWebhook([]byte("{"))
		if !errors.Is(err, telnyx.ErrMalformed) || !errors.Is(err, telnyx.ErrUnusable) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestTimesOutOfRange: a timestamp json.Marshal could not encode (past year 9999) or before Unix time reads as
// absent, and the fallback applies; nothing panics.
func TestTimesOutOfRange(t *testing.T) {
	occurred := ts(t, "2024-05-14T20:00:00Z")
	tests := []struct {
		name, receivedAt string
		want             time.Time
	}{
		{"seconds past year 9999", "253402300800", occurred},
		{"largest int64", "9223372036854775807", occurred},
		{"float beyond int64", "1e300", occurred},
		{"negative seconds", "-1", occurred},
		{"most negative int64", "-9223372036854775808", occurred},
		{"string year 10000", `"10000-01-01T00:00:00Z"`, occurred},
		{"last second of 9999 kept", "253402300799", time.Unix(253402300799, 0).UTC()},
		{"huge string", `"` + strings.Repeat("2", 1000) + `"`, occurred},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"data":{"event_type":"message.received","id":"e1","occurred_at":"2024-05-14T20:00:00Z","payload":{"id":"m1",` +
				`"from":{"phone_number":"+13125550001"},"to":[{"phone_number":"+17735550002"}],"received_at":` + tc.receivedAt + `}}}`
			w, err := telnyx.ParseWebhook([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			m, err := w.InboundMessage()
			if err != nil {
				t.Fatal(err)
			}
			if !m.ReceivedAt.Equal(tc.want) {
				t.Fatalf("ReceivedAt = %v, want %v", m.ReceivedAt, tc.want)
			}
			if _, err := json.Marshal(m); err != nil {
				t.Fatalf("message does not encode: %v", err)
			}
		})
	}
}

// FuzzParseWebhook runs the parse step on any body: it must not panic; every field that reaches a subject, a key
// or an id stays within its bound; and a parsed message or receipt encodes to JSON and decodes back equal.
func FuzzParseWebhook(f *testing.F) {
	for _, name := range []string{"message_received_sms.json", "message_received_mms.json", "message_received_lenient.json",
		"message_received_unnormalized.json", "message_sent.json", "message_finalized_failed.json", "unknown_event.json",
		"shape_top_level_received.json", "shape_data_is_record.json", "shape_record_link_clicked.json"} {
		f.Add(readFixture(f, name))
	}
	for _, s := range []string{
		`{"data":{"event_type":"message.received","id":"e1","payload":{"id":"m1","from":"+1 312 555 0001","to":"17735550002","received_at":253402300800}}}`,
		`{"data":{"event_type":"message.finalized","id":"e","payload":{"id":"m","to":[{"status":"delivered"}],"errors":[{"code":1,"title":"x"}]}}}`,
		`{"event_type":"message.received","payload":{"id":"m1","from":{"phone_number":"٤٤٧٩١١١٢٣٤٥٦"},"to":[{"phone_number":"＋１７７３５５５０００２"}],"text":"\u0000<>&"}}`,
		`{"data":{"event_type":"` + strings.Repeat("a", 70) + `"}}`, `{"data":[]}`, `[]`, `{"data":{"record_type":"message"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := telnyx.ParseWebhook(body)
		if err != nil {
			if !errors.Is(err, telnyx.ErrUnusable) {
				t.Fatalf("error %v is not ErrUnusable", err)
			}
			return
		}
		if len(w.EventType) == 0 || len(w.EventType) > telnyx.MaxEventType || len(w.EventID) > telnyx.MaxID || w.Attempt < 0 {
			t.Fatalf("unbounded envelope: %d-byte type, %d-byte id, attempt %d", len(w.EventType), len(w.EventID), w.Attempt)
		}
		checkTime(t, w.OccurredAt)
		if m, err := w.InboundMessage(); err == nil {
			if len(m.ID) == 0 || len(m.ID) > telnyx.MaxID || len(m.From) > 16 || len(m.To) > 16 || m.From[0] != '+' || m.To[0] != '+' ||
				len(m.Text) > telnyx.MaxText || len(m.Media) > telnyx.MaxMedia || !utf8.ValidString(m.Text) {
				t.Fatalf("unbounded message: %d-byte id, from %q, to %q, %d-byte text, %d media", len(m.ID), m.From, m.To, len(m.Text), len(m.Media))
			}
			checkTime(t, m.ReceivedAt)
			roundTrip(t, m, normMedia)
		} else if !errors.Is(err, telnyx.ErrUnusable) && !errors.Is(err, telnyx.ErrUnexpectedEvent) {
			t.Fatalf("InboundMessage error %v is not classified", err)
		}
		if r, err := w.DeliveryReceipt(); err == nil {
			if len(r.MessageID) == 0 || len(r.MessageID) > telnyx.MaxID || len(r.Status) > 64 || len(r.Errors) > 10 {
				t.Fatalf("unbounded receipt: %+v", r)
			}
			checkTime(t, r.OccurredAt)
			roundTrip(t, r, func(r telnyx.DeliveryReceipt) telnyx.DeliveryReceipt { return r })
		} else if !errors.Is(err, telnyx.ErrUnusable) && !errors.Is(err, telnyx.ErrUnexpectedEvent) {
			t.Fatalf("DeliveryReceipt error %v is not classified", err)
		}
	})
}

func checkTime(tb testing.TB, tm time.Time) {
	tb.Helper()
	if _, err := tm.MarshalJSON(); err != nil {
		tb.Fatalf("time %v cannot be encoded: %v", tm, err)
	}
}

// roundTrip encodes v to JSON and decodes it back, requiring the same value (times included: parsed times are
// UTC, which JSON keeps exactly). norm evens out what JSON cannot tell apart.
func roundTrip[T any](tb testing.TB, v T, norm func(T) T) {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("encode: %v", err)
	}
	var back T
	if err := json.Unmarshal(b, &back); err != nil {
		tb.Fatalf("decode: %v", err)
	}
	if !reflect.DeepEqual(norm(v), norm(back)) {
		tb.Fatalf("did not come back equal:\n%+v\n%+v", v, back)
	}
}

// normMedia treats a nil and an empty attachment list alike: JSON does not tell them apart.
func normMedia(m telnyx.InboundMessage) telnyx.InboundMessage {
	if len(m.Media) == 0 {
		m.Media = []conversation.Media{}
	}
	return m
}
