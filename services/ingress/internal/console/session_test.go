package console

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSessionCookie(t *testing.T) {
	now := time.Date(2026, 6, 18, 12, 0, 0, 0, time.UTC)
	k := newKeys("admin-token")
	s, value := k.newSession(now)
	other := newKeys("another-token")
	tamper := func(i int) string {
		b := []byte(value)
		b[i] ^= 1
		return string(b)
	}
	dot := strings.Index(value, ".")
	cases := []struct {
		name  string
		keys  keys
		value string
		at    time.Time
		ok    bool
	}{
		{"fresh", k, value, now, true},
		{"just before expiry", k, value, s.Expires.Add(-time.Second), true},
		{"expired", k, value, s.Expires, false},
		{"another admin token", other, value, now, false},
		{"id changed", k, tamper(0), now, false},
		{"expiry changed", k, strings.Replace(value, ".", ".9", 1), now, false},
		{"mac changed", k, tamper(len(value) - 1), now, false},
		{"no mac", k, value[:dot], now, false},
		{"empty", k, "", now, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.keys.parse(tc.value, tc.at)
			if (err == nil) != tc.ok {
				t.Fatalf("parse: %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && got.ID != s.ID {
				t.Fatalf("session %+v, want %+v", got, s)
			}
		})
	}
	if strings.Contains(value, "admin-token") {
		t.Fatal("the cookie holds the admin token")
	}
}

func TestCSRFTokenIsBoundToTheSession(t *testing.T) {
	k := newKeys("admin-token")
	a, _ := k.newSession(time.Now())
	b, _ := k.newSession(time.Now())
	cases := []struct {
		name string
		s    session
		tok  string
		ok   bool
	}{
		{"own token", a, k.csrfToken(a), true},
		{"another session's", a, k.csrfToken(b), false},
		{"the session MAC key's", a, mac(k.session, a.ID), false},
		{"another admin token's", a, newKeys("x").csrfToken(a), false},
		{"empty", a, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := k.csrfOK(tc.s, tc.tok); got != tc.ok {
				t.Fatalf("csrfOK = %v, want %v", got, tc.ok)
			}
		})
	}
}

func TestSameOrigin(t *testing.T) {
	cases := []struct {
		name   string
		header map[string]string
		ok     bool
	}{
		{"no headers (not a browser)", nil, true},
		{"same origin", map[string]string{"Origin": "http://console.test", "Sec-Fetch-Site": "same-origin"}, true},
		{"typed URL", map[string]string{"Sec-Fetch-Site": "none"}, true},
		{"another site", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, false},
		{"same site, other origin", map[string]string{"Sec-Fetch-Site": "same-site"}, false},
		{"origin only, other host", map[string]string{"Origin": "http://evil.example"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, "http://console.test/console/logout", nil)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			if got := sameOrigin(r); got != tc.ok {
				t.Fatalf("sameOrigin = %v, want %v", got, tc.ok)
			}
		})
	}
}
