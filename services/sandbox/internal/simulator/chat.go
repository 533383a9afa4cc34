package simulator

import (
	"slices"
	"time"

	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
)

// chatKept bounds the texts the simulator remembers for the web phone.
const chatKept = 2000

// ChatMessage is one message of a simulated phone's chat: a text the user sent, or one we sent them with
// the last delivery receipt the simulator reported for it.
type ChatMessage struct {
	ID string `json:"id"`
	// Direction is "out" for the user's text (out of the phone), "in" for ours.
	Direction string    `json:"direction"`
	Text      string    `json:"text"`
	At        time.Time `json:"at"`
	// Receipt is "accepted", then "sent", then "delivered" as the simulator reports them (ours only).
	Receipt string `json:"receipt,omitempty"`
	// Webhook is the ingress's answer to the user's text (theirs only), e.g. 200.
	Webhook int `json:"webhook,omitempty"`
}

// chatText is a text a simulated user sent.
type chatText struct {
	conv
	msg ChatMessage
}

// noteText remembers a text the user sent, for the web phone.
func (s *Simulator) noteText(c conv, res Result, t Text, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.texts = append(s.texts, chatText{conv: c, msg: ChatMessage{ID: res.MessageID, Direction: "out",
		Text: t.Text, At: at, Webhook: res.WebhookStatus}})
	if len(s.texts) > chatKept {
		s.texts = slices.Delete(s.texts, 0, len(s.texts)-chatKept)
	}
}

func (s *Simulator) noteReceipt(id, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.receiptOf[id] = state
	if len(s.receiptOf) > chatKept*2 {
		clear(s.receiptOf) // old entries only lose their receipt label in the web phone
	}
}

// Chat is the conversation between user and our number as the user's phone sees it, oldest first.
func (s *Simulator) Chat(our, user string) []ChatMessage {
	sent := s.fake.MessagesTo(user)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []ChatMessage{}
	for _, t := range s.texts {
		if t.our == our && t.user == user {
			out = append(out, t.msg)
		}
	}
	for _, m := range sent {
		if m.From != our {
			continue
		}
		out = append(out, ChatMessage{ID: m.ID, Direction: "in", Text: m.Text, At: m.At, Receipt: s.receipt(m)})
	}
	slices.SortStableFunc(out, func(a, b ChatMessage) int { return a.At.Compare(b.At) })
	return out
}

func (s *Simulator) receipt(m fakeapi.SentMessage) string {
	if r := s.receiptOf[m.ID]; r != "" {
		return r
	}
	return "accepted"
}

// Numbers are the default numbers of a simulated text: our number and the user's.
func (s *Simulator) Numbers() (our, user string) { return s.set.OurNumber, s.set.UserNumber }
