package store_test

import (
	"errors"
	"testing"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/redistest"
	"github.com/smsconv/smsconv/shared/store"
)

func TestBeginSend(t *testing.T) {
	tests := []struct {
		name string
		hold bool
		// after the first BeginSend the request's answer is lost: the second call finds the message sending.
		wantSecond store.SendStart
		wantStatus string
	}{
		{"resend with the same key", false, store.SendResend, store.StatusSending},
		{"hold for an operator", true, store.SendHeld, store.StatusUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t)
			if _, _, err := step(t, s, "m1", "hello"); err != nil {
				t.Fatal(err)
			}
			start, first, err := s.BeginSend(ctx, k, "r-m1", "gsm7", 1, tc.hold)
			if err != nil || start != store.SendFresh || first {
				t.Fatalf("first BeginSend = %v, %v, %v", start, first, err)
			}
			m, _ := s.GetMessage(ctx, "r-m1")
			if m.Status != store.StatusSending || m.Encoding != "gsm7" || m.Parts != 1 || m.SendAttempts != 1 {
				t.Fatalf("after BeginSend: %+v", m)
			}
			start, first, err = s.BeginSend(ctx, k, "r-m1", "gsm7", 1, tc.hold)
			if err != nil || start != tc.wantSecond || !first {
				t.Fatalf("second BeginSend = %v, %v, %v; want %v, first", start, first, err, tc.wantSecond)
			}
			if m, _ := s.GetMessage(ctx, "r-m1"); m.Status != tc.wantStatus {
				t.Fatalf("status %q, want %q", m.Status, tc.wantStatus)
			}
			// A third attempt counts the message once.
			if _, first, _ := s.BeginSend(ctx, k, "r-m1", "gsm7", 1, tc.hold); first {
				t.Fatal("the window counted twice for one message")
			}
			held, err := s.Unknown(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			if wantHeld := tc.hold; (len(held) == 1 && held[0].ID == "r-m1") != wantHeld {
				t.Fatalf("Unknown = %+v, want held %v", held, wantHeld)
			}
		})
	}
	t.Run("a held message stays held whatever the policy", func(t *testing.T) {
		s, _ := newStore(t)
		if _, _, err := step(t, s, "m1", "hello"); err != nil {
			t.Fatal(err)
		}
		for _, hold := range []bool{false, true, false} {
			_, _, _ = s.BeginSend(ctx, k, "r-m1", "gsm7", 1, hold)
		}
		if start, _, _ := s.BeginSend(ctx, k, "r-m1", "gsm7", 1, false); start != store.SendHeld {
			t.Fatalf("start = %v, want held", start)
		}
	})
	t.Run("no such message", func(t *testing.T) {
		s, _ := newStore(t)
		if _, _, err := s.BeginSend(ctx, k, "nope", "gsm7", 1, false); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCommitRecordsTheReplyAsSending(t *testing.T) {
	tests := []struct {
		name        string
		repliesPerM int
		wantSending bool
		wantStatus  string
	}{
		{"a reply that stays pending is recorded as sending", 0, true, store.StatusSending},
		{"a reply skipped by the rate limit is not", 1, false, store.StatusSkipped},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			s := store.New(srv.Client(), store.Options{Prefix: "t", RepliesPerMinute: tc.repliesPerM})
			mark := &store.SendMark{Encoding: "UCS-2", Parts: 2}
			commit := func(id, text string, version int64) store.CommitResult {
				t.Helper()
				in := store.Message{ID: id, Direction: store.DirectionInbound, Our: k.Our, User: k.User, Text: text, Status: store.StatusReceived, CreatedAt: t0}
				reply := &store.Message{ID: "r-" + id, Direction: store.DirectionOutbound, Our: k.Our, User: k.User, Text: "ok",
					Status: store.StatusPending, CreatedAt: t0, ReplyTo: id}
				cr, err := s.Apply(ctx, store.Commit{Key: k, ExpectVersion: version, Conversation: conversation.New(t0),
					Message: in, Reply: reply, Sending: mark})
				if err != nil {
					t.Fatal(err)
				}
				return cr
			}
			// The first reply is within any limit; the second is the one under test.
			first := commit("m1", "hello", 0)
			if !first.Sending {
				t.Fatalf("first commit: %+v, want sending", first)
			}
			cr := commit("m2", "hello again", first.Version)
			if cr.Sending != tc.wantSending {
				t.Fatalf("CommitResult.Sending = %v, want %v", cr.Sending, tc.wantSending)
			}
			m, err := s.GetMessage(ctx, "r-m2")
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != tc.wantStatus {
				t.Fatalf("reply status %q, want %q", m.Status, tc.wantStatus)
			}
			if tc.wantSending && (m.Encoding != "UCS-2" || m.Parts != 2 || m.SendAttempts != 1) {
				t.Fatalf("reply recorded as %+v, want UCS-2, 2 parts, 1 attempt", m)
			}
			if !tc.wantSending && m.SendAttempts != 0 {
				t.Fatalf("a skipped reply counts %d attempts", m.SendAttempts)
			}
			// A redelivery finds the request's outcome unknown, as after BeginSend.
			if tc.wantSending {
				if start, _, err := s.BeginSend(ctx, k, "r-m2", "UCS-2", 2, false); err != nil || start != store.SendResend {
					t.Fatalf("BeginSend after a sending commit = %v, %v; want resend", start, err)
				}
			}
		})
	}
}
