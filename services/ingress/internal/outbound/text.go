package outbound

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/smsconv/smsconv/shared/sms"
)

// MaxTextChars is Telnyx's limit on a message's text.
const MaxTextChars = 1600

// ErrText: the text is one Telnyx would refuse or that says nothing; the wrapping error says why.
var ErrText = errors.New("message")

// CheckText refuses a text Telnyx would refuse or that says nothing: empty, only spaces and invisible
// characters, a control character other than tab and line breaks, over MaxTextChars characters or over
// sms.MaxParts segments. It is the rule of every outbound path (POST /sms/send and the console).
func CheckText(text string) error {
	visible := false
	for _, r := range text {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
		case unicode.IsControl(r):
			return fmt.Errorf("%w: has the control character %U", ErrText, r)
		case !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r):
			visible = true
		}
	}
	if !visible {
		return fmt.Errorf("%w: required (it has no visible character)", ErrText)
	}
	if n := utf8.RuneCountInString(text); n > MaxTextChars {
		return fmt.Errorf("%w: too long (%d characters, at most %d)", ErrText, n, MaxTextChars)
	}
	if seg := sms.Count(text); seg.Parts > sms.MaxParts {
		return fmt.Errorf("%w: too long: %d segments (%s), at most %d", ErrText, seg.Parts, seg.Encoding, sms.MaxParts)
	}
	return nil
}
