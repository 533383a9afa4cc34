package naive

import (
	"crypto/ed25519"
	"io"
	"net/http"
	"time"

	"github.com/smsconv/smsconv/shared/telnyx"
)

// queued is the verifier's answer to a signed webhook: the ingress's, so a client reads the same bytes.
const queued = `{"status":"queued"}`

// Verifier returns the ingress's floor: an HTTP server that does only what every verifying ingress must do
// for a webhook, with this project's verifier and the standard library's server. It reads the body within
// MaxBody, checks the signature and answers 200, or 413 and 401. It neither parses nor keeps anything, so
// what it spends per webhook is the HTTP exchange and one signature check. Any ingress that verifies
// spends at least that much per webhook, before it decodes the event or queues it.
func Verifier(key ed25519.PublicKey) http.Handler {
	v := telnyx.NewVerifier([]ed25519.PublicKey{key}, 0)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := webhookBody(w, r)
		if !ok {
			return
		}
		if err := v.VerifyHeader(r.Header, body, time.Now()); err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, queued)
	})
}
