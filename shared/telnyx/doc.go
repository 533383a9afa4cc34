// Package telnyx is the project's edge to Telnyx: it verifies Ed25519-signed webhooks, reads their envelopes
// leniently (Telnyx's own examples disagree on field types), and sends messages through the one Messaging API
// endpoint the product needs, classifying failures as retryable or permanent where they happen.
//
// There is no usable Go SDK on the module proxy, and one endpoint does not justify one: this package depends
// only on the standard library and shared/conversation.
package telnyx
