package telnyx

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// Webhook signature headers, as Telnyx sends them.
const (
	// HeaderSignature carries the base64 (standard encoding) of the 64-byte Ed25519 signature.
	HeaderSignature = "telnyx-signature-ed25519"
	// HeaderTimestamp carries the signing time in Unix seconds.
	HeaderTimestamp = "telnyx-timestamp"
)

// DefaultTolerance is how far a webhook timestamp may be from now, in either direction, as all official
// Telnyx SDKs enforce. It bounds how long a captured request can be replayed.
const DefaultTolerance = 300 * time.Second

// ErrInvalidSignature is wrapped by every verification failure, so an ingress needs one errors.Is to answer 401.
var ErrInvalidSignature = errors.New("invalid signature")

// Specific verification failures; each wraps ErrInvalidSignature.
var (
	// ErrMissingHeader: the signature or timestamp header is absent or empty.
	ErrMissingHeader = fmt.Errorf("%w: missing header", ErrInvalidSignature)
	// ErrMalformedSignature: the signature header is not base64 of 64 bytes.
	ErrMalformedSignature = fmt.Errorf("%w: malformed signature", ErrInvalidSignature)
	// ErrMalformedTimestamp: the timestamp header is not an integer number of Unix seconds.
	ErrMalformedTimestamp = fmt.Errorf("%w: malformed timestamp", ErrInvalidSignature)
	// ErrTimestampOutOfTolerance: the timestamp is too old or too far in the future.
	ErrTimestampOutOfTolerance = fmt.Errorf("%w: timestamp out of tolerance", ErrInvalidSignature)
	// ErrSignatureMismatch: the signature is well formed but no configured key verifies it.
	ErrSignatureMismatch = fmt.Errorf("%w: signature mismatch", ErrInvalidSignature)
)

// Verifier checks Telnyx webhook signatures against one or more public keys. It is safe for concurrent use.
//
// Each key is expanded once, when the Verifier is made, and signatures are checked with curve25519-voi with
// crypto/ed25519's exact acceptance rules (voi.VerifyOptionsStdLib): the same signatures verify, in about 60%
// of the time (BenchmarkVerify), since every accepted webhook pays for one check and the key never changes.
type Verifier struct {
	keys      []*voi.ExpandedPublicKey
	tolerance time.Duration
}

// stdlibRules makes voi accept exactly what crypto/ed25519.Verify accepts (TestVerifierAgreesWithStdlib).
var stdlibRules = &voi.Options{Verify: voi.VerifyOptionsStdLib}

// NewVerifier returns a Verifier that accepts a webhook if any of keys verifies it, so keys can be rotated
// without downtime by configuring the old and the new key together. A tolerance of 0 means DefaultTolerance.
// With no keys every webhook is rejected with ErrSignatureMismatch.
func NewVerifier(keys []ed25519.PublicKey, tolerance time.Duration) *Verifier {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	ks := make([]*voi.ExpandedPublicKey, 0, len(keys))
	for _, k := range keys {
		// The expansion copies the key, so a caller reusing its slices cannot change what we verify against.
		// A key that is no curve point (or not 32 bytes) verifies nothing, as with crypto/ed25519; ParsePublicKeys
		// refuses one.
		if x, err := voi.NewExpandedPublicKey(voi.PublicKey(k)); err == nil {
			ks = append(ks, x)
		}
	}
	return &Verifier{keys: ks, tolerance: tolerance}
}

// Verify checks the signature and timestamp header values of a webhook whose raw request body is body, at time
// now. It returns nil or an error wrapping ErrInvalidSignature (and one of the specific Err... values). Error
// messages never contain the body.
func (v *Verifier) Verify(signature, timestamp string, body []byte, now time.Time) error {
	switch {
	case signature == "":
		return fmt.Errorf("%w %s", ErrMissingHeader, HeaderSignature)
	case timestamp == "":
		return fmt.Errorf("%w %s", ErrMissingHeader, HeaderTimestamp)
	}

	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return fmt.Errorf("%w: not valid base64", ErrMalformedSignature)
	}
	if len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: decoded %d bytes, want %d", ErrMalformedSignature, len(sig), ed25519.SignatureSize)
	}

	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: not an integer of Unix seconds", ErrMalformedTimestamp)
	}
	// time.Sub saturates instead of overflowing, so absurd timestamps are simply out of tolerance.
	skew := now.Sub(time.Unix(ts, 0))
	switch {
	case skew > v.tolerance:
		return fmt.Errorf("%w: %s old, tolerance %s", ErrTimestampOutOfTolerance, skew.Truncate(time.Second), v.tolerance)
	case skew < -v.tolerance:
		return fmt.Errorf("%w: %s in the future, tolerance %s", ErrTimestampOutOfTolerance, (-skew).Truncate(time.Second), v.tolerance)
	}

	if len(v.keys) == 0 {
		return fmt.Errorf("%w: no public keys configured", ErrSignatureMismatch)
	}
	msg := signedMessage(timestamp, body)
	for _, k := range v.keys {
		if voi.VerifyExpandedWithOptions(k, msg, sig, stdlibRules) {
			return nil
		}
	}
	return fmt.Errorf("%w: checked %d key(s)", ErrSignatureMismatch, len(v.keys))
}

// VerifyHeader is Verify with the values read from h (header names are case-insensitive).
func (v *Verifier) VerifyHeader(h http.Header, body []byte, now time.Time) error {
	return v.Verify(h.Get(HeaderSignature), h.Get(HeaderTimestamp), body, now)
}

// Sign returns the HeaderSignature value Telnyx would send for body signed at timestamp (Unix seconds as
// text). It exists for fake Telnyx servers, simulators and tests; production code only verifies.
func Sign(key ed25519.PrivateKey, timestamp string, body []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(key, signedMessage(timestamp, body)))
}

// signedMessage is what Telnyx signs: the timestamp header value, a '|', and the raw body.
func signedMessage(timestamp string, body []byte) []byte {
	msg := make([]byte, 0, len(timestamp)+1+len(body))
	msg = append(msg, timestamp...)
	msg = append(msg, '|')
	return append(msg, body...)
}

// ParsePublicKeys parses a comma-separated list of Ed25519 public keys, as configured in TELNYX_PUBLIC_KEY.
// Each entry may be the base64 of the raw 32-byte key (what the Telnyx portal shows; standard, raw or URL
// encoding), a PEM "PUBLIC KEY" block (SPKI DER), or the base64 of SPKI DER. A PEM block is one entry even
// though it contains newlines, and literal "\n" sequences (common when PEM passes through env files) are read
// as newlines. Errors name the 1-based entry and the reason, never the key itself.
func ParsePublicKeys(s string) ([]ed25519.PublicKey, error) {
	entries, err := splitKeys(s)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, errors.New("no public keys given")
	}
	keys := make([]ed25519.PublicKey, 0, len(entries))
	for i, e := range entries {
		k, err := parsePublicKey(e)
		if err == nil {
			if _, perr := voi.NewExpandedPublicKey(voi.PublicKey(k)); perr != nil {
				err = errors.New("32 bytes that are not an Ed25519 public key (no point of the curve)")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

const (
	pemBegin = "-----BEGIN"
	pemEnd   = "-----END"
	pemDash  = "-----"
)

// splitKeys splits s at commas, keeping each PEM block (from BEGIN to the end of its END line) whole.
func splitKeys(s string) ([]string, error) {
	s = strings.ReplaceAll(s, `\n`, "\n")
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var entries []string
	for {
		s = strings.TrimSpace(s)
		var entry string
		if strings.HasPrefix(s, pemBegin) {
			end := strings.Index(s, pemEnd)
			if end < 0 {
				return nil, fmt.Errorf("key %d: PEM block has no END line", len(entries)+1)
			}
			// The END line closes with "-----" after its label.
			closing := strings.Index(s[end+len(pemEnd):], pemDash)
			if closing < 0 {
				return nil, fmt.Errorf("key %d: PEM END line is not closed", len(entries)+1)
			}
			stop := end + len(pemEnd) + closing + len(pemDash)
			entry, s = s[:stop], strings.TrimSpace(s[stop:])
			if s != "" && s[0] != ',' {
				return nil, fmt.Errorf("key %d: unexpected text after PEM block (entries are separated by commas)", len(entries)+1)
			}
		} else {
			comma := strings.IndexByte(s, ',')
			if comma < 0 {
				comma = len(s)
			}
			entry, s = strings.TrimSpace(s[:comma]), s[comma:]
		}
		if entry == "" {
			return nil, fmt.Errorf("key %d: empty entry", len(entries)+1)
		}
		entries = append(entries, entry)
		if s == "" {
			return entries, nil
		}
		s = s[1:] // the comma
	}
}

// parsePublicKey parses one entry of ParsePublicKeys.
func parsePublicKey(entry string) (ed25519.PublicKey, error) {
	if strings.HasPrefix(entry, pemBegin) {
		block, rest := pem.Decode([]byte(entry))
		switch {
		case block == nil:
			return nil, errors.New("invalid PEM block")
		case len(bytes.TrimSpace(rest)) > 0:
			return nil, errors.New("unexpected text after PEM block")
		case block.Type != "PUBLIC KEY":
			return nil, fmt.Errorf("PEM block type %q, want \"PUBLIC KEY\"", block.Type)
		}
		return parseSPKI(block.Bytes, "PEM")
	}

	der, ok := decodeBase64(entry)
	if !ok {
		return nil, errors.New("neither base64 nor a PEM block")
	}
	if len(der) == ed25519.PublicKeySize {
		return ed25519.PublicKey(der), nil
	}
	k, err := parseSPKI(der, "base64 SPKI DER")
	if err != nil {
		if errors.Is(err, errNotSPKI) {
			return nil, fmt.Errorf("decoded %d bytes, want %d-byte Ed25519 key or SPKI DER", len(der), ed25519.PublicKeySize)
		}
		return nil, err
	}
	return k, nil
}

var errNotSPKI = errors.New("not SPKI DER")

// parseSPKI reads an Ed25519 key from SPKI DER; what says where the DER came from, for error messages.
func parseSPKI(der []byte, what string) (ed25519.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		if what == "PEM" {
			// x509's ASN.1 detail helps no one configuring a key.
			return nil, errors.New("PEM block does not hold SPKI DER")
		}
		return nil, errNotSPKI
	}
	k, ok := pub.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s holds a %T, want an Ed25519 key", what, pub)
	}
	return k, nil
}

// decodeBase64 accepts standard, raw standard, URL and raw URL encodings, ignoring inner whitespace (a wrapped
// base64 DER), because keys are copied by hand from a portal into env files.
func decodeBase64(s string) ([]byte, bool) {
	s = strings.Join(strings.Fields(s), "")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}
