package store_test

import (
	"errors"
	"testing"

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
