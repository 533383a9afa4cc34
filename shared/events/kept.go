package events

// Subjects of signed events the ingress keeps but that no worker acts on. Both are in StreamEvents (events.>)
// and no consumer filters on them: they are there for an operator to read (nats stream view SMS_EVENTS), with
// HeaderReason saying why, and Telnyx is answered 2xx so it stops delivering them again.
const (
	// SubjectInvalid holds events that cannot be used as sent: unparseable, a field over its bound or not a
	// number (an unparseable sender included), or too large to queue. The body is Telnyx's, cut to fit the
	// queue's message limit when it must be (HeaderTruncated then gives its full size).
	SubjectInvalid = "events.invalid"
	// SubjectIgnored holds usable inbound messages that are never answered, encoded as a Message: one not
	// addressed to any of our numbers (TELNYX_PHONE_NUMBER), or sent from one of them (a loop between our own
	// numbers). They never reach StreamConversations, so no worker replies to them.
	SubjectIgnored = "events.ignored"
)

// Headers of a kept event.
const (
	// HeaderReason says why an event was kept rather than queued for the workers.
	HeaderReason = "Sms-Kept-Reason"
	// HeaderTruncated is the size in bytes of a kept body that was cut to fit the queue's message limit.
	HeaderTruncated = "Sms-Kept-Truncated"
)
