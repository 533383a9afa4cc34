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

// TestBackoffBounds: full jitter stays within [0, min(MaxBackoff, MinBackoff·2^(n-1))], grows, and does not
// overflow for large attempt numbers.
func TestBackoffBounds(t *testing.T) {
	c := NewClient(ClientOptions{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	tests := []struct {
		attempt int
		ceil    time.Duration
	}{
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{4, 800 * time.Millisecond},
		{5, time.Second},
		{64, time.Second},
		{1000, time.Second},
	}
	for _, tc := range tests {
		var maxSeen time.Duration
		for range 2000 {
			d := c.backoff(tc.attempt)
			if d < 0 || d > tc.ceil {
				t.Fatalf("backoff(%d) = %s, want within [0, %s]", tc.attempt, d, tc.ceil)
			}
			maxSeen = max(maxSeen, d)
		}
		// With 2000 uniform draws the largest is above 90% of the ceiling all but ~1e-91 of the time.
		if maxSeen < tc.ceil*9/10 {
			t.Fatalf("backoff(%d): largest of 2000 draws %s, want close to %s (jitter over the full range)", tc.attempt, maxSeen, tc.ceil)
		}
	}
}

func TestNewClientNormalisesOptions(t *testing.T) {
	c := NewClient(ClientOptions{BaseURL: "http://fake/v2/", MinBackoff: time.Second, MaxBackoff: time.Millisecond, MaxAttempts: -1, Timeout: -1})
	if c.url != "http://fake/v2/messages" {
		t.Errorf("url = %q", c.url)
	}
	if c.maxBackoff != time.Second {
		t.Errorf("maxBackoff = %s, want raised to MinBackoff", c.maxBackoff)
	}
	if c.maxAttempts != DefaultMaxAttempts || c.timeout != DefaultTimeout {
		t.Errorf("maxAttempts %d timeout %s, want defaults", c.maxAttempts, c.timeout)
	}
}
