package fakeapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

var testTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// TestWebhookGolden pins the exact JSON of the webhook builders, so a change in shape shows up in review.
func TestWebhookGolden(t *testing.T) {
	tests := []struct {
		file string
		body []byte
	}{
		{"inbound_sms.json", InboundWebhook(Inbound{EventID: "evt-1", MessageID: "msg-1", From: userNum, To: ourNum,
			Text: "hello", Attempt: 2, At: testTime, DeliveredTo: "http://ingress:8080/webhooks/sms"})},
		{"inbound_mms.json", InboundWebhook(Inbound{EventID: "evt-2", MessageID: "msg-2", From: userNum, To: ourNum,
			Media: []Media{{URL: "https://example.com/cat.jpg", ContentType: "image/jpeg", Size: 2048}}, At: testTime,
			DeliveredTo: "http://ingress:8080/webhooks/sms"})},
		{"message_sent.json", ReceiptWebhook(Receipt{EventID: "evt-3", EventType: EventMessageSent, MessageID: "msg-3",
			From: ourNum, To: userNum, Text: "Hello!", At: testTime, DeliveredTo: "http://ingress:8080/webhooks/sms"})},
		{"message_finalized_failed.json", ReceiptWebhook(Receipt{EventID: "evt-4", MessageID: "msg-3", From: ourNum,
			To: userNum, ErrorCode: "40008", ErrorTitle: "Undeliverable", Text: "Hello!", At: testTime,
			DeliveredTo: "http://ingress:8080/webhooks/sms"})},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, tc.body, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Fatalf("%s differs:\n%s", path, pretty.Bytes())
			}
		})
	}
}

// event is the part of a webhook a consumer reads, decoded as a consumer would.
type event struct {
	Data struct {
		EventType  string    `json:"event_type"`
		ID         string    `json:"id"`
		OccurredAt time.Time `json:"occurred_at"`
		RecordType string    `json:"record_type"`
		Payload    struct {
			ID        string `json:"id"`
			Direction string `json:"direction"`
			Type      string `json:"type"`
			From      struct {
				PhoneNumber string `json:"phone_number"`
			} `json:"from"`
			To []struct {
				PhoneNumber string `json:"phone_number"`
				Status      string `json:"status"`
			} `json:"to"`
			Text             string    `json:"text"`
			ReceivedAt       time.Time `json:"received_at"`
			AutoresponseType string    `json:"autoresponse_type"`
			Errors           []struct {
				Code, Title string
			} `json:"errors"`
		} `json:"payload"`
	} `json:"data"`
	Meta struct {
		Attempt     int    `json:"attempt"`
		DeliveredTo string `json:"delivered_to"`
	} `json:"meta"`
}

func decode(tb testing.TB, b []byte) event {
	tb.Helper()
	var e event
	if err := json.Unmarshal(b, &e); err != nil {
		tb.Fatalf("webhook is not JSON: %v", err)
	}
	return e
}

func TestInboundWebhookDefaults(t *testing.T) {
	before := time.Now().Add(-time.Second)
	a := decode(t, InboundWebhook(Inbound{Text: "STOP", AutoresponseType: "stop"}))
	b := decode(t, InboundWebhook(Inbound{Text: "hi"}))
	d, p := a.Data, a.Data.Payload
	switch {
	case d.EventType != "message.received" || d.RecordType != "event":
		t.Errorf("event_type/record_type = %q/%q", d.EventType, d.RecordType)
	case len(d.ID) != 36 || len(p.ID) != 36 || d.ID == b.Data.ID || p.ID == b.Data.Payload.ID:
		t.Errorf("ids not fresh UUIDs: %q %q / %q %q", d.ID, p.ID, b.Data.ID, b.Data.Payload.ID)
	case p.Direction != "inbound" || p.Type != "SMS" || p.Text != "STOP" || p.AutoresponseType != "stop":
		t.Errorf("payload = %+v", p)
	case p.From.PhoneNumber != DefaultUserNumber || len(p.To) != 1 || p.To[0].PhoneNumber != DefaultOurNumber:
		t.Errorf("from/to = %+v / %+v", p.From, p.To)
	case a.Meta.Attempt != 1 || a.Meta.DeliveredTo != DefaultDeliveredTo:
		t.Errorf("meta = %+v", a.Meta)
	case d.OccurredAt.Before(before) || !p.ReceivedAt.Equal(d.OccurredAt):
		t.Errorf("occurred_at %v received_at %v", d.OccurredAt, p.ReceivedAt)
	}
	if b.Data.Payload.AutoresponseType != "" {
		t.Errorf("autoresponse_type set without one: %q", b.Data.Payload.AutoresponseType)
	}
}

func TestReceiptWebhookDefaults(t *testing.T) {
	tests := []struct {
		name       string
		in         Receipt
		wantType   string
		wantStatus string
		wantErr    string
	}{
		{"finalized by default", Receipt{MessageID: "m"}, "message.finalized", "delivered", ""},
		{"sent", Receipt{EventType: EventMessageSent}, "message.sent", "sent", ""},
		{"failed", Receipt{ErrorCode: "40008"}, "message.finalized", "delivery_failed", "40008"},
		{"explicit status", Receipt{Status: "delivery_unconfirmed"}, "message.finalized", "delivery_unconfirmed", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := decode(t, ReceiptWebhook(tc.in))
			p := e.Data.Payload
			if e.Data.EventType != tc.wantType || p.Direction != "outbound" || len(p.To) != 1 || p.To[0].Status != tc.wantStatus {
				t.Fatalf("event %q direction %q to %+v", e.Data.EventType, p.Direction, p.To)
			}
			if p.From.PhoneNumber != DefaultOurNumber || p.To[0].PhoneNumber != DefaultUserNumber {
				t.Errorf("from/to = %+v / %+v", p.From, p.To)
			}
			gotErr := ""
			if len(p.Errors) > 0 {
				gotErr = p.Errors[0].Code
				if p.Errors[0].Title == "" {
					t.Error("error without a title")
				}
			}
			if gotErr != tc.wantErr {
				t.Errorf("errors = %+v, want code %q", p.Errors, tc.wantErr)
			}
			if tc.in.MessageID != "" && p.ID != tc.in.MessageID {
				t.Errorf("payload id = %q", p.ID)
			}
		})
	}
}
