package phone

import (
	"errors"
	"strings"
	"testing"
	"unicode"
)

func TestParseE164(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"us", "+12125551234", "+12125551234", false},
		{"uk mobile", "+447911123456", "+447911123456", false},
		{"spaces trimmed", " +12125551234 ", "+12125551234", false},
		{"no plus", "12125551234", "", true},
		{"too short", "+1555", "", true},
		{"not a number", "+1abc", "", true},
		{"invalid area", "+10005551234", "", true},
		{"empty", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseE164(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("ParseE164(%q) err = %v, want ErrInvalid", tc.in, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseE164(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestMaskAndToken(t *testing.T) {
	if got := Mask("+15551234567"); got != "+155*****567" {
		t.Errorf("Mask = %q", got)
	}
	if got := Mask("123"); got != "***" {
		t.Errorf("Mask short = %q", got)
	}
	if got := Token("+15551234567"); got != "15551234567" {
		t.Errorf("Token = %q", got)
	}
	if got := Token("ACME.Co"); got != "x41434d452e436f" {
		t.Errorf("Token alnum = %q", got)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        string // substring of the error; "" for success
	}{
		{"E.164 unchanged", "+13125550001", "+13125550001", ""},
		{"spaces", " +1 312 555 0001 ", "+13125550001", ""},
		{"missing plus", "13125550001", "+13125550001", ""},
		{"dashes and parentheses", "+1 (312) 555-0001", "+13125550001", ""},
		{"dots and slashes", "+44.7911/123456", "+447911123456", ""},
		{"unicode dashes and no-break space", "+1\u00a0312\u2013555\u20110001", "+13125550001", ""},
		{"Arabic-Indic digits", "+٤٤٧٩١١١٢٣٤٥٦", "+447911123456", ""},
		{"Extended Arabic-Indic digits", "+۹۷۱۵۰۱۲۳۴۵۶۷", "+971501234567", ""},
		{"full-width digits and plus", "＋１３１２５５５０００１", "+13125550001", ""},
		{"Devanagari digits", "+९१९८७६५४३२१०", "+919876543210", ""},
		{"tel URI", "tel:+13125550001", "+13125550001", ""},
		{"unassigned but possible US range kept", "+15550001000", "+15550001000", ""},
		{"letters refused", "+1312CALLNOW", "", "unexpected character 'C'"},
		{"alphanumeric sender refused", "TELNYX", "", "unexpected character 'T'"},
		{"plus in the middle", "1+3125550001", "", "'+' only at the start"},
		{"empty", "", "", "no digits"},
		{"separators only", " -() ", "", "no digits"},
		{"too many digits", "+1312555000100000", "", "more than 15 digits"},
		{"over-long input refused before parsing", "+1" + strings.Repeat(" ", 100) + "3125550001", "", "at most 64"},
		{"unknown country code", "+999123456789", "", "is not a number"},
		{"too short for its country", "+1312", "", "length"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Normalize(tc.in)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Normalize(%q) = %q, %v; want ErrInvalid with %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// TestDigitRuns checks the assumption digitValue rests on: every run of Unicode decimal digits is a whole
// number of zero-to-nine sequences.
func TestDigitRuns(t *testing.T) {
	for _, rg := range unicode.Nd.R16 {
		if rg.Stride != 1 || (rg.Hi-rg.Lo+1)%10 != 0 {
			t.Errorf("digit range %U-%U stride %d", rg.Lo, rg.Hi, rg.Stride)
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if rg.Stride != 1 || (rg.Hi-rg.Lo+1)%10 != 0 {
			t.Errorf("digit range %U-%U stride %d", rg.Lo, rg.Hi, rg.Stride)
		}
	}
	for r, want := range map[rune]int{'7': 7, '٧': 7, '۷': 7, '７': 7, '७': 7, '𝟕': 7, '𝟗': 9, 'a': -1, '²': -1} {
		if got := digitValue(r); got != want {
			t.Errorf("digitValue(%q) = %d, want %d", r, got, want)
		}
	}
}

// FuzzNormalize: any input either fails with ErrInvalid or gives a short E.164 number that normalizes to itself.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"+13125550001", "٤٤٧٩١١١٢٣٤٥٦", "+1 (312) 555-0001", "tel:+1", "＋１", "+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Normalize(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if len(got) > 1+maxDigits || got[0] != '+' || Token(got) != got[1:] {
			t.Fatalf("Normalize(%q) = %q", s, got)
		}
		if again, err := Normalize(got); err != nil || again != got {
			t.Fatalf("Normalize(%q) = %q, %v: not idempotent", got, again, err)
		}
	})
}
