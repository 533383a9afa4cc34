package outbound

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckText(t *testing.T) {
	tests := []struct {
		name, text, errHas string
	}{
		{name: "plain", text: "Your order shipped"},
		{name: "tabs and line breaks", text: "line one\n\tline two\r\n"},
		{name: "empty", text: "", errHas: "no visible character"},
		{name: "spaces and zero-width only", text: " \u200b\t ", errHas: "no visible character"},
		{name: "NUL", text: "hi\x00", errHas: "U+0000"},
		{name: "over 1600 characters", text: strings.Repeat("a", 1601), errHas: "1601 characters"},
		{name: "over 10 UCS-2 segments", text: strings.Repeat("é€ж", 230), errHas: "segments (ucs2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckText(tt.text)
			if tt.errHas == "" {
				if err != nil {
					t.Fatalf("CheckText = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrText) || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("CheckText = %v, want ErrText saying %q", err, tt.errHas)
			}
		})
	}
}
