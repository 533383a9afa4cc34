package phone

import (
	"net/url"
	"strings"
)

// ParseURL reads a number from a URL path or query, where a "+" is easily lost: "+12125551234",
// "%2B12125551234" and "12125551234" are the same number. The result is checked as ParseE164 checks it.
func ParseURL(v string) (string, error) {
	if u, err := url.PathUnescape(v); err == nil {
		v = u
	}
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, "+") {
		v = "+" + v
	}
	return ParseE164(v)
}
