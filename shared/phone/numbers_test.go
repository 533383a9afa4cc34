package phone

import (
	"errors"
	"slices"
	"testing"
)

func TestParseNumbers(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Numbers
		wantErr bool
	}{
		{name: "empty", in: "", want: nil},
		{name: "one", in: "+12125550100", want: Numbers{"+12125550100"}},
		{name: "several with spaces and a duplicate", in: " +12125550100, +442071838750 ,+12125550100,",
			want: Numbers{"+12125550100", "+442071838750"}},
		{name: "no plus refused", in: "12125550100", wantErr: true},
		{name: "invalid number refused", in: "+12125550100,+1555", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNumbers(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("ParseNumbers(%q) err = %v, want ErrInvalid", tt.in, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("ParseNumbers(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNumbersHasDefault(t *testing.T) {
	ns := Numbers{"+12125550100", "+442071838750"}
	if !ns.Has("+442071838750") || ns.Has("+12125550199") {
		t.Fatalf("Has: wrong membership for %v", ns)
	}
	if ns.Default() != "+12125550100" || (Numbers{}).Default() != "" {
		t.Fatalf("Default = %q", ns.Default())
	}
}
