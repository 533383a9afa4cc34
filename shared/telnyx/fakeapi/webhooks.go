package fakeapi

import (
	"encoding/json"
	"time"
)

// Webhook event types the builders produce.
const (
	EventMessageReceived  = "message.received"
	EventMessageSent      = "message.sent"
	EventMessageFinalized = "message.finalized"
)

// Defaults used by the webhook builders for zero fields.
const (
	DefaultUserNumber         = "+13125550123"
	DefaultOurNumber          = "+12125550100"
	DefaultDeliveredTo        = "https://example.com/webhooks/sms"
	DefaultMessagingProfileID = "40017f3e-1e5f-4ab6-9a87-2c0f3fd0d0a1"
)

// Inbound describes a message a user texts to our number, for InboundWebhook. Zero fields get defaults: random
// ids, DefaultUserNumber to DefaultOurNumber, attempt 1, now.
type Inbound struct {
	EventID, MessageID, From, To, Text string
	Media                              []Media
	Attempt                            int
	At                                 time.Time
	// DeliveredTo is meta.delivered_to, the URL Telnyx posts to.
	DeliveredTo        string
	MessagingProfileID string
	// AutoresponseType is set by Telnyx when the text was an opt-out/opt-in keyword it answered itself.
	AutoresponseType string
}

// Media is one attachment of an inbound MMS. Empty ContentType and zero Size encode as null.
type Media struct {
	URL, ContentType string
	Size             int64
}

// Receipt describes a delivery status event for a message we sent, for ReceiptWebhook. Zero fields get
// defaults: EventType message.finalized, Status "sent" for message.sent, "delivered" for message.finalized (or
// "delivery_failed" when ErrorCode is set), From DefaultOurNumber, To DefaultUserNumber, random ids, now.
type Receipt struct {
	EventID, EventType /* message.sent|message.finalized */, MessageID, From, To, Status string
	ErrorCode, ErrorTitle                                                                string
	At                                                                                   time.Time
	// Text is the text of the message the receipt is about.
	Text               string
	Attempt            int
	DeliveredTo        string
	MessagingProfileID string
}

// envelope is Telnyx's webhook body.
type envelope struct {
	Data eventData `json:"data"`
	Meta eventMeta `json:"meta"`
}

type eventData struct {
	EventType  string `json:"event_type"`
	ID         string `json:"id"`
	OccurredAt string `json:"occurred_at"`
	Payload    any    `json:"payload"`
	RecordType string `json:"record_type"`
}

type eventMeta struct {
	Attempt     int    `json:"attempt"`
	DeliveredTo string `json:"delivered_to"`
}

// inboundPayload adds the inbound-only field to the message object.
type inboundPayload struct {
	messageRecord
	AutoresponseType string `json:"autoresponse_type,omitempty"`
}

// InboundWebhook returns the JSON body of the message.received webhook Telnyx sends when a user texts us.
func InboundWebhook(in Inbound) []byte {
	in.EventID = orDefault(in.EventID, newUUID())
	in.MessageID = orDefault(in.MessageID, newUUID())
	in.From = orDefault(in.From, DefaultUserNumber)
	in.To = orDefault(in.To, DefaultOurNumber)
	in.DeliveredTo = orDefault(in.DeliveredTo, DefaultDeliveredTo)
	in.MessagingProfileID = orDefault(in.MessagingProfileID, DefaultMessagingProfileID)
	if in.Attempt <= 0 {
		in.Attempt = 1
	}
	if in.At.IsZero() {
		in.At = time.Now()
	}
	enc, parts := encodingAndParts(in.Text)
	typ := "SMS"
	media := []mediaRecord{}
	for _, m := range in.Media {
		rec := mediaRecord{URL: m.URL, ContentType: nullable(m.ContentType)}
		if m.Size > 0 {
			size := m.Size
			rec.Size = &size
		}
		media = append(media, rec)
	}
	if len(media) > 0 {
		typ = "MMS"
	}
	payload := inboundPayload{
		messageRecord: messageRecord{
			RecordType:         "message",
			Direction:          "inbound",
			ID:                 in.MessageID,
			Type:               typ,
			MessagingProfileID: &in.MessagingProfileID,
			OrganizationID:     organizationID,
			From:               party{PhoneNumber: in.From, Carrier: userCarrier, LineType: lineType},
			To:                 []party{{PhoneNumber: in.To, Status: "webhook_delivered", Carrier: ourCarrier, LineType: lineType}},
			Cc:                 []party{},
			Text:               in.Text,
			Subject:            new(string),
			Media:              media,
			WebhookURL:         &in.DeliveredTo,
			Encoding:           enc,
			Parts:              parts,
			Tags:               []string{},
			Cost:               &cost{Amount: "0.0000", Currency: "USD"},
			ReceivedAt:         formatTime(in.At),
			Errors:             []apiError{},
		},
		AutoresponseType: in.AutoresponseType,
	}
	return marshalEvent(EventMessageReceived, in.EventID, in.At, in.Attempt, in.DeliveredTo, payload)
}

// receiptStatus is the recipient status a receipt has when none is given.
var receiptStatus = map[string]string{
	EventMessageSent:      "sent",
	EventMessageFinalized: "delivered",
}

// ReceiptWebhook returns the JSON body of a message.sent or message.finalized webhook for a message we sent.
func ReceiptWebhook(r Receipt) []byte {
	r.EventID = orDefault(r.EventID, newUUID())
	r.EventType = orDefault(r.EventType, EventMessageFinalized)
	r.MessageID = orDefault(r.MessageID, newUUID())
	r.From = orDefault(r.From, DefaultOurNumber)
	r.To = orDefault(r.To, DefaultUserNumber)
	r.DeliveredTo = orDefault(r.DeliveredTo, DefaultDeliveredTo)
	r.MessagingProfileID = orDefault(r.MessagingProfileID, DefaultMessagingProfileID)
	if r.Status == "" {
		r.Status = receiptStatus[r.EventType]
		if r.ErrorCode != "" {
			r.Status = "delivery_failed"
		}
	}
	if r.Attempt <= 0 {
		r.Attempt = 1
	}
	if r.At.IsZero() {
		r.At = time.Now()
	}
	errs := []apiError{}
	if r.ErrorCode != "" {
		title := r.ErrorTitle
		if title == "" {
			title = orDefault(titles[r.ErrorCode].title, "Delivery failed")
		}
		errs = append(errs, apiError{Code: r.ErrorCode, Title: title, Detail: titles[r.ErrorCode].detail})
	}
	enc, parts := encodingAndParts(r.Text)
	rec := messageRecord{
		RecordType:         "message",
		Direction:          "outbound",
		ID:                 r.MessageID,
		Type:               "SMS",
		MessagingProfileID: &r.MessagingProfileID,
		OrganizationID:     organizationID,
		From:               party{PhoneNumber: r.From, Carrier: ourCarrier, LineType: lineType},
		To:                 []party{{PhoneNumber: r.To, Status: r.Status, Carrier: userCarrier, LineType: lineType}},
		Cc:                 []party{},
		Text:               r.Text,
		Media:              []mediaRecord{},
		WebhookURL:         &r.DeliveredTo,
		Encoding:           enc,
		Parts:              parts,
		Tags:               []string{},
		ReceivedAt:         formatTime(r.At.Add(-time.Second)),
		SentAt:             timePtr(r.At),
		ValidUntil:         timePtr(r.At.Add(4 * time.Hour)),
		Errors:             errs,
	}
	if r.EventType == EventMessageFinalized {
		rec.CompletedAt = timePtr(r.At)
		rec.Cost = &cost{Amount: "0.0040", Currency: "USD"}
	}
	return marshalEvent(r.EventType, r.EventID, r.At, r.Attempt, r.DeliveredTo, rec)
}

func marshalEvent(eventType, id string, at time.Time, attempt int, deliveredTo string, payload any) []byte {
	b, err := json.Marshal(envelope{
		Data: eventData{EventType: eventType, ID: id, OccurredAt: formatTime(at), Payload: payload, RecordType: "event"},
		Meta: eventMeta{Attempt: attempt, DeliveredTo: deliveredTo},
	})
	if err != nil {
		// Every field is a string, number or slice of them: marshalling cannot fail.
		panic("fakeapi: marshal webhook: " + err.Error())
	}
	return b
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
