package telnyx_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/telnyx"
)

// testKey returns a deterministic Ed25519 key pair, so failures reproduce.
func testKey(tb testing.TB, seed byte) ed25519.PrivateKey {
	tb.Helper()
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed + byte(i)
	}
	return ed25519.NewKeyFromSeed(s)
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

func TestVerify(t *testing.T) {
	keyA, keyB := testKey(t, 1), testKey(t, 100)
	now := time.Unix(1715717767, 0)
	body := []byte(`{"data":{"event_type":"message.received","payload":{"text":"SECRET-BODY-MARKER"}}}`)
	ts := func(offset int64) string { return strconv.FormatInt(now.Unix()+offset, 10) }
	good := telnyx.Sign(keyA, ts(0), body)

	tests := []struct {
		name      string
		keys      []ed25519.PublicKey
		tolerance time.Duration
		signature string
		timestamp string
		body      []byte
		want      error // nil, or the specific sentinel
	}{
		{name: "valid", signature: good, timestamp: ts(0)},
		{name: "wrong key", keys: []ed25519.PublicKey{pub(keyB)}, signature: good, timestamp: ts(0), want: telnyx.ErrSignatureMismatch},
		{name: "tampered body", signature: good, timestamp: ts(0), body: append([]byte(`{"x":1}`), body...), want: telnyx.ErrSignatureMismatch},
		{name: "timestamp header changed after signing", signature: good, timestamp: ts(-1), want: telnyx.ErrSignatureMismatch},
		{name: "stale timestamp", signature: telnyx.Sign(keyA, ts(-301), body), timestamp: ts(-301), want: telnyx.ErrTimestampOutOfTolerance},
		{name: "future timestamp", signature: telnyx.Sign(keyA, ts(301), body), timestamp: ts(301), want: telnyx.ErrTimestampOutOfTolerance},
		{name: "exact boundary past", signature: telnyx.Sign(keyA, ts(-300), body), timestamp: ts(-300)},
		{name: "exact boundary future", signature: telnyx.Sign(keyA, ts(300), body), timestamp: ts(300)},
		{name: "custom tolerance", tolerance: 10 * time.Second, signature: telnyx.Sign(keyA, ts(-11), body), timestamp: ts(-11), want: telnyx.ErrTimestampOutOfTolerance},
		{name: "absurd timestamp does not overflow", signature: telnyx.Sign(keyA, "-9223372036854775808", body), timestamp: "-9223372036854775808", want: telnyx.ErrTimestampOutOfTolerance},
		{name: "bad base64", signature: "not*base64!", timestamp: ts(0), want: telnyx.ErrMalformedSignature},
		{name: "raw base64 without padding", signature: strings.TrimRight(good, "="), timestamp: ts(0), want: telnyx.ErrMalformedSignature},
		{name: "wrong signature length", signature: base64.StdEncoding.EncodeToString(make([]byte, 63)), timestamp: ts(0), want: telnyx.ErrMalformedSignature},
		{name: "missing signature header", timestamp: ts(0), want: telnyx.ErrMissingHeader},
		{name: "missing timestamp header", signature: good, want: telnyx.ErrMissingHeader},
		{name: "non-numeric timestamp", signature: good, timestamp: "yesterday", want: telnyx.ErrMalformedTimestamp},
		{name: "fractional timestamp", signature: good, timestamp: ts(0) + ".5", want: telnyx.ErrMalformedTimestamp},
		{name: "rotated keys: second of two verifies", keys: []ed25519.PublicKey{pub(keyB), pub(keyA)}, signature: good, timestamp: ts(0)},
		{name: "no keys configured", keys: []ed25519.PublicKey{}, signature: good, timestamp: ts(0), want: telnyx.ErrSignatureMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := tc.keys
			if keys == nil {
				keys = []ed25519.PublicKey{pub(keyA)}
			}
			b := tc.body
			if b == nil {
				b = body
			}
			err := telnyx.NewVerifier(keys, tc.tolerance).Verify(tc.signature, tc.timestamp, b, now)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, telnyx.ErrInvalidSignature) {
				t.Fatalf("Verify: %v, want %v wrapping ErrInvalidSignature", err, tc.want)
			}
			if strings.Contains(err.Error(), "SECRET-BODY-MARKER") {
				t.Fatalf("error message contains the body: %v", err)
			}
		})
	}
}

func TestVerifyErrorMessages(t *testing.T) {
	key := testKey(t, 1)
	now := time.Unix(1715717767, 0)
	v := telnyx.NewVerifier([]ed25519.PublicKey{pub(key)}, 0)
	tests := []struct {
		name, signature, timestamp, want string
	}{
		{"missing signature", "", "1", "invalid signature: missing header telnyx-signature-ed25519"},
		{"missing timestamp", "c2ln", "", "invalid signature: missing header telnyx-timestamp"},
		{"short signature", base64.StdEncoding.EncodeToString(make([]byte, 10)), "1715717767", "invalid signature: malformed signature: decoded 10 bytes, want 64"},
		{"stale", base64.StdEncoding.EncodeToString(make([]byte, 64)), "1715717000", "invalid signature: timestamp out of tolerance: 12m47s old, tolerance 5m0s"},
		{"future", base64.StdEncoding.EncodeToString(make([]byte, 64)), "1715718767", "invalid signature: timestamp out of tolerance: 16m40s in the future, tolerance 5m0s"},
		{"mismatch", base64.StdEncoding.EncodeToString(make([]byte, 64)), "1715717767", "invalid signature: signature mismatch: checked 1 key(s)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Verify(tc.signature, tc.timestamp, []byte("{}"), now)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Verify: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestVerifyHeader(t *testing.T) {
	key := testKey(t, 1)
	now := time.Unix(1715717767, 0)
	body := []byte(`{"data":{}}`)
	v := telnyx.NewVerifier([]ed25519.PublicKey{pub(key)}, 0)

	h := http.Header{}
	// Set canonicalises the names, as net/http does for incoming requests.
	h.Set(telnyx.HeaderSignature, telnyx.Sign(key, "1715717767", body))
	h.Set(telnyx.HeaderTimestamp, "1715717767")
	if err := v.VerifyHeader(h, body, now); err != nil {
		t.Fatalf("VerifyHeader: %v", err)
	}
	h.Del(telnyx.HeaderTimestamp)
	if err := v.VerifyHeader(h, body, now); !errors.Is(err, telnyx.ErrMissingHeader) {
		t.Fatalf("VerifyHeader without timestamp: %v, want ErrMissingHeader", err)
	}
}

// TestNewVerifierCopiesKeys: a caller reusing its key slice must not change what is trusted.
func TestNewVerifierCopiesKeys(t *testing.T) {
	key := testKey(t, 1)
	k := append(ed25519.PublicKey(nil), pub(key)...)
	v := telnyx.NewVerifier([]ed25519.PublicKey{k}, 0)
	k[0] ^= 0xff
	body := []byte("{}")
	if err := v.Verify(telnyx.Sign(key, "100", body), "100", body, time.Unix(100, 0)); err != nil {
		t.Fatalf("Verify after the caller changed its slice: %v", err)
	}
}

func pemOf(tb testing.TB, typ string, der []byte) string {
	tb.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func spki(tb testing.TB, pub any) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatalf("marshal SPKI: %v", err)
	}
	return der
}

func TestParsePublicKeys(t *testing.T) {
	a, b := pub(testKey(t, 1)), pub(testKey(t, 100))
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rawA := base64.StdEncoding.EncodeToString(a)
	pemA, pemB := pemOf(t, "PUBLIC KEY", spki(t, a)), pemOf(t, "PUBLIC KEY", spki(t, b))
	derB := base64.StdEncoding.EncodeToString(spki(t, b))

	tests := []struct {
		name string
		in   string
		want []ed25519.PublicKey
	}{
		{"raw base64", rawA, []ed25519.PublicKey{a}},
		{"raw base64 with surrounding whitespace", "  " + rawA + "\n", []ed25519.PublicKey{a}},
		{"raw base64 unpadded", strings.TrimRight(rawA, "="), []ed25519.PublicKey{a}},
		{"raw base64 URL encoding", base64.URLEncoding.EncodeToString(b), []ed25519.PublicKey{b}},
		{"PEM", pemA, []ed25519.PublicKey{a}},
		{"PEM with literal \\n escapes", strings.ReplaceAll(pemA, "\n", `\n`), []ed25519.PublicKey{a}},
		{"base64 SPKI DER", derB, []ed25519.PublicKey{b}},
		{"several keys", rawA + ", " + derB, []ed25519.PublicKey{a, b}},
		{"several keys, PEM blocks among them", pemA + "," + rawA + " ,\n" + pemB, []ed25519.PublicKey{a, a, b}},
		{"PEM then raw", pemB + ",\n" + rawA, []ed25519.PublicKey{b, a}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := telnyx.ParsePublicKeys(tc.in)
			if err != nil {
				t.Fatalf("ParsePublicKeys: %v", err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d keys, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !got[i].Equal(tc.want[i]) {
					t.Fatalf("key %d differs", i+1)
				}
			}
		})
	}

	t.Run("parsed keys verify", func(t *testing.T) {
		keys, err := telnyx.ParsePublicKeys(pemOf(t, "PUBLIC KEY", spki(t, b)) + "," + rawA)
		if err != nil {
			t.Fatal(err)
		}
		body := []byte("{}")
		if err := telnyx.NewVerifier(keys, 0).Verify(telnyx.Sign(testKey(t, 1), "5", body), "5", body, time.Unix(5, 0)); err != nil {
			t.Fatalf("Verify with the second parsed key: %v", err)
		}
	})

	ecDER := spki(t, &ec.PublicKey)
	bad := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", "no public keys given"},
		{"blank", " \n\t ", "no public keys given"},
		{"empty entry", rawA + ",," + rawA, "key 2: empty entry"},
		{"trailing comma", rawA + ",", "key 2: empty entry"},
		{"31 bytes", rawA + ", " + base64.StdEncoding.EncodeToString(make([]byte, 31)), "key 2: decoded 31 bytes, want 32-byte Ed25519 key or SPKI DER"},
		{"not base64", "this is not a key", "key 1: neither base64 nor a PEM block"},
		{"32 bytes off the curve", rawA + "," + base64.StdEncoding.EncodeToString(append([]byte{2}, make([]byte, 31)...)),
			"key 2: 32 bytes that are not an Ed25519 public key (no point of the curve)"},
		{"hex", strings.Repeat("ab", 32), "key 1: decoded 48 bytes, want 32-byte Ed25519 key or SPKI DER"},
		{"ECDSA SPKI in base64", base64.StdEncoding.EncodeToString(ecDER), "key 1: base64 SPKI DER holds a *ecdsa.PublicKey, want an Ed25519 key"},
		{"ECDSA PEM", rawA + "," + pemOf(t, "PUBLIC KEY", ecDER), "key 2: PEM holds a *ecdsa.PublicKey, want an Ed25519 key"},
		{"wrong PEM type", pemOf(t, "RSA PUBLIC KEY", spki(t, a)), `key 1: PEM block type "RSA PUBLIC KEY", want "PUBLIC KEY"`},
		{"PEM without END", "-----BEGIN PUBLIC KEY-----\n" + derB + "\n", "key 1: PEM block has no END line"},
		{"PEM with unclosed END", "-----BEGIN PUBLIC KEY-----\n" + derB + "\n-----END PUBLIC KEY", "key 1: PEM END line is not closed"},
		{"PEM with corrupt base64", "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----", "key 1: invalid PEM block"},
		{"PEM with garbage DER", pemOf(t, "PUBLIC KEY", []byte("garbage")), "key 1: PEM block does not hold SPKI DER"},
		{"two PEM blocks without comma", pemA + pemB, "key 1: unexpected text after PEM block (entries are separated by commas)"},
	}
	for _, tc := range bad {
		t.Run("bad/"+tc.name, func(t *testing.T) {
			got, err := telnyx.ParsePublicKeys(tc.in)
			if err == nil {
				t.Fatalf("ParsePublicKeys = %d keys, want error %q", len(got), tc.want)
			}
			if err.Error() != tc.want {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
			for _, secret := range []string{rawA, derB, base64.StdEncoding.EncodeToString(ecDER)} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error echoes a key: %q", err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	key := testKey(b, 1)
	body := []byte(`{"data":{"event_type":"message.received","payload":{"text":"` + strings.Repeat("x", 1200-64) + `"}}}`)
	ts := "1715717767"
	sig := telnyx.Sign(key, ts, body)
	v := telnyx.NewVerifier([]ed25519.PublicKey{pub(key)}, 0)
	now := time.Unix(1715717767, 0)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(sig, ts, body, now); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVerifierAgreesWithStdlib holds the Verifier (curve25519-voi with an expanded key) to crypto/ed25519's
// answer on valid, tampered and crafted signatures, including the edge cases where Ed25519 implementations
// are known to differ: small-order keys and R, non-canonical S, and keys with a non-canonical encoding.
func TestVerifierAgreesWithStdlib(t *testing.T) {
	const ts = "1715717767"
	now := time.Unix(1715717767, 0)
	body := []byte(`{"data":{"event_type":"message.received"}}`)
	msg := append([]byte(ts+"|"), body...)
	hexKey := func(s string) ed25519.PublicKey {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// order is the group order L, little-endian: adding it to S makes S non-canonical.
	order := hexKey("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	keys := []ed25519.PublicKey{
		hexKey("0100000000000000000000000000000000000000000000000000000000000000"), // the identity: small order
		hexKey("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // order 2
		hexKey("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // y = p + 1: non-canonical
		hexKey("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"), // order 8
	}
	var privs []ed25519.PrivateKey
	for seed := range byte(6) {
		k := testKey(t, seed+10)
		privs = append(privs, k)
		keys = append(keys, pub(k))
	}
	sigsFor := func(i int) [][]byte {
		identityR := append(hexKey("0100000000000000000000000000000000000000000000000000000000000000"), make([]byte, 32)...)
		random := make([]byte, 64)
		_, _ = rand.Read(random)
		sigs := [][]byte{identityR, random}
		if i >= 4 {
			good := ed25519.Sign(privs[i-4], msg)
			flipped := append([]byte(nil), good...)
			flipped[10] ^= 1
			// S + L: the same point equation, but S is not reduced, which RFC 8032 and crypto/ed25519 refuse.
			highS := append([]byte(nil), good...)
			var carry uint16
			for j := range 32 {
				v := uint16(highS[32+j]) + uint16(order[j]) + carry
				highS[32+j], carry = byte(v), v>>8
			}
			sigs = append(sigs, good, flipped, highS)
		}
		return sigs
	}
	agreed := 0
	for i, k := range keys {
		v := telnyx.NewVerifier([]ed25519.PublicKey{k}, 0)
		for j, sig := range sigsFor(i) {
			want := ed25519.Verify(k, msg, sig)
			got := v.Verify(base64.StdEncoding.EncodeToString(sig), ts, body, now) == nil
			if got != want {
				t.Errorf("key %d, signature %d: Verifier says %v, crypto/ed25519 says %v", i, j, got, want)
			}
			if want {
				agreed++
			}
		}
	}
	// The valid signatures and the identity R over a small-order key verify; the tampered ones do not.
	if agreed < len(privs) {
		t.Errorf("only %d signatures verified; want at least the %d valid ones", agreed, len(privs))
	}
}
