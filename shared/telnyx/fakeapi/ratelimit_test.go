package fakeapi

import (
	"strings"
	"testing"
	"time"
)

const ourNum2 = "+12125550101"

func TestRateLimits(t *testing.T) {
	tests := []struct {
		name string
		lim  RateLimits
		// sends are (from, text) at the same instant; want is the status of each, code the 429's code.
		sends    []string
		want     []int
		wantCode string
		reset    string
	}{
		{"per number: a second's burst, then 10011", RateLimits{PerNumber: 2},
			[]string{ourNum, ourNum, ourNum, ourNum2}, []int{200, 200, 429, 200}, "10011", "1"},
		{"account: every number counts", RateLimits{Account: 3},
			[]string{ourNum, ourNum2, ourNum, ourNum2}, []int{200, 200, 200, 429}, "10011", "1"},
		{"queue: over the rate is accepted up to the queue, then 40318", RateLimits{PerNumber: 1, Queue: 2 * time.Second},
			[]string{ourNum, ourNum, ourNum, ourNum}, []int{200, 200, 200, 429}, "40318", "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now, _ := fixedClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
			srv := newServer(t, Options{Now: now, RateLimits: tc.lim})
			for i, from := range tc.sends {
				r := post(t, srv, sms(from, userNum, "hi"))
				if r.status != tc.want[i] {
					t.Fatalf("send %d from %s: %d %s, want %d", i, from, r.status, r.raw, tc.want[i])
				}
				if r.status == 429 {
					if r.code() != tc.wantCode || r.header.Get("X-Ratelimit-Reset") != tc.reset ||
						r.header.Get("Retry-After") != tc.reset || r.header.Get("X-Ratelimit-Remaining") != "0" {
						t.Fatalf("429: code %s headers %v", r.code(), r.header)
					}
				}
			}
			accepted := 0
			for _, w := range tc.want {
				if w == 200 {
					accepted++
				}
			}
			if got := len(srv.Messages()); got != accepted {
				t.Fatalf("%d messages recorded, want %d (a refused send sends nothing)", got, accepted)
			}
		})
	}
}

// TestRateLimitsCountSegments: a three-part message costs three, and capacity returns with time.
func TestRateLimitsCountSegments(t *testing.T) {
	now, advance := fixedClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	srv := newServer(t, Options{Now: now, RateLimits: RateLimits{PerNumber: 4}})
	long := strings.Repeat("a", 400) // 3 GSM-7 parts
	if r := post(t, srv, sms(ourNum, userNum, long)); r.status != 200 {
		t.Fatalf("first: %d %s", r.status, r.raw)
	}
	if r := post(t, srv, sms(ourNum, userNum, long)); r.status != 429 || r.header.Get("X-Ratelimit-Limit") != "4" {
		t.Fatalf("second: %d %v", r.status, r.header)
	}
	if r := post(t, srv, sms(ourNum, userNum, "hi")); r.status != 200 {
		t.Fatalf("a one-part message fits the rest of the burst: %d %s", r.status, r.raw)
	}
	advance(750 * time.Millisecond) // 3 segments drain at 4/s
	if r := post(t, srv, sms(ourNum, userNum, long)); r.status != 200 {
		t.Fatalf("after the drain: %d %s", r.status, r.raw)
	}
	if m := srv.Messages(); m[0].Parts != 3 || m[1].Parts != 1 {
		t.Fatalf("parts recorded %d, %d", m[0].Parts, m[1].Parts)
	}
	if lim, refused := srv.RateLimits(); lim.PerNumber != 4 || refused != 1 {
		t.Fatalf("RateLimits = %+v, %d refused", lim, refused)
	}
	srv.Reset()
	if _, refused := srv.RateLimits(); refused != 0 {
		t.Fatal("Reset kept the refusals")
	}
}
