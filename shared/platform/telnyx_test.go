package platform

import (
	"slices"
	"strings"
	"testing"

	"github.com/smsconv/smsconv/shared/phone"
)

func TestTelnyxValidate(t *testing.T) {
	tests := []struct {
		name    string
		numbers string
		apiURL  string
		want    phone.Numbers
		sandbox bool
		errHas  string
	}{
		{name: "defaults", apiURL: "https://api.telnyx.com/v2"},
		{name: "list", numbers: "+12125550100, +442071838750", apiURL: "http://sandbox:8090/v2",
			want: phone.Numbers{"+12125550100", "+442071838750"}, sandbox: true},
		{name: "loopback is a sandbox", apiURL: "http://127.0.0.1:8090/v2", sandbox: true},
		{name: "localhost is a sandbox", apiURL: "http://localhost:8090/v2", sandbox: true},
		{name: "another host is not", apiURL: "http://telnyx-proxy.internal/v2"},
		{name: "bad number", numbers: "+12125550100,2125550100", apiURL: "https://api.telnyx.com/v2", errHas: "TELNYX_PHONE_NUMBER"},
		{name: "bad url", apiURL: "ftp://x", errHas: "TELNYX_API_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx := Telnyx{TelnyxPhoneNumber: tt.numbers, TelnyxAPIURL: tt.apiURL}
			err := tx.Validate()
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("Validate() = %v, want an error naming %s", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			if !slices.Equal(tx.OurNumbers, tt.want) {
				t.Errorf("OurNumbers = %v, want %v", tx.OurNumbers, tt.want)
			}
			if got := tx.Sandbox(); got != tt.sandbox {
				t.Errorf("Sandbox() = %v, want %v", got, tt.sandbox)
			}
		})
	}
}
