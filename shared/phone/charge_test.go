package phone

import "testing"

func TestCharged(t *testing.T) {
	tests := []struct {
		number, want string
	}{
		{"+19002345678", "premium-rate"},  // US 900
		{"+449012345678", "premium-rate"}, // UK 09
		{"+33884012345", "shared-cost"},   // France 0884
		{"+447911123456", ""},             // UK mobile
		{"+12125550100", ""},              // US fixed line or mobile
		{"not a number", ""},
	}
	for _, tt := range tests {
		t.Run(tt.number, func(t *testing.T) {
			kind, charged := Charged(tt.number)
			if kind != tt.want || charged != (tt.want != "") {
				t.Fatalf("Charged(%s) = %q, %v; want %q", tt.number, kind, charged, tt.want)
			}
		})
	}
}
