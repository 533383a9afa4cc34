package phone

import "testing"

func TestParseURL(t *testing.T) {
	cases := []struct {
		name, in, want string
		ok             bool
	}{
		{"with plus", "+12125551234", "+12125551234", true},
		{"escaped plus", "%2B12125551234", "+12125551234", true},
		{"plus lost", "12125551234", "+12125551234", true},
		{"spaces", " 12125551234 ", "+12125551234", true},
		{"not a number", "hello", "", false},
		{"bad escape", "%zz", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseURL(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParseURL(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}
