package fakeapi

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	// Named so the package's tests keep their sms(from, to, text) body helper.
	segments "github.com/smsconv/smsconv/shared/sms"
)

// messageRecord is Telnyx's message object, as returned by POST /v2/messages and carried in webhook payloads.
// Nullable fields are pointers so they encode as null, as Telnyx sends them.
type messageRecord struct {
	RecordType         string        `json:"record_type"`
	Direction          string        `json:"direction"`
	ID                 string        `json:"id"`
	Type               string        `json:"type"`
	MessagingProfileID *string       `json:"messaging_profile_id"`
	OrganizationID     string        `json:"organization_id"`
	From               party         `json:"from"`
	To                 []party       `json:"to"`
	Cc                 []party       `json:"cc"`
	Text               string        `json:"text"`
	Subject            *string       `json:"subject"`
	Media              []mediaRecord `json:"media"`
	WebhookURL         *string       `json:"webhook_url"`
	WebhookFailoverURL *string       `json:"webhook_failover_url"`
	Encoding           string        `json:"encoding"`
	Parts              int           `json:"parts"`
	Tags               []string      `json:"tags"`
	Cost               *cost         `json:"cost"`
	ReceivedAt         string        `json:"received_at"`
	SentAt             *string       `json:"sent_at"`
	CompletedAt        *string       `json:"completed_at"`
	ValidUntil         *string       `json:"valid_until"`
	Errors             []apiError    `json:"errors"`
}

// party is a from or to entry; Status is only set on recipients.
type party struct {
	PhoneNumber string `json:"phone_number"`
	Status      string `json:"status,omitempty"`
	Carrier     string `json:"carrier"`
	LineType    string `json:"line_type"`
}

type mediaRecord struct {
	URL         string  `json:"url"`
	ContentType *string `json:"content_type"`
	SHA256      *string `json:"hash_sha256"`
	Size        *int64  `json:"size"`
}

type cost struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// organizationID is the fixed organisation the fake's messages belong to.
const organizationID = "9d76d591-1b7a-4b4b-8b1a-5ec0a3ca2d63"

// Carriers reported for numbers: Telnyx's own for our side, a mobile carrier for the user's phone.
const (
	ourCarrier  = "Telnyx"
	userCarrier = "T-MOBILE USA, INC."
	lineType    = "Wireless"
)

// timeFormat is how Telnyx writes timestamps in messages and events.
const timeFormat = "2006-01-02T15:04:05.000-07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func timePtr(t time.Time) *string {
	s := formatTime(t)
	return &s
}

// nullable turns "" into JSON null.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// newUUID returns a random (version 4) UUID, the form of Telnyx's message and event ids.
func newUUID() string {
	var b [16]byte
	// crypto/rand.Read never returns an error since Go 1.24: it aborts the program if the OS has no entropy.
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// Encodings Telnyx reports.
const (
	encodingGSM7 = "GSM-7"
	encodingUCS2 = "UCS-2"
)

// encodingAndParts is the encoding and number of segments Telnyx reports for text: shared/sms's count, which
// follows Telnyx's published GSM-7 set and splitting rules.
func encodingAndParts(text string) (string, int) {
	c := segments.Count(text)
	if c.Encoding == segments.GSM7 {
		return encodingGSM7, c.Parts
	}
	return encodingUCS2, c.Parts
}
