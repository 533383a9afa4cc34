package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	json "github.com/go-json-experiment/json/v1"
	"time"
)

//go:embed receipt.lua
var receiptLua string

// receiptRank orders statuses; a receipt only ever moves a message forward. It is the only rank table:
// the receipt script gets it as an argument.
var receiptRank = map[string]int{
	StatusPending: 0, StatusWaiting: 0, StatusSending: 0, StatusUnknown: 0, StatusQueued: 1, StatusSent: 2, StatusDelivered: 3, StatusFailed: 3, StatusBlocked: 3, StatusSkipped: 3,
}

// receiptRanks is receiptRank as the JSON object the receipt script decodes.
var receiptRanks = func() string {
	b, err := json.Marshal(receiptRank)
	if err != nil {
		panic(err) // a map of strings to ints always marshals
	}
	return string(b)
}()

// Receipt is a delivery status for one of our outbound messages, already mapped to our statuses.
type Receipt struct {
	TelnyxID   string
	Status     string // queued, sent, delivered or failed
	ErrorCode  string
	ErrorTitle string
	At         time.Time
}

// ReceiptOutcome says what ApplyReceipt did.
type ReceiptOutcome int

// Receipt outcomes.
const (
	ReceiptApplied ReceiptOutcome = iota // the message moved to the new status
	ReceiptStale                         // the message was already as far along (duplicate or out of order)
	ReceiptUnknown                       // no message has this Telnyx id (yet)
)

// ApplyReceipt records a delivery status on the message Telnyx knows as r.TelnyxID, never moving it back.
func (s *Store) ApplyReceipt(ctx context.Context, r Receipt) (ReceiptOutcome, string, error) {
	rank, ok := receiptRank[r.Status]
	if !ok {
		return 0, "", fmt.Errorf("apply receipt: unknown status %q", r.Status)
	}
	id, err := s.rdb.Get(ctx, s.txKey(r.TelnyxID)).Result()
	if err != nil {
		if isNil(err) {
			return ReceiptUnknown, "", nil
		}
		return 0, "", fmt.Errorf("apply receipt: %w", err)
	}
	k, err := s.keyOf(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return ReceiptUnknown, id, nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("apply receipt: %w", err)
	}
	if r.At.IsZero() {
		r.At = time.Now()
	}
	n, err := s.receipt.Run(ctx, s.rdb, []string{s.msgKey(k, id)}, r.Status, rank, r.ErrorCode, r.ErrorTitle, r.At.UnixMilli(), receiptRanks).Int()
	if err != nil {
		return 0, "", fmt.Errorf("apply receipt: %w", err)
	}
	switch n {
	case 1:
		return ReceiptApplied, id, nil
	case 0:
		return ReceiptStale, id, nil
	}
	return ReceiptUnknown, id, nil
}
