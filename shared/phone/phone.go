// Package phone validates and masks phone numbers.
package phone

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalid is returned for a number that is not a valid E.164 phone number.
var ErrInvalid = errors.New("invalid phone number")

// ParseE164 checks that s is a valid, dialable number written in E.164 form (+ and country code) and returns
// it normalised. It uses libphonenumber's metadata, so "+1555" or "+10000000000" are rejected.
func ParseE164(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "+") {
		return "", fmt.Errorf("%w: %q must start with + and the country code", ErrInvalid, Mask(s))
	}
	n, err := phonenumbers.Parse(s, "")
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrInvalid, err.Error())
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", fmt.Errorf("%w: %s is not a valid number", ErrInvalid, Mask(s))
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// Mask hides the middle of a number for logs: "+15551234567" -> "+155*****567".
func Mask(s string) string {
	r := []rune(s)
	if len(r) <= 6 {
		return strings.Repeat("*", len(r))
	}
	keep := 3
	out := make([]rune, len(r))
	for i := range r {
		if i < keep+1 || i >= len(r)-keep {
			out[i] = r[i]
		} else {
			out[i] = '*'
		}
	}
	return string(out)
}

// Token turns a number (or an alphanumeric sender id) into a NATS subject token: the digits of an E.164
// number without the "+", or "x" followed by the hex of anything else.
func Token(s string) string {
	digits := strings.TrimPrefix(s, "+")
	ok := digits != "" && len(digits) <= 32
	for i := 0; ok && i < len(digits); i++ {
		ok = digits[i] >= '0' && digits[i] <= '9'
	}
	if ok && strings.HasPrefix(s, "+") {
		return digits
	}
	return fmt.Sprintf("x%x", s)
}
