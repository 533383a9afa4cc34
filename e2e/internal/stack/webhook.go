package stack

import (
	"encoding/base64"
	"encoding/json"
	"time"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// Inbound builds a Telnyx message.received webhook body.
func Inbound(eventID, msgID, from, to, text string, at time.Time) []byte {
	body := map[string]any{
		"data": map[string]any{
			"event_type":  "message.received",
			"id":          eventID,
			"occurred_at": at.UTC().Format(time.RFC3339Nano),
			"record_type": "event",
			"payload": map[string]any{
				"id": msgID, "direction": "inbound", "type": "SMS", "record_type": "message",
				"from":        map[string]any{"phone_number": from, "carrier": "T-Mobile USA", "line_type": "Wireless"},
				"to":          []any{map[string]any{"phone_number": to, "status": "webhook_delivered"}},
				"text":        text,
				"media":       []any{},
				"received_at": at.UTC().Format(time.RFC3339Nano),
				"encoding":    "GSM-7", "parts": 1,
			},
		},
		"meta": map[string]any{"attempt": 1, "delivered_to": "http://ingress/webhooks/sms"},
	}
	b, _ := json.Marshal(body)
	return b
}
