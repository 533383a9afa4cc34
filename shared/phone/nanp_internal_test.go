package phone

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// TestNANPFastPath holds isNANP to libphonenumber: every number it accepts, libphonenumber finds possible and
// formats the same way; and the edges it refuses go to libphonenumber, whatever that says of them.
func TestNANPFastPath(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []string{"12125551234", "12005550000", "19999999999", "18005550100", "12022000000"}
	for range 20_000 {
		cases = append(cases, "1"+strconv.Itoa(2+r.IntN(8))+strconv.Itoa(r.IntN(10))+strconv.Itoa(r.IntN(10))+
			strconv.Itoa(2+r.IntN(8))+strconv.Itoa(1_000_000 + r.IntN(1_000_000))[1:])
	}
	for _, d := range cases {
		if !isNANP(d) {
			t.Fatalf("isNANP(%s) = false", d)
		}
		n, err := phonenumbers.Parse("+"+d, "")
		if err != nil || !phonenumbers.IsPossibleNumber(n) {
			t.Fatalf("libphonenumber: +%s not possible (%v)", d, err)
		}
		if got := phonenumbers.Format(n, phonenumbers.E164); got != "+"+d {
			t.Fatalf("libphonenumber formats +%s as %s", d, got)
		}
	}
	for _, d := range []string{"11125551234", "12121551234", "1212555123", "121255512345", "22125551234", "10125551234"} {
		if isNANP(d) {
			t.Errorf("isNANP(%s) = true, want libphonenumber to decide", d)
		}
	}
}
