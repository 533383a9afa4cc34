package ids_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/smsconv/smsconv/shared/ids"
)

func TestKeys(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name, got, want string
	}{
		{"inbound uuid unchanged after prefix", ids.Inbound("40385f64-5717-4562-b3fc-2c963f66afa6"), "in_40385f64-5717-4562-b3fc-2c963f66afa6"},
		{"reply numbered", ids.Reply("m1", 1), "rpl_m1:1"},
		{"send", ids.Send("order-42"), "snd_order-42"},
		{"underscore doubled", ids.Inbound("X_1"), "in_X__1"},
		{"dot escaped", ids.Inbound("X.1"), "in_X_2E1"},
		{"colon escaped", ids.Reply("a:1", 2), "rpl_a_3A1:2"},
		{"non-ASCII escaped bytewise", ids.Send("é"), "snd__C3_A9"},
		{"long id hashed", ids.Inbound(long), "in_" + strings.Repeat("x", 255-3-66) + ":h" + sha(long)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %q\nwant %q", tc.got, tc.want)
			}
			if !ids.Valid(tc.got) {
				t.Fatalf("%q is not Telnyx-safe", tc.got)
			}
		})
	}
}

// TestInjective maps tricky inputs of every kind and requires every key to be distinct and Telnyx-safe.
func TestInjective(t *testing.T) {
	inputs := []string{"", "X", "X.1", "X_1", "X_2E1", "X__1", "X:1", "X-1", "rpl_m1", "rpl_m1:1", "m1", "m1:1",
		"in_m1", "snd_m1", "m1_3A1", "_", "__", "_2E", ".", "é", "\x00", "a b", "A", "a",
		strings.Repeat("y", 186), strings.Repeat("y", 187), strings.Repeat("y", 252), strings.Repeat("y", 253),
		strings.Repeat("y", 400), strings.Repeat("y", 401), strings.Repeat("_", 200), strings.Repeat(".", 200)}
	seen := map[string]string{}
	add := func(k, what string) {
		t.Helper()
		if !ids.Valid(k) {
			t.Fatalf("%s -> %q: not Telnyx-safe (%d bytes)", what, k, len(k))
		}
		if prev, dup := seen[k]; dup {
			t.Fatalf("%s and %s both map to %q", prev, what, k)
		}
		seen[k] = what
	}
	for _, in := range inputs {
		add(ids.Inbound(in), "inbound "+quote(in))
		add(ids.Send(in), "send "+quote(in))
		for _, n := range []int{0, 1, 2, 11, -1} {
			add(ids.Reply(in, n), "reply "+quote(in)+"#"+itoa(n))
		}
	}
}

// FuzzInjective: two different ids of any kinds never give one key, and every key is Telnyx-safe.
func FuzzInjective(f *testing.F) {
	f.Add("X.1", "X_1", uint8(0), uint8(0))
	f.Add("rpl_m1", "m1", uint8(0), uint8(1))
	f.Add(strings.Repeat("a", 300), strings.Repeat("a", 301), uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, a, b string, ka, kb uint8) {
		ga, gb := keyOf(a, ka), keyOf(b, kb)
		if !ids.Valid(ga) || !ids.Valid(gb) {
			t.Fatalf("unsafe key %q or %q", ga, gb)
		}
		if ga == gb && (a != b || ka%4 != kb%4) {
			t.Fatalf("%q/%d and %q/%d both map to %q", a, ka%4, b, kb%4, ga)
		}
	})
}

func keyOf(s string, kind uint8) string {
	switch kind % 4 {
	case 0:
		return ids.Inbound(s)
	case 1:
		return ids.Send(s)
	case 2:
		return ids.Reply(s, 1)
	}
	return ids.Reply(s, 2)
}

func TestValid(t *testing.T) {
	tests := []struct {
		k    string
		want bool
	}{
		{"abc-DEF_123:x", true}, {"", false}, {"a.b", false}, {"a b", false}, {"é", false},
		{strings.Repeat("a", 255), true}, {strings.Repeat("a", 256), false},
	}
	for _, tc := range tests {
		t.Run(quote(tc.k), func(t *testing.T) {
			if got := ids.Valid(tc.k); got != tc.want {
				t.Fatalf("Valid(%q) = %v", tc.k, got)
			}
		})
	}
}

func sha(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }

func quote(s string) string {
	if len(s) > 20 {
		return strconv.Quote(s[:20]) + "...(" + strconv.Itoa(len(s)) + ")"
	}
	return strconv.Quote(s)
}

func itoa(n int) string { return strconv.Itoa(n) }
