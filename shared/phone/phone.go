// Package phone normalizes, validates and masks phone numbers.
package phone

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalid is returned for text that is not a phone number this product can use.
var ErrInvalid = errors.New("invalid phone number")

// MaxInput is the longest text Normalize and ParseE164 read; longer input is refused before any parsing, so
// hostile input costs nothing.
const MaxInput = 64

// maxDigits is E.164's limit on the digits of a number, country code included.
const maxDigits = 15

// Normalize turns a number as people and carriers write it into E.164: spaces, dashes, dots, slashes and
// parentheses are dropped, digits of any script (Arabic-Indic, full-width, Devanagari...) read as ASCII, a
// full-width plus as '+', and a "tel:" prefix is ignored. Without a '+' the digits are read as an international
// number (country code first), which is how Telnyx writes every number. The result must be a possible number
// by libphonenumber's metadata (a known country code and a length it allows); numbering plans change faster
// than any copy of them, so an unassigned range is not refused here. Use ParseE164 to require a valid one.
func Normalize(s string) (string, error) {
	digits, _, err := clean(s)
	if err != nil {
		return "", err
	}
	if e164, ok := possible.get(digits); ok {
		return e164, nil
	}
	if isNANP(digits) {
		return "+" + digits, nil
	}
	n, err := phonenumbers.Parse("+"+digits, "")
	if err != nil {
		return "", fmt.Errorf("%w: %s is not a number: %s", ErrInvalid, Mask(digits), err.Error())
	}
	if !phonenumbers.IsPossibleNumber(n) {
		return "", fmt.Errorf("%w: %s has no country code or a length its country does not use", ErrInvalid, Mask(digits))
	}
	e164 := phonenumbers.Format(n, phonenumbers.E164)
	possible.put(digits, e164)
	return e164, nil
}

// isNANP reports whether digits are a number of the North American Numbering Plan in its only possible form:
// country code 1, then an area code and an exchange that each start with 2-9, then four digits. For these
// libphonenumber answers possible and formats "+" and the digits (TestNANPFastPath holds it to that); they
// are most of Telnyx's traffic, and its parse costs more than verifying the webhook's signature.
func isNANP(digits string) bool {
	if len(digits) != 11 || digits[0] != '1' || digits[1] < '2' || digits[4] < '2' {
		return false
	}
	return true // clean left only ASCII digits
}

// possible remembers numbers Normalize accepted: libphonenumber's parse costs about as much as verifying a
// webhook's signature, and the same few numbers (ours, and each user's) arrive again and again.
var possible = &memo{m: make(map[string]string)}

// memoSize bounds the memo; when full it starts again, which costs only re-parsing.
const memoSize = 8192

// memo is a bounded, concurrency-safe map from cleaned digits to E.164.
type memo struct {
	mu sync.RWMutex
	m  map[string]string
}

func (c *memo) get(k string) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *memo) put(k, v string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= memoSize {
		clear(c.m)
	}
	c.m[k] = v
}

// ParseE164 checks that s is a valid, dialable number written with + and the country code, and returns it
// normalised as Normalize does. It uses libphonenumber's metadata, so "+1555" or "+10000000000" are rejected.
func ParseE164(s string) (string, error) {
	digits, plus, err := clean(s)
	if err != nil {
		return "", err
	}
	if !plus {
		return "", fmt.Errorf("%w: %q must start with + and the country code", ErrInvalid, Mask(digits))
	}
	n, err := phonenumbers.Parse("+"+digits, "")
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrInvalid, err.Error())
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", fmt.Errorf("%w: +%s is not a valid number", ErrInvalid, Mask(digits))
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// clean reduces s to its ASCII digits and whether it started with a plus; see Normalize for what it accepts.
// Errors name a character or a masked number, never the whole input.
func clean(s string) (digits string, plus bool, err error) {
	if len(s) > MaxInput {
		return "", false, fmt.Errorf("%w: %d bytes, at most %d", ErrInvalid, len(s), MaxInput)
	}
	s = strings.TrimSpace(s)
	if len(s) >= 4 && strings.EqualFold(s[:4], "tel:") {
		s = s[4:]
	}
	b := make([]byte, 0, maxDigits)
	for _, r := range s {
		switch d := digitValue(r); {
		case d >= 0:
			if len(b) == maxDigits {
				return "", false, fmt.Errorf("%w: more than %d digits", ErrInvalid, maxDigits)
			}
			b = append(b, byte('0'+d))
		case r == '+' || r == '\uFF0B':
			if plus || len(b) > 0 {
				return "", false, fmt.Errorf("%w: '+' only at the start", ErrInvalid)
			}
			plus = true
		case unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) || strings.ContainsRune("().-/\uFF08\uFF09", r):
		default:
			return "", false, fmt.Errorf("%w: unexpected character %q", ErrInvalid, r)
		}
	}
	if len(b) == 0 {
		return "", false, fmt.Errorf("%w: no digits", ErrInvalid)
	}
	return string(b), plus, nil
}

// digitValue is the value of a decimal digit of any script, or -1. Unicode lays every script's digits out as
// runs of ten from zero to nine, so the value is the offset in its run.
func digitValue(r rune) int {
	switch {
	case r >= '0' && r <= '9':
		return int(r - '0')
	case r < 0x80 || !unicode.Is(unicode.Nd, r):
		return -1
	}
	for _, rg := range unicode.Nd.R16 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return int((r-rune(rg.Lo))/rune(rg.Stride)) % 10
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return int((r-rune(rg.Lo))/rune(rg.Stride)) % 10
		}
	}
	return -1
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
