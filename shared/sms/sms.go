// Package sms measures text the way Telnyx bills and splits it, and bounds replies so Telnyx accepts them.
//
// Encoding: Telnyx sends GSM-7 only for the characters it publishes as its GSM-7 set (ASCII but the grave
// accent and the controls other than line feed and carriage return, plus £¥èéùìòØøÅåÆæßÉ¡ÄÖÑÜ¿äöñüà); any other
// character, including the rest of GSM 03.38 (the Greek capitals, Ç, ¤, §, € and form feed), turns the whole
// message into UCS-2. Telnyx calls this set "non-standard, optimized for carrier compatibility"; counting by
// it never under-counts, which is what matters for a 10-segment bound. Size: in GSM-7 a character is one
// septet and ^ { } \ [ ] ~ | two, because each is sent as an escape plus the character; in UCS-2 a character is one UTF-16 code unit, or two outside the Basic Multilingual Plane (most
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

// gsmBasic is Telnyx's published GSM-7 set without the escaped characters
// (developers.telnyx.com/docs/messaging/messages/message-encoding).
const gsmBasic = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\r !\"#$%&'()*+,-./:;<=>?@_" +
	"£¥èéùìòØøÅåÆæßÉ¡ÄÖÑÜ¿äöñüà"

// gsmExtension is the characters of that set that Telnyx sends with an escape septet, so each counts two.
const gsmExtension = "^{}\\[~]|"

// asciiWidth and gsmWidth give each GSM-7 character its septets (ASCII by table, the rest by map); 0 means
// the character needs UCS-2.
var asciiWidth, gsmWidth = func() ([128]uint8, map[rune]uint8) {
	var a [128]uint8
	m := make(map[rune]uint8, 40)
	add := func(r rune, w uint8) {
		if r < 128 {
			a[r] = w
		} else {
			m[r] = w
		}
	}
	for _, r := range gsmBasic {
		add(r, 1)
	}
	for _, r := range gsmExtension {
		add(r, 2)
	}
	return a, m
}()

// Segments is the size of a text as Telnyx sends it.
type Segments struct {
	Encoding Encoding
	// Units is the text's length in septets (GSM7) or UTF-16 code units (UCS2).
	Units int
	// Parts is the number of segments billed; an empty text still goes as one message.
	Parts int
}

// packer counts the parts of a split message, never letting a character straddle two.
type packer struct{ units, parts, used int }

func (p *packer) add(w, part int) {
	p.units += w
	if p.used+w > part {
		p.parts++
		p.used = 0
	}
	p.used += w
}

func (p *packer) segments(enc Encoding, single int) Segments {
	if p.units <= single {
		return Segments{Encoding: enc, Units: p.units, Parts: 1}
	}
	return Segments{Encoding: enc, Units: p.units, Parts: p.parts + 1}
}

// Count measures text by the rules in the package documentation, in one pass over it.
func Count(text string) Segments {
	var g, u packer
	gsm := true
	for _, r := range text {
		if gsm {
			if w := gsmWidthOf(r); w > 0 {
				g.add(w, GSM7Part)
			} else {
				gsm = false
			}
		}
		if r > 0xFFFF {
			u.add(2, UCS2Part)
		} else {
			u.add(1, UCS2Part)
		}
	}
	if gsm {
		return g.segments(GSM7, GSM7Single)
	}
	return u.segments(UCS2, UCS2Single)
}

// Fits reports whether text goes as at most maxParts segments.
func Fits(text string, maxParts int) bool {
	// Fast path for the usual short reply: a character takes at least one byte per UTF-16 unit and half a byte
	// per septet, so 60 bytes a part fit even when every part loses a unit to a character that did not straddle.
	if len(text) <= 60*maxParts {
		return maxParts >= 1
	}
	return Count(text).Parts <= maxParts
}

// gsmWidthOf is r's size in septets, or 0 when r needs UCS-2.
func gsmWidthOf(r rune) int {
	if r < 128 {
		return int(asciiWidth[r])
	}
	return int(gsmWidth[r])
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
