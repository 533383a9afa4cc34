package store

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Statuses of an outbound message on its way to Telnyx.
const (
	// StatusWaiting: the message waits for sending capacity (the number's or the account's rate) or for a
	// throttled send to be tried again.
	StatusWaiting = "waiting"
	// StatusSending: a request is in flight, or was and its answer never came back; a worker that finds a
	// message in this state knows the previous attempt's outcome is unknown.
	StatusSending = "sending"
	// StatusUnknown: held with an unknown outcome (REPLY_UNKNOWN_OUTCOME=hold): nothing more is sent; an
	// operator checks Telnyx and decides.
	StatusUnknown = "unknown"
)

// SendStart is what BeginSend found.
type SendStart int

// BeginSend outcomes.
const (
	// SendFresh: recorded as sending; no earlier attempt is in doubt.
	SendFresh SendStart = iota
	// SendResend: recorded as sending, but the previous attempt's outcome is unknown: the request goes again
	// with the same Idempotency-Key.
	SendResend
	// SendHeld: the previous attempt's outcome is unknown and the policy is to hold: the message is now
	// StatusUnknown and listed in Unknown; send nothing.
	SendHeld
)

//go:embed sending.lua
var sendingLua string

var sendingScript = redis.NewScript(sendingLua)

func (s *Store) unknownKey() string { return s.o.Prefix + ":unknown" }

// BeginSend records that a request for outbound message id of conversation k is about to leave, with the
// message's encoding and parts. When the previous attempt's outcome is unknown (the message is still
// StatusSending), it says so: with hold, the message becomes StatusUnknown instead and is listed by Unknown.
// first is true the first time the message is found in that window, so callers can count messages, not
// attempts.
func (s *Store) BeginSend(ctx context.Context, k Key, id, encoding string, parts int, hold bool) (start SendStart, first bool, err error) {
	policy := "resend"
	if hold {
		policy = "hold"
	}
	// The script touches the message's own hash only (one hash slot on Redis Cluster); the listing of held
	// messages is written after it.
	res, err := sendingScript.Run(ctx, s.rdb, []string{s.msgKey(k, id)},
		encoding, parts, time.Now().UnixMilli(), policy).Int64Slice()
	if err != nil {
		return 0, false, fmt.Errorf("begin send: %w", err)
	}
	if res[0] < 0 {
		return 0, false, fmt.Errorf("begin send: %w", ErrNotFound)
	}
	start = SendStart(res[0])
	if start == SendHeld {
		if err := s.rdb.ZAdd(ctx, s.unknownKey(), redis.Z{Score: float64(time.Now().UnixMilli()), Member: id}).Err(); err != nil {
			return start, res[1] == 1, fmt.Errorf("begin send: list held: %w", err)
		}
	}
	return start, res[1] == 1, nil
}

// Unknown lists the messages held with an unknown outcome, oldest first, at most limit.
func (s *Store) Unknown(ctx context.Context, limit int) ([]Message, error) {
	ids, err := s.rdb.ZRange(ctx, s.unknownKey(), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("list unknown: %w", err)
	}
	out := make([]Message, 0, len(ids))
	for _, id := range ids {
		m, err := s.GetMessage(ctx, id)
		if err != nil {
			continue // expired since: the index keeps no more than the messages do
		}
		out = append(out, m)
	}
	return out, nil
}

// sendFields are the hash fields BeginSend writes, decoded into a Message.
func decodeSendFields(h map[string]string, m *Message) {
	m.Encoding = h["encoding"]
	m.Parts, _ = strconv.Atoi(h["parts"])
	m.SendAttempts, _ = strconv.Atoi(h["send_attempts"])
	m.UnknownAt = millis(h["unknown_at"])
}
