// Package simulator plays the phones on the far side of the fake Telnyx: it texts our number by posting signed
// message.received webhooks to the ingress, and reports the delivery of every message the fake accepts with
// message.sent and message.finalized webhooks, as Telnyx does.
package simulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/phone"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
)

// Errors of Send, turned into HTTP statuses by the API.
var (
	// ErrInvalid is returned for a message that cannot be simulated (bad number, no content, wait too long).
	ErrInvalid = errors.New("invalid message")
	// ErrWebhookFailed is returned when the ingress could not be reached.
	ErrWebhookFailed = errors.New("webhook not delivered")
	// ErrWebhookRejected is returned when the ingress answered the webhook with a non-2xx status.
	ErrWebhookRejected = errors.New("webhook rejected by the ingress")
)

// MaxWait is the longest a Send waits for a reply.
const MaxWait = time.Minute

// maxResponseBody is how much of the ingress's answer is kept for the caller.
const maxResponseBody = 4 << 10

// Settings configures a Simulator.
type Settings struct {
	// WebhookURL is where webhooks go (the ingress), unless a send names its own webhook_url.
	WebhookURL string
	// OurNumber is the default recipient of simulated texts; UserNumber their default sender.
	OurNumber, UserNumber string
	// Receipts turns delivery receipts on; each is posted ReceiptDelay after the previous step.
	Receipts     bool
	ReceiptDelay time.Duration
	// WebhookTimeout bounds each webhook POST.
	WebhookTimeout time.Duration
}

// Simulator sends webhooks on behalf of simulated users and carriers. Close it to stop pending receipts.
type Simulator struct {
	fake   *fakeapi.Fake
	signer *fakeapi.Signer
	client *http.Client
	log    *slog.Logger
	set    Settings

	// ctx ends on Close; it bounds receipts and reply waits so shutdown is not held up by them.
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
	// optedOut holds the conversations (our number, user) whose user texted an opt-out word, as Telnyx keeps
	// them, so a text that gets no reply can be reported as blocked rather than lost.
	optedOut map[conv]bool
	// texts and receiptOf are what the web phone shows: the users' texts and the receipts reported.
	texts     []chatText
	receiptOf map[string]string
}

// conv is one conversation: our number and the user's.
type conv struct{ our, user string }

// New returns a simulator and installs its hook on fake, which logs every accepted send and schedules its
// receipts.
func New(fake *fakeapi.Fake, signer *fakeapi.Signer, set Settings, log *slog.Logger) *Simulator {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Simulator{
		fake:     fake,
		signer:   signer,
		client:   &http.Client{Timeout: set.WebhookTimeout},
		log:      log.With("component", "simulator"),
		set:      set,
		ctx:      ctx,
		cancel:   cancel,
		optedOut: map[conv]bool{},

		receiptOf: map[string]string{},
	}
	fake.OnSend(s.onSend)
	return s
}

// Close cancels pending receipts and reply waits and waits for their goroutines to end.
func (s *Simulator) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// Text is a message a simulated user sends to our number.
type Text struct {
	From, To, Text string
	Media          []fakeapi.Media
	// Wait, if positive, is how long to wait for our reply to the user.
	Wait time.Duration
}

// Result is what happened to a simulated text.
type Result struct {
	EventID, MessageID string
	// From and To are the text's numbers, defaults applied.
	From, To string
	// WebhookStatus is the ingress's HTTP status (0 if it could not be reached), WebhookBody the start of its
	// answer.
	WebhookStatus int
	WebhookBody   string
	// Reply is the first message the fake accepted to the user from our number after the text, if any.
	Reply *fakeapi.SentMessage
	// TimedOut is set when Wait passed without a reply.
	TimedOut bool
	// OptedOut is set when the user has opted out of this conversation (texted STOP or another opt-out word)
	// and not opted back in: our replies are blocked, as Telnyx blocks them. OptedIn is set when this text
	// (START or UNSTOP) lifted such an opt-out.
	OptedOut, OptedIn bool
}

// Send texts our number as a user would: it posts a signed message.received webhook to the ingress and, if
// t.Wait > 0, waits for the reply. A reply to an earlier text of the same user that is sent meanwhile is taken
// for the reply: the sandbox cannot tell them apart.
func (s *Simulator) Send(ctx context.Context, t Text) (Result, error) {
	if t.From == "" {
		t.From = s.set.UserNumber
	}
	if t.To == "" {
		t.To = s.set.OurNumber
	}
	if err := validate(t); err != nil {
		return Result{}, err
	}
	// Count before posting, so a reply that races ahead of the webhook's answer is still seen.
	seen := len(s.fake.Messages())
	res := Result{MessageID: newID(), EventID: newID(), From: t.From, To: t.To}
	body := fakeapi.InboundWebhook(fakeapi.Inbound{
		EventID: res.EventID, MessageID: res.MessageID, From: t.From, To: t.To, Text: t.Text, Media: t.Media,
		DeliveredTo: s.set.WebhookURL,
	})
	sentAt := time.Now()
	status, answer, err := s.post(ctx, s.set.WebhookURL, body)
	res.WebhookStatus, res.WebhookBody = status, answer
	log := s.log.With("event_id", res.EventID, "from", phone.Mask(t.From), "to", phone.Mask(t.To))
	if err != nil {
		log.Warn("inbound webhook not delivered", "error", err)
		return res, fmt.Errorf("%w: %w", ErrWebhookFailed, err)
	}
	if status < 200 || status > 299 {
		log.Warn("inbound webhook rejected", "status", status)
		return res, fmt.Errorf("%w: HTTP %d", ErrWebhookRejected, status)
	}
	log.Info("inbound webhook delivered", "status", status)
	s.noteText(conv{our: t.To, user: t.From}, res, t, sentAt)
	res.OptedOut, res.OptedIn = s.noteOptOut(conv{our: t.To, user: t.From}, t.Text)
	if t.Wait <= 0 {
		return res, nil
	}
	reply, err := s.waitReply(ctx, seen, t.To, t.From, t.Wait)
	if err != nil {
		return res, err
	}
	res.Reply, res.TimedOut = reply, reply == nil
	return res, nil
}

// noteOptOut records an opt-out or opt-in word in text, as Telnyx does for the messages it receives, and
// returns whether the user is opted out now and whether this text opted them back in. Opting in also lifts a
// block set with the fake's OptOut, as START does at Telnyx.
func (s *Simulator) noteOptOut(c conv, text string) (optedOut, optedIn bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	was := s.optedOut[c]
	switch {
	case conversation.IsOptOut(text):
		s.optedOut[c] = true
	case conversation.IsOptIn(text):
		delete(s.optedOut, c)
		s.fake.OptIn(c.user)
		return false, was
	}
	return s.optedOut[c], false
}

func validate(t Text) error {
	switch {
	case !PlausibleNumber(t.From):
		return fmt.Errorf("%w: from must be an E.164 number like +13125550123", ErrInvalid)
	case !PlausibleNumber(t.To):
		return fmt.Errorf("%w: to must be an E.164 number like +12125550100", ErrInvalid)
	case t.Text == "" && len(t.Media) == 0:
		return fmt.Errorf("%w: text or media is required", ErrInvalid)
	case t.Wait < 0 || t.Wait > MaxWait:
		return fmt.Errorf("%w: wait must be between 0s and %s", ErrInvalid, MaxWait)
	}
	for _, m := range t.Media {
		if m.URL == "" {
			return fmt.Errorf("%w: every media item needs a url", ErrInvalid)
		}
	}
	return nil
}

// waitReply waits for a message from ourNumber to user accepted after the first seen messages. It returns nil
// when wait passes, and an error only when ctx (the caller) ends.
func (s *Simulator) waitReply(ctx context.Context, seen int, ourNumber, user string, wait time.Duration) (*fakeapi.SentMessage, error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	for {
		msgs, err := s.fake.WaitForMessages(wctx, seen+1)
		if len(msgs) < seen { // the fake was reset meanwhile
			seen = 0
		}
		for _, m := range msgs[seen:] {
			if m.From == ourNumber && m.To == user {
				return &m, nil
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("wait for reply: %w", ctx.Err())
			}
			return nil, nil
		}
		seen = len(msgs)
	}
}

// onSend runs for every message the fake accepts, on the sender's request.
func (s *Simulator) onSend(m fakeapi.SentMessage) {
	s.log.Info("message accepted", "message_id", m.ID, "from", phone.Mask(m.From), "to", phone.Mask(m.To))
	s.log.Debug("message text", "message_id", m.ID, "text", m.Text)
	if !s.set.Receipts {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.receipts(m)
	}()
}

// receipts posts message.sent then message.finalized (delivered) for m, each after ReceiptDelay. Like Telnyx,
// it posts to the send's webhook_url when it had one. Failures are logged and not retried.
func (s *Simulator) receipts(m fakeapi.SentMessage) {
	url := m.WebhookURL
	if url == "" {
		url = s.set.WebhookURL
	}
	for _, event := range []string{fakeapi.EventMessageSent, fakeapi.EventMessageFinalized} {
		t := time.NewTimer(s.set.ReceiptDelay)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return
		}
		body := fakeapi.ReceiptWebhook(fakeapi.Receipt{
			EventType: event, MessageID: m.ID, From: m.From, To: m.To, Text: m.Text,
			DeliveredTo: url, MessagingProfileID: m.MessagingProfileID,
		})
		status, _, err := s.post(s.ctx, url, body)
		log := s.log.With("event_type", event, "message_id", m.ID, "to", phone.Mask(m.To))
		switch {
		case err != nil:
			if s.ctx.Err() == nil {
				log.Warn("receipt not delivered", "error", err)
			}
		case status < 200 || status > 299:
			log.Warn("receipt rejected", "status", status)
		default:
			log.Debug("receipt delivered", "status", status)
			s.noteReceipt(m.ID, receiptState[event])
		}
	}
}

// receiptState names what a receipt told the ingress, for the web phone.
var receiptState = map[string]string{fakeapi.EventMessageSent: "sent", fakeapi.EventMessageFinalized: "delivered"}

// post signs and posts a webhook, returning the status and the start of the answer.
func (s *Simulator) post(ctx context.Context, url string, body []byte) (int, string, error) {
	resp, err := s.signer.Post(ctx, s.client, url, body)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("read webhook answer: %w", err)
	}
	return resp.StatusCode, string(answer), nil
}

// PlausibleNumber reports whether s looks like an E.164 number ("+" and 8 to 15 digits). Unlike
// phone.ParseE164 it accepts fictional 555 numbers, which is what a sandbox is for.
func PlausibleNumber(s string) bool {
	digits, ok := strings.CutPrefix(s, "+")
	if !ok || len(digits) < 8 || len(digits) > 15 || digits[0] == '0' {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

func newID() string { return uuid.NewString() }
