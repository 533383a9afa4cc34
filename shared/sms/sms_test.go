package sms_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/smsconv/smsconv/shared/sms"
)

func TestCount(t *testing.T) {
	rep := strings.Repeat
	tests := []struct {
		name string
		text string
		want sms.Segments
	}{
		{"empty goes as one message", "", sms.Segments{sms.GSM7, 0, 1}},
		{"Telnyx's whole GSM-7 set stays GSM-7", "0123456789AZaz\n\r !\"#$%&'()*+,-./:;<=>?@_£¥èéùìòØøÅåÆæßÉ¡ÄÖÑÜ¿äöñüà",
			sms.Segments{sms.GSM7, 66, 1}},
		{"escaped characters count two", "^{}\\[~]|", sms.Segments{sms.GSM7, 16, 1}},
		{"80 braces are 160 septets", rep("{", 80), sms.Segments{sms.GSM7, 160, 1}},
		{"81 braces split, 76 per part", rep("{", 81), sms.Segments{sms.GSM7, 162, 2}},
		{"an escape never straddles parts", rep("a", 152) + "{" + rep("a", 152), sms.Segments{sms.GSM7, 306, 3}},
		{"euro sign is not in Telnyx's set", "5€", sms.Segments{sms.UCS2, 2, 1}},
		{"Greek capitals of GSM 03.38 are not in Telnyx's set", "ΔΩ", sms.Segments{sms.UCS2, 2, 1}},
		{"form feed is not in Telnyx's set", "a\fb", sms.Segments{sms.UCS2, 3, 1}},
		{"a curly quote turns the message UCS-2", rep("a", 100) + "’", sms.Segments{sms.UCS2, 101, 2}},
		{"lower-case c cedilla is not GSM-7", "ça", sms.Segments{sms.UCS2, 2, 1}},
		{"backtick is not GSM-7", "`", sms.Segments{sms.UCS2, 1, 1}},
		{"emoji counts two units", "😀", sms.Segments{sms.UCS2, 2, 1}},
		{"35 emoji fill one segment", rep("😀", 35), sms.Segments{sms.UCS2, 70, 1}},
		{"36 emoji split, 33 per part", rep("😀", 36), sms.Segments{sms.UCS2, 72, 2}},
		{"one emoji turns GSM-7 text into UCS-2", rep("a", 69) + "😀", sms.Segments{sms.UCS2, 71, 2}},
		{"escaped characters are one unit in UCS-2", "ж{€", sms.Segments{sms.UCS2, 3, 1}},
		{"a surrogate pair never straddles parts", rep("ж", 66) + "😀" + rep("ж", 66), sms.Segments{sms.UCS2, 134, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sms.Count(tc.text); got != tc.want {
				t.Fatalf("Count = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestTelnyxExamples: the examples of Telnyx's message-encoding page, verbatim in length and result.
func TestTelnyxExamples(t *testing.T) {
	for _, c := range []struct{ chars, parts int }{
		{100, 1}, {160, 1}, {161, 2}, {306, 2}, {307, 3}, {1530, 10},
	} {
		t.Run(fmt.Sprintf("%d GSM-7 characters are %d segments", c.chars, c.parts), func(t *testing.T) {
			if got := sms.Count(strings.Repeat("x", c.chars)); got.Parts != c.parts || got.Encoding != sms.GSM7 {
				t.Fatalf("Count = %+v, want %d GSM-7 parts", got, c.parts)
			}
		})
	}
	for _, c := range []struct {
		name, text string
		want       sms.Segments
	}{
		{"70 UTF-16 characters are one segment", strings.Repeat("й", 70), sms.Segments{sms.UCS2, 70, 1}},
		{"71 are two", strings.Repeat("й", 71), sms.Segments{sms.UCS2, 71, 2}},
		{"an emoji counts two characters", "Ready 🚀", sms.Segments{sms.UCS2, 8, 1}},
		{"one emoji turns 69 GSM-7 characters into two UCS-2 segments", strings.Repeat("a", 69) + "🚀", sms.Segments{sms.UCS2, 71, 2}},
		{"each of ~^|\\{}[] counts two", "~^|\\{}[]", sms.Segments{sms.GSM7, 16, 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := sms.Count(c.text); got != c.want {
				t.Fatalf("Count = %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestCountEdges: the published edges of both encodings, 160/161 and 70/71 characters and the split sizes.
func TestCountEdges(t *testing.T) {
	for _, e := range []struct {
		char         string
		enc          sms.Encoding
		single, part int
	}{{"a", sms.GSM7, 160, 153}, {"ж", sms.UCS2, 70, 67}} {
		for _, c := range []struct{ n, parts int }{
			{e.single, 1}, {e.single + 1, 2}, {2 * e.part, 2}, {2*e.part + 1, 3}, {10 * e.part, 10}, {10*e.part + 1, 11},
		} {
			t.Run(fmt.Sprintf("%d %s", c.n, e.enc), func(t *testing.T) {
				want := sms.Segments{Encoding: e.enc, Units: c.n, Parts: c.parts}
				if got := sms.Count(strings.Repeat(e.char, c.n)); got != want {
					t.Fatalf("Count = %+v, want %+v", got, want)
				}
			})
		}
	}
}

func TestFit(t *testing.T) {
	rep := strings.Repeat
	tests := []struct {
		name     string
		text     string
		wantCut  bool
		wantKept int // characters of text kept
	}{
		{"short text untouched", "hello", false, 5},
		{"exactly ten parts untouched", rep("a", 1530), false, 1530},
		{"GSM-7 over ten parts", rep("a", 5000), true, 1527},
		{"extension characters cut whole", rep("{", 1000), true, 759},
		{"UCS-2 over ten parts", rep("ж", 5000), true, 667},
		{"emoji cut whole", rep("😀", 1000), true, 329},
		{"mixed GSM-7 and emoji", rep("ab😀", 1000), true, 498},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, cut := sms.Fit(tc.text, sms.MaxParts)
			if cut != tc.wantCut {
				t.Fatalf("cut = %v, want %v", cut, tc.wantCut)
			}
			if !utf8.ValidString(got) || !sms.Fits(got, sms.MaxParts) {
				t.Fatalf("Fit gave %d parts (valid UTF-8 %v)", sms.Count(got).Parts, utf8.ValidString(got))
			}
			kept := strings.TrimSuffix(got, sms.Marker)
			if cut != (kept != got) || !strings.HasPrefix(tc.text, kept) {
				t.Fatalf("Fit did not keep a prefix plus marker")
			}
			if n := utf8.RuneCountInString(kept); n != tc.wantKept {
				t.Fatalf("kept %d characters, want %d", n, tc.wantKept)
			}
			if cut && sms.Fits(tc.text[:len(kept)+len(string([]rune(tc.text[len(kept):])[0]))]+sms.Marker, sms.MaxParts) {
				t.Fatalf("one more character would still fit: the cut is not the longest prefix")
			}
		})
	}
}

func TestQuote(t *testing.T) {
	echo := func(q string) (string, error) { return "You said: '" + q + "'\n\nI did not understand that.", nil }
	rep := strings.Repeat
	t.Run("short quotation untouched", func(t *testing.T) {
		got, err := sms.Quote("hi", sms.MaxParts, echo)
		if err != nil || got != "You said: 'hi'\n\nI did not understand that." {
			t.Fatalf("Quote = %q, %v", got, err)
		}
	})
	for _, text := range []string{rep("x", 5000), rep("😀", 5000), rep("~", 5000), rep("a", 1500)} {
		t.Run("long quotation shortened, reply kept", func(t *testing.T) {
			got, err := sms.Quote(text, sms.MaxParts, echo)
			if err != nil || !sms.Fits(got, sms.MaxParts) || !strings.HasSuffix(got, sms.Marker+"'\n\nI did not understand that.") {
				t.Fatalf("Quote gave %d parts, err %v, tail %q", sms.Count(got).Parts, err, got[max(0, len(got)-40):])
			}
		})
	}
	t.Run("reply too long even without the quotation is cut", func(t *testing.T) {
		got, err := sms.Quote("q", 1, func(q string) (string, error) { return rep("b", 200) + q, nil })
		if err != nil || got != rep("b", 157)+sms.Marker {
			t.Fatalf("Quote = %q, %v", got, err)
		}
	})
	t.Run("render error returned", func(t *testing.T) {
		boom := errors.New("boom")
		if _, err := sms.Quote("q", 1, func(string) (string, error) { return "", boom }); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	})
}

// FuzzFit: whatever the text, Fit's result goes as at most MaxParts segments, is valid UTF-8 when the input is,
// and is the input or a prefix of it plus the marker.
func FuzzFit(f *testing.F) {
	for _, s := range []string{"", "hello", strings.Repeat("{", 900), strings.Repeat("😀", 400), "a€b😀c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, cut := sms.Fit(s, sms.MaxParts)
		if !sms.Fits(got, sms.MaxParts) {
			t.Fatalf("%d parts", sms.Count(got).Parts)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatal("invalid UTF-8 out of valid input")
		}
		if cut && !strings.HasPrefix(s, strings.TrimSuffix(got, sms.Marker)) || !cut && got != s {
			t.Fatal("not a prefix")
		}
	})
}
