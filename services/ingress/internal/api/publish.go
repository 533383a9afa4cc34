package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/obs"
)

// errUnqueueable is wrapped by a publish that NATS would refuse whatever the moment: a subject it cannot take,
// or a message over the connection's MaxPayload. Publishing it anyway would not merely fail: an over-long
// control line makes the server drop the client. Retrying cannot help, so it is never "queue unavailable".
var errUnqueueable = errors.New("cannot be queued")

// maxSubject bounds a subject: ours are at most about 80 bytes (events.<64-byte type>, conv.<E.164>.<E.164>),
// far below the server's 4 KiB control-line limit, which the whole PUB line must fit.
const maxSubject = 256

// maxReason bounds the reason header of a kept event.
const maxReason = 512

// publish stores data in JetStream with msgID for deduplication and waits for the acknowledgement. A message
// NATS would refuse is not sent: the error wraps errUnqueueable.
func (s *Server) publish(ctx context.Context, subject, msgID string, data []byte, hdr nats.Header) (duplicate bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.d.PublishTimeout)
	defer cancel()
	msg := s.message(ctx, subject, msgID, data, hdr)
	if err := s.check(msg); err != nil {
		return false, err
	}
	return s.publishMsg(ctx, msg)
}

// publishCut is publish for a kept body: one over the limit is cut to fit, with events.HeaderTruncated giving
// its full size, rather than lost.
func (s *Server) publishCut(ctx context.Context, subject, msgID string, data []byte, hdr nats.Header) (duplicate bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.d.PublishTimeout)
	defer cancel()
	msg := s.message(ctx, subject, msgID, data, hdr)
	if limit := s.maxPayload(); limit > 0 && msgSize(msg) > limit {
		msg.Header.Set(events.HeaderTruncated, strconv.Itoa(len(data)))
		if over := msgSize(msg) - limit; over < len(msg.Data) {
			msg.Data = msg.Data[:len(msg.Data)-over]
		}
	}
	if err := s.check(msg); err != nil {
		return false, err
	}
	return s.publishMsg(ctx, msg)
}

// message builds the NATS message: the dedup id and the trace context (which the worker continues) are headers.
func (s *Server) message(ctx context.Context, subject, msgID string, data []byte, hdr nats.Header) *nats.Msg {
	msg := nats.NewMsg(subject)
	msg.Data = data
	for k, v := range hdr {
		msg.Header[k] = v
	}
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	obs.InjectNATS(ctx, msg)
	return msg
}

// check refuses a message NATS would refuse.
func (s *Server) check(msg *nats.Msg) error {
	if !validSubject(msg.Subject) {
		return fmt.Errorf("%w: subject of %d bytes is not one NATS accepts", errUnqueueable, len(msg.Subject))
	}
	if limit, n := s.maxPayload(), msgSize(msg); limit > 0 && n > limit {
		return fmt.Errorf("%w: event of %d bytes is over the queue's limit of %d", errUnqueueable, n, limit)
	}
	return nil
}

func (s *Server) publishMsg(ctx context.Context, msg *nats.Msg) (bool, error) {
	start := time.Now()
	ack, err := s.d.JS.PublishMsg(ctx, msg)
	s.d.Metrics.ObservePublish(time.Since(start), err)
	if err != nil {
		return false, err
	}
	return ack.Duplicate, nil
}

// maxPayload is the server's limit on a message (headers and data), 0 when unknown (never connected).
func (s *Server) maxPayload() int {
	if s.d.NC == nil {
		return 0
	}
	return int(s.d.NC.MaxPayload())
}

// msgSize is the size NATS counts against MaxPayload: the encoded headers ("NATS/1.0\r\n", a "Key: value\r\n"
// line per value, a blank line) plus the data.
func msgSize(msg *nats.Msg) int {
	n := len(msg.Data)
	if len(msg.Header) == 0 {
		return n
	}
	n += len("NATS/1.0\r\n") + len("\r\n")
	for k, vs := range msg.Header {
		for _, v := range vs {
			n += len(k) + len(": ") + len(v) + len("\r\n")
		}
	}
	return n
}

// validSubject reports whether NATS takes s as a publish subject: bounded, dot-separated non-empty tokens of
// printable ASCII, no wildcards.
func validSubject(s string) bool {
	if s == "" || len(s) > maxSubject || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7F || c == '*' || c == '>' || c == '.' && s[i-1] == '.' {
			return false
		}
	}
	return true
}

// headerValue makes text a safe, bounded header value: no control characters (a CR or LF would end the
// header), at most maxReason bytes.
func headerValue(text string) string {
	b := []byte(text)
	if len(b) > maxReason {
		b = b[:maxReason]
	}
	for i, c := range b {
		if c < ' ' || c == 0x7F {
			b[i] = ' '
		}
	}
	return string(b)
}
