package phone

import "github.com/nyaruka/phonenumbers"

// Charged reports whether texting e164 costs the sender more than an ordinary message, by libphonenumber's
// number type: a premium-rate number (the owner is paid per message: the classic toll fraud) or a shared-cost
// one. It names the kind for an error message. Numbers of other types, and ones libphonenumber cannot classify,
// are not charged.
func Charged(e164 string) (kind string, charged bool) {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return "", false
	}
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.PREMIUM_RATE:
		return "premium-rate", true
	case phonenumbers.SHARED_COST:
		return "shared-cost", true
	}
	return "", false
}
