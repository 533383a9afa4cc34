package ingresstest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
)

// The stand-in must reject what a real ingress rejects, or the sandbox tests could pass with broken signatures.
func TestVerification(t *testing.T) {
	good, _ := fakeapi.GenerateSigner()
	other, _ := fakeapi.GenerateSigner()
	in := New(t, good.PublicKey())
	body := fakeapi.InboundWebhook(fakeapi.Inbound{Text: "hi"})

	tests := []struct {
		name   string
		signer *fakeapi.Signer
		at     time.Time
		tamper bool
		want   int
	}{
		{"valid", good, time.Now(), false, 200},
		{"other key", other, time.Now(), false, 401},
		{"stale", good, time.Now().Add(-6 * time.Minute), false, 401},
		{"future", good, time.Now().Add(6 * time.Minute), false, 401},
		{"tampered body", good, time.Now(), true, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := tc.signer.NewRequest(context.Background(), in.URL, body, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			if tc.tamper {
				// Keep the signature of body but send a body with one more space.
				tampered := append(bytes.Clone(body[:len(body)-1]), ' ', '}')
				req.Body = io.NopCloser(bytes.NewReader(tampered))
				req.ContentLength = int64(len(tampered))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	if n, r := len(in.Events()), in.Rejected(); n != 1 || r != 4 {
		t.Fatalf("events %d rejected %d, want 1 and 4", n, r)
	}
}
