// Package naive holds the yardsticks of the closed-loop benchmark: the smallest honest servers that answer a
// Telnyx webhook the way this project does, with none of its guarantees. Each verifies the signature, parses
// the event, runs the same dialog on state kept in a map, sends the reply to Telnyx and only then answers the
// webhook. No queue, no durability, no deduplication, no order across requests: a crash loses every
// conversation, a retried webhook is answered twice. They are what "as fast as a toy" is measured against,
// not products.
//
// There are two, because the question has two readings:
//   - Stdlib is the toy as its author would write it, with the standard library only: crypto/ed25519,
//     encoding/json and net/http's default transport. It shares no code of this project's but the dialog,
//     so making the project faster does not move it.
//   - Tuned is the same server on this project's own verifier, decoder and Telnyx client. Against it, the
//     difference is only what the queue, the store and the extra processes cost.
package naive

import (
	"context"
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

// errNotInbound: a signed event that is not an inbound message (a receipt and the like), answered 200.
var errNotInbound = errors.New("not an inbound message")

// inbound is what a server needs of an inbound message.
type inbound struct{ id, from, to, text string }

// parts are what tells the two yardsticks apart.
type parts struct {
	verify func(h http.Header, body []byte) error
	parse  func(body []byte) (inbound, error) // errNotInbound for other events
	send   func(ctx context.Context, from, to, text, idempotencyKey string) error
}

// Server answers POST /webhooks/sms.
type Server struct {
	parts
	dialog conversation.Dialog
	log    *slog.Logger

	mu    sync.Mutex
	convs map[string]conversation.Conversation
}

// Tuned returns the yardstick built on this project's verifier, webhook decoder and Telnyx client.
func Tuned(key ed25519.PublicKey, dialog conversation.Dialog, client *telnyx.Client, log *slog.Logger) *Server {
	v := telnyx.NewVerifier([]ed25519.PublicKey{key}, 0)
	return newServer(parts{
		verify: func(h http.Header, body []byte) error { return v.VerifyHeader(h, body, time.Now()) },
		parse: func(body []byte) (inbound, error) {
			hook, err := telnyx.ParseWebhook(body)
			if err != nil {
				return inbound{}, err
			}
			in, err := hook.InboundMessage()
			if errors.Is(err, telnyx.ErrUnexpectedEvent) {
				return inbound{}, errNotInbound
			}
			return inbound{id: in.ID, from: in.From, to: in.To, text: in.Text}, err
		},
		send: func(ctx context.Context, from, to, text, key string) error {
			_, err := client.Send(ctx, telnyx.SendRequest{From: from, To: to, Text: text}, key)
			return err
		},
	}, dialog, log)
}

func newServer(p parts, dialog conversation.Dialog, log *slog.Logger) *Server {
	return &Server{parts: p, dialog: dialog, log: log, convs: map[string]conversation.Conversation{}}
}

// ServeHTTP handles one webhook: 200 once the reply is sent (or there is none), 4xx for a bad webhook, 502
// when Telnyx refused the reply.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := webhookBody(w, r)
	if !ok {
		return
	}
	if err := s.verify(r.Header, body); err != nil {
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	in, err := s.parse(body)
	if errors.Is(err, errNotInbound) {
		w.WriteHeader(http.StatusOK)
		return
	}
	if err != nil {
		http.Error(w, "unusable message", http.StatusBadRequest)
		return
	}
	now := time.Now()
	key := in.to + "|" + in.from
	s.mu.Lock()
	c, ok := s.convs[key]
	if !ok {
		c = conversation.New(now)
	}
	res := s.dialog.Step(c, conversation.Inbound{Text: in.text}, now)
	s.convs[key] = res.Conversation
	s.mu.Unlock()
	if res.HasReply {
		if err := s.send(r.Context(), in.to, in.from, res.Reply, "rpl_"+in.id); err != nil {
			s.log.Warn("send failed", "err", err)
			http.Error(w, "send failed", http.StatusBadGateway)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// webhookBody returns the body of a POST /webhooks/sms, read within MaxBody. Anything else it answers
// itself (200 for GET /healthz, 404, or 413 for a body too large), and ok is false.
func webhookBody(w http.ResponseWriter, r *http.Request) (body []byte, ok bool) {
	if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
		w.WriteHeader(http.StatusOK)
		return nil, false
	}
	if r.Method != http.MethodPost || r.URL.Path != "/webhooks/sms" {
		http.NotFound(w, r)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	return body, true
}
