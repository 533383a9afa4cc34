package fakeapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Webhook signature headers, as Telnyx sends them.
const (
	HeaderSignature = "telnyx-signature-ed25519"
	HeaderTimestamp = "telnyx-timestamp"
)

// ErrInvalidSeed is returned for an Ed25519 seed that is not 32 bytes.
var ErrInvalidSeed = errors.New("fakeapi: ed25519 seed must be 32 bytes")

// Signer signs webhooks the way Telnyx does: Ed25519 over timestamp+"|"+body, sent in the headers
// telnyx-signature-ed25519 (base64 standard encoding of the 64-byte signature) and telnyx-timestamp (Unix
// seconds).
type Signer struct {
	key ed25519.PrivateKey
}

// NewSigner returns a signer for the private key derived from a 32-byte seed.
func NewSigner(seed []byte) (*Signer, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w, got %d", ErrInvalidSeed, len(seed))
	}
	return &Signer{key: ed25519.NewKeyFromSeed(seed)}, nil
}

// GenerateSigner returns a signer with a fresh random key.
func GenerateSigner() (*Signer, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	return &Signer{key: key}, nil
}

// PublicKey returns the signer's public key.
func (s *Signer) PublicKey() ed25519.PublicKey {
	return s.key.Public().(ed25519.PublicKey)
}

// PublicKeyBase64 returns the base64 (standard encoding) of the raw 32-byte public key, the form Telnyx's portal
// shows and TELNYX_PUBLIC_KEY takes.
func (s *Signer) PublicKeyBase64() string {
	return base64.StdEncoding.EncodeToString(s.PublicKey())
}

// SeedBase64 returns the base64 (standard encoding) of the 32-byte seed, from which NewSigner rebuilds the key.
func (s *Signer) SeedBase64() string {
	return base64.StdEncoding.EncodeToString(s.key.Seed())
}

// Sign returns the telnyx-signature-ed25519 and telnyx-timestamp header values for body sent at ts.
func (s *Signer) Sign(body []byte, ts time.Time) (signature, timestamp string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	msg := make([]byte, 0, len(timestamp)+1+len(body))
	msg = append(msg, timestamp...)
	msg = append(msg, '|')
	msg = append(msg, body...)
	return base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, msg)), timestamp
}

// NewRequest builds a webhook POST of body to url signed as sent at ts; tests use it to send stale or future
// timestamps.
func (s *Signer) NewRequest(ctx context.Context, url string, body []byte, ts time.Time) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("new webhook request: %w", err)
	}
	sig, stamp := s.Sign(body, ts)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "telnyx-webhooks")
	req.Header.Set(HeaderSignature, sig)
	req.Header.Set(HeaderTimestamp, stamp)
	return req, nil
}

// Post signs body with the current time and POSTs it to url. The caller closes the response body.
func (s *Signer) Post(ctx context.Context, client *http.Client, url string, body []byte) (*http.Response, error) {
	req, err := s.NewRequest(ctx, url, body, time.Now())
	if err != nil {
		return nil, err
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("post webhook: %w", err)
	}
	return resp, nil
}
