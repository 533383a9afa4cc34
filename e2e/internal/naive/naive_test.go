package naive

import (
	"bytes"
	"crypto/ed25519"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/flow"
	"github.com/smsconv/smsconv/shared/telnyx"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
)

// TestYardsticks holds both reference servers to the same behaviour over real HTTP and a fake Telnyx: a
// signed hello is answered with the dialog's greeting, sent once per webhook; a bad signature, a stale one and
// a body that is no webhook are refused; a receipt is taken with nothing sent.
func TestYardsticks(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	variants := map[string]func(apiURL string) http.Handler{
		"stdlib": func(apiURL string) http.Handler { return Stdlib(pub, flow.Default(), apiURL, "key", log) },
		"tuned": func(apiURL string) http.Handler {
			return Tuned(pub, flow.Default(), telnyx.NewClient(telnyx.ClientOptions{BaseURL: apiURL, APIKey: "key"}), log)
		},
	}
	const greeting = "Hello! Welcome to Telnyx SMS. Type 'help' for available commands or 'info' to learn more about our services."
	hello := fakeapi.InboundWebhook(fakeapi.Inbound{From: "+13125550123", To: "+12125550100", Text: "hello"})
	receipt := fakeapi.ReceiptWebhook(fakeapi.Receipt{})
	now := time.Now()
	tests := []struct {
		name   string
		body   []byte
		signer ed25519.PrivateKey
		at     time.Time
		status int
		sent   []string
	}{
		{name: "signed hello", body: hello, signer: priv, at: now, status: http.StatusOK, sent: []string{greeting}},
		{name: "another key's signature", body: hello, signer: otherKey(t), at: now, status: http.StatusUnauthorized},
		{name: "stale signature", body: hello, signer: priv, at: now.Add(-6 * time.Minute), status: http.StatusUnauthorized},
		{name: "not a webhook", body: []byte(`[1,2]`), signer: priv, at: now, status: http.StatusBadRequest},
		{name: "receipt", body: receipt, signer: priv, at: now, status: http.StatusOK},
	}
	for variant, newServer := range variants {
		for _, tt := range tests {
			t.Run(variant+"/"+tt.name, func(t *testing.T) {
				fake := fakeapi.NewFake(fakeapi.Options{APIKey: "key"})
				api := httptest.NewServer(fake)
				defer api.Close()
				srv := httptest.NewServer(newServer(api.URL + "/v2"))
				defer srv.Close()

				if status, _ := postSigned(t, srv.URL, tt.body, tt.signer, tt.at); status != tt.status {
					t.Errorf("status %d, want %d", status, tt.status)
				}
				var sent []string
				for _, m := range fake.Messages() {
					if m.From != "+12125550100" || m.To != "+13125550123" {
						t.Errorf("sent from %s to %s, want from our number to the user", m.From, m.To)
					}
					sent = append(sent, m.Text)
				}
				if len(sent) != len(tt.sent) || (len(sent) > 0 && sent[0] != tt.sent[0]) {
					t.Errorf("sent %q, want %q", sent, tt.sent)
				}
			})
		}
	}
}

func otherKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestVerifierAnswersOnlySignedWebhooks holds the ingress's floor to the part of the ingress it stands for:
// over real HTTP, a signed webhook of any kind is answered 200 with the ingress's body, and a bad signature,
// a stale one or a body over MaxBody is refused.
func TestVerifierAnswersOnlySignedWebhooks(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Verifier(pub))
	defer srv.Close()
	hello := fakeapi.InboundWebhook(fakeapi.Inbound{From: "+13125550123", To: "+12125550100", Text: "hello"})
	now := time.Now()
	tests := []struct {
		name   string
		body   []byte
		signer ed25519.PrivateKey
		at     time.Time
		status int
		answer string
	}{
		{name: "signed hello", body: hello, signer: priv, at: now, status: http.StatusOK, answer: queued},
		{name: "signed receipt", body: fakeapi.ReceiptWebhook(fakeapi.Receipt{}), signer: priv, at: now, status: http.StatusOK, answer: queued},
		{name: "signed non-webhook (it does not parse)", body: []byte(`[1,2]`), signer: priv, at: now, status: http.StatusOK, answer: queued},
		{name: "another key's signature", body: hello, signer: otherKey(t), at: now, status: http.StatusUnauthorized},
		{name: "stale signature", body: hello, signer: priv, at: now.Add(-6 * time.Minute), status: http.StatusUnauthorized},
		{name: "body over MaxBody", body: bytes.Repeat([]byte("x"), MaxBody+1), signer: priv, at: now, status: http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := postSigned(t, srv.URL, tt.body, tt.signer, tt.at)
			if status != tt.status {
				t.Errorf("status %d, want %d", status, tt.status)
			}
			if tt.answer != "" && string(body) != tt.answer {
				t.Errorf("answer %q, want %q", body, tt.answer)
			}
		})
	}
}

// postSigned posts body to the server at url's /webhooks/sms, signed by signer as of at, and returns the
// answer's status and body.
func postSigned(t *testing.T, url string, body []byte, signer ed25519.PrivateKey, at time.Time) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/webhooks/sms", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	req.Header.Set(telnyx.HeaderTimestamp, ts)
	req.Header.Set(telnyx.HeaderSignature, telnyx.Sign(signer, ts, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, answer
}
