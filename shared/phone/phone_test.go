package phone

import (
	"errors"
	"testing"
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
