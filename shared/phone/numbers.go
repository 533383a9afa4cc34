package phone

import (
	"fmt"
	"slices"
	"strings"
)

// Numbers are our own Telnyx numbers, in E.164, in the order configured: the first is the default sender.
// Every service that must tell our numbers from users' reads them from TELNYX_PHONE_NUMBER.
type Numbers []string

// MaxNumbers bounds how many numbers one deployment lists in TELNYX_PHONE_NUMBER.
const MaxNumbers = 1000

// ParseNumbers reads a comma-separated list of E.164 numbers (ParseE164: valid numbers, with +). An empty
// list is allowed; duplicates are dropped, the first occurrence keeping its place.
func ParseNumbers(list string) (Numbers, error) {
	var out Numbers
	for i, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := ParseE164(f)
		if err != nil {
			return nil, fmt.Errorf("number %d: %w", i+1, err)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
		if len(out) > MaxNumbers {
			return nil, fmt.Errorf("more than %d numbers", MaxNumbers)
		}
	}
	return out, nil
}

// Has reports whether n (E.164) is one of ours.
func (ns Numbers) Has(n string) bool { return slices.Contains(ns, n) }

// Default is the first number, the sender of a send that names none; "" when none is configured.
func (ns Numbers) Default() string {
	if len(ns) == 0 {
		return ""
	}
	return ns[0]
}

// String is the list as configured (comma-separated), for logs and messages.
func (ns Numbers) String() string { return strings.Join(ns, ",") }
