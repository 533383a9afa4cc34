// Package sms measures text the way Telnyx bills and splits it, and bounds replies so Telnyx accepts them.
//
// Encoding: a text made only of characters of the GSM 03.38 default alphabet and its extension table is sent as
// GSM-7; anything else turns the whole message into UCS-2. Size: in GSM-7 a basic character is one septet and an
// extension character (form feed and ^ { } \ [ ] ~ | €) two, because it is sent as an escape plus the
// character; in UCS-2 a character is one UTF-16 code unit, or two outside the Basic Multilingual Plane (most
// emoji). One segment holds 160 septets or 70 units; a longer message is split into parts of 153 septets or 67
// units (the rest of each part is the concatenation header). As handsets and Telnyx do, a part never ends in
// the middle of an extension escape or a surrogate pair, so a character that does not fit whole starts the next
// part: this can make a message one part longer than a plain division says, never shorter. Telnyx refuses a
// message of more than MaxParts parts.
//
// Bounding: Fit cuts a text that is too long at a character boundary and ends it with Marker ("...": three full
// stops, which are GSM-7, so bounding never turns a GSM-7 reply into UCS-2). Quote bounds a reply that quotes
// the user's text by shortening the quotation rather than the reply's own words. Both always return a text
// Telnyx accepts, so a user always gets an answer.
package sms

import "unicode/utf8"

// Encoding is how a text is sent: the values of Telnyx's encoding send parameter.
type Encoding string

// Encodings.
const (
	GSM7 Encoding = "gsm7"
	UCS2 Encoding = "ucs2"
)

// MaxParts is the largest number of segments Telnyx sends as one message.
const MaxParts = 10

// Marker ends a text that Fit or Quote shortened.
const Marker = "..."

// Segment sizes in septets (GSM-7) or UTF-16 units (UCS-2): one whole segment, and one part of a split message.
const (
	GSM7Single = 160
	GSM7Part   = 153
	UCS2Single = 70
	UCS2Part   = 67
)

// gsmBasic is the GSM 03.38 default alphabet, in code order (the escape at 0x1B is not a character).
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtension is the extension table's characters that handsets send: each costs an escape septet too.
const gsmExtension = "\f^{}\\[~]|€"

// gsmWidth maps each GSM-7 character to its septets; a character that is absent needs UCS-2.
var gsmWidth = func() map[rune]int {
	m := make(map[rune]int, 140)
	for _, r := range gsmBasic {
		m[r] = 1
	}
	for _, r := range gsmExtension {
		m[r] = 2
	}
	return m
}()

// Segments is the size of a text as Telnyx sends it.
type Segments struct {
	Encoding Encoding
	// Units is the text's length in septets (GSM7) or UTF-16 code units (UCS2).
	Units int
	// Parts is the number of segments billed; an empty text still goes as one message.
	Parts int
}

// Count measures text by the rules in the package documentation.
func Count(text string) Segments {
	enc := encodingOf(text)
	single, part := GSM7Single, GSM7Part
	if enc == UCS2 {
		single, part = UCS2Single, UCS2Part
	}
	s := Segments{Encoding: enc, Parts: 1}
	used := 0 // units in the current part of a split message
	for _, r := range text {
		w := width(enc, r)
		s.Units += w
		if used+w > part {
			s.Parts++
			used = 0
		}
		used += w
	}
	if s.Units <= single {
		s.Parts = 1
	}
	return s
}

// Fits reports whether text goes as at most maxParts segments.
func Fits(text string, maxParts int) bool { return Count(text).Parts <= maxParts }

// encodingOf is GSM7 when every character of text is in the GSM-7 tables.
func encodingOf(text string) Encoding {
	for _, r := range text {
		if gsmWidth[r] == 0 {
			return UCS2
		}
	}
	return GSM7
}

// width is r's size in enc: septets, or UTF-16 code units.
func width(enc Encoding, r rune) int {
	switch {
	case enc == GSM7:
		return gsmWidth[r]
	case r > 0xFFFF:
		return 2
	}
	return 1
}

// Fit returns text unchanged if it goes as at most maxParts segments, and otherwise its longest prefix (whole
// characters) that does with Marker appended; the bool reports a cut. maxParts below 1 counts as 1.
func Fit(text string, maxParts int) (string, bool) {
	if Fits(text, maxParts) {
		return text, false
	}
	out, _ := Quote(text, maxParts, func(q string) (string, error) { return q, nil })
	return out, true
}

// Quote bounds a reply that quotes text: render builds the reply around a quotation. When render(text) is too
// long, Quote returns render of the longest prefix of text (whole characters) plus Marker that fits in maxParts
// segments; when even an empty quotation does not fit, it cuts the reply itself as Fit does. It returns the
// first error render reports. render must be deterministic; a longer quotation must not give a shorter reply.
func Quote(text string, maxParts int, render func(quoted string) (string, error)) (string, error) {
	maxParts = max(maxParts, 1)
	out, err := render(text)
	if err != nil || Fits(out, maxParts) {
		return out, err
	}
	// Binary search over the number of characters kept: Parts grows with the prefix (more units, and the
	// encoding can only turn from GSM-7 to UCS-2), so the largest prefix that fits is found in log2(n) renders.
	offsets := runeOffsets(text)
	best, found := "", false
	lo, hi := 0, len(offsets)-2 // keep offsets[k] bytes; the whole text (k = len-1) is known not to fit
	for lo <= hi {
		mid := lo + (hi-lo)/2
		cand, err := render(text[:offsets[mid]] + Marker)
		if err != nil {
			return "", err
		}
		if Fits(cand, maxParts) {
			best, found, lo = cand, true, mid+1
		} else {
			hi = mid - 1
		}
	}
	if found {
		return best, nil
	}
	// Even an empty quotation is too long: cut the reply itself (an identity render always finds a prefix, since
	// Marker alone fits in one segment).
	out, _ = Fit(out, maxParts)
	return out, nil
}

// runeOffsets lists the byte offset of every character boundary of s, 0 and len(s) included.
func runeOffsets(s string) []int {
	offs := make([]int, 0, utf8.RuneCountInString(s)+1)
	for i := range s {
		offs = append(offs, i)
	}
	return append(offs, len(s))
}
