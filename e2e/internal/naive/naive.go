// Package naive is the yardstick of the closed-loop benchmark: the smallest honest server that answers a
// Telnyx webhook the way this project does, with none of its guarantees. It verifies the signature, parses the
// event, runs the same dialog on state kept in a map, sends the reply through the same Telnyx client and only
// then answers the webhook. No queue, no durability, no deduplication, no order across requests: a crash loses
// every conversation, a retried webhook is answered twice. It is what "as fast as a toy" is measured against,
// not a product.
package naive

import (
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/telnyx"
)

// MaxBody bounds a webhook body, as the ingress does.
const MaxBody = 64 << 10

// Server answers POST /webhooks/sms.
type Server struct {
	verifier *telnyx.Verifier
	dialog   conversation.Dialog
	client   *telnyx.Client
	log      *slog.Logger

	mu    sync.Mutex
	convs map[string]conversation.Conversation
}

// New returns a Server verifying with key, stepping dialog and sending through client.
func New(key ed25519.PublicKey, dialog conversation.Dialog, client *telnyx.Client, log *slog.Logger) *Server {
	return &Server{verifier: telnyx.NewVerifier([]ed25519.PublicKey{key}, 0), dialog: dialog, client: client,
		log: log, convs: map[string]conversation.Conversation{}}
}

// ServeHTTP handles one webhook: 200 once the reply is sent (or there is none), 4xx for a bad webhook, 502
// when Telnyx refused the reply.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
		w.WriteHeader(http.StatusOK)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/webhooks/sms" {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err := s.verifier.VerifyHeader(r.Header, body, time.Now()); err != nil {
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	hook, err := telnyx.ParseWebhook(body)
	if err != nil {
		http.Error(w, "malformed webhook", http.StatusBadRequest)
		return
	}
	in, err := hook.InboundMessage()
	if errors.Is(err, telnyx.ErrUnexpectedEvent) {
		w.WriteHeader(http.StatusOK) // receipts and the like: nothing to answer
		return
	}
	if err != nil {
		http.Error(w, "unusable message", http.StatusBadRequest)
		return
	}
	now := time.Now()
	key := in.To + "|" + in.From
	s.mu.Lock()
	c, ok := s.convs[key]
	if !ok {
		c = conversation.New(now)
	}
	res := s.dialog.Step(c, conversation.Inbound{Text: in.Text}, now)
	s.convs[key] = res.Conversation
	s.mu.Unlock()
	if res.HasReply {
		_, err := s.client.Send(r.Context(), telnyx.SendRequest{From: in.To, To: in.From, Text: res.Reply}, "rpl_"+in.ID)
		if err != nil {
			s.log.Warn("send failed", "err", err)
			http.Error(w, "send failed", http.StatusBadGateway)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}
