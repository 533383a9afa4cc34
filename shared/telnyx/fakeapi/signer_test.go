package fakeapi

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// RFC 8032 section 7.1, test 1: a known seed and its public key.
const (
	rfcSeed   = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	rfcPublic = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
)

func rfcSigner(tb testing.TB) *Signer {
	tb.Helper()
	seed, _ := hex.DecodeString(rfcSeed)
	s, err := NewSigner(seed)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestNewSigner(t *testing.T) {
	s := rfcSigner(t)
	pub, _ := hex.DecodeString(rfcPublic)
	if got := s.PublicKeyBase64(); got != base64.StdEncoding.EncodeToString(pub) {
		t.Errorf("PublicKeyBase64 = %s", got)
	}
	seed, _ := hex.DecodeString(rfcSeed)
	if got := s.SeedBase64(); got != base64.StdEncoding.EncodeToString(seed) {
		t.Errorf("SeedBase64 = %s", got)
	}
	for _, n := range []int{0, 31, 33, 64} {
		if _, err := NewSigner(make([]byte, n)); !errors.Is(err, ErrInvalidSeed) {
			t.Errorf("NewSigner(%d bytes) err = %v, want ErrInvalidSeed", n, err)
		}
	}
}

func TestGenerateSignerRoundTrip(t *testing.T) {
	a, err := GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := base64.StdEncoding.DecodeString(a.SeedBase64())
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSigner(seed)
	if err != nil {
		t.Fatal(err)
	}
	if a.PublicKeyBase64() != b.PublicKeyBase64() {
		t.Fatal("a signer rebuilt from SeedBase64 has another public key")
	}
	c, _ := GenerateSigner()
	if c.PublicKeyBase64() == a.PublicKeyBase64() {
		t.Fatal("two generated signers share a key")
	}
}

// verify checks a signature the way Telnyx's SDKs do.
func verify(pub ed25519.PublicKey, body []byte, sig, ts string) bool {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(pub, []byte(ts+"|"+string(body)), raw)
}

func TestSign(t *testing.T) {
	s := rfcSigner(t)
	body := []byte(`{"data":{"event_type":"message.received"}}`)
	at := time.Unix(1700000000, 0)
	sig, ts := s.Sign(body, at)
	if ts != "1700000000" {
		t.Errorf("timestamp = %q", ts)
	}
	if !verify(s.PublicKey(), body, sig, ts) {
		t.Fatal("signature does not verify")
	}
	tests := []struct {
		name     string
		body, ts string
	}{
		{"other body", `{"data":{"event_type":"message.sent"}}`, ts},
		{"other timestamp", string(body), "1700000001"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if verify(s.PublicKey(), []byte(tc.body), sig, tc.ts) {
				t.Fatal("signature verifies for a tampered message")
			}
		})
	}
	// Ed25519 is deterministic: the same input signs the same.
	if again, _ := s.Sign(body, at); again != sig {
		t.Error("signature is not deterministic")
	}
}

func TestPost(t *testing.T) {
	s, err := GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		ok          bool
		age         time.Duration
		contentType string
	}
	got := make(chan seen, 1)
	ingress := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts := r.Header.Get(HeaderTimestamp)
		sec, _ := strconv.ParseInt(ts, 10, 64)
		got <- seen{verify(s.PublicKey(), body, r.Header.Get(HeaderSignature), ts), time.Since(time.Unix(sec, 0)),
			r.Header.Get("Content-Type")}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(ingress.Close)

	resp, err := s.Post(context.Background(), ingress.Client(), ingress.URL, InboundWebhook(Inbound{Text: "hi"}))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d", resp.StatusCode)
	}
	g := <-got
	if !g.ok || g.age < 0 || g.age > 5*time.Second || g.contentType != "application/json" {
		t.Fatalf("ingress saw %+v", g)
	}

	t.Run("NewRequest signs the given time", func(t *testing.T) {
		old := time.Now().Add(-10 * time.Minute)
		req, err := s.NewRequest(context.Background(), ingress.URL, []byte("{}"), old)
		if err != nil {
			t.Fatal(err)
		}
		if req.Header.Get(HeaderTimestamp) != strconv.FormatInt(old.Unix(), 10) {
			t.Fatalf("timestamp header %q", req.Header.Get(HeaderTimestamp))
		}
	})
	t.Run("unreachable url", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		resp, err := s.Post(context.Background(), nil, srv.URL, []byte("{}"))
		if err == nil {
			resp.Body.Close()
			t.Fatal("no error posting to a closed server")
		}
	})
}

func TestDevPublicKeyIsDevSeedsPublicKey(t *testing.T) {
	seed, err := base64.StdEncoding.DecodeString(DevSeed)
	if err != nil {
		t.Fatalf("DevSeed is not base64: %v", err)
	}
	s, err := NewSigner(seed)
	if err != nil {
		t.Fatalf("DevSeed: %v", err)
	}
	if got := s.PublicKeyBase64(); got != DevPublicKey {
		t.Errorf("DevSeed's public key = %q, DevPublicKey = %q", got, DevPublicKey)
	}
}
