package telnyx

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 5, 14, 20, 0, 0, 0, time.UTC)
	tests := []struct {
		name, header string
		want         time.Duration
	}{
		{"absent", "", 0},
		{"seconds", "7", 7 * time.Second},
		{"seconds with spaces", " 3 ", 3 * time.Second},
		{"zero", "0", 0},
		{"negative", "-5", 0},
		{"huge seconds saturate", "99999999999999999", time.Duration(int64(1<<63-1)/int64(time.Second)) * time.Second},
		{"HTTP date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"HTTP date in the past", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"garbage", "soon", 0},
		{"fractional seconds are not valid", "1.5", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseRetryAfter(tc.header, now); got != tc.want {
				t.Fatalf("parseRetryAfter(%q) = %s, want %s", tc.header, got, tc.want)
			}
		})
	}
}

func TestNewClientNormalisesOptions(t *testing.T) {
	c := NewClient(ClientOptions{BaseURL: "http://fake/v2/", Timeout: -1})
	if c.url != "http://fake/v2/messages" {
		t.Errorf("url = %q", c.url)
	}
	if c.timeout != DefaultTimeout {
		t.Errorf("timeout %s, want the default", c.timeout)
	}
}
