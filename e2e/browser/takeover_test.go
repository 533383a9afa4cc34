//go:build e2e

package browser

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/smsconv/smsconv/e2e/internal/stack"
	"github.com/smsconv/smsconv/shared/conversation"
)

// An operator takes a conversation over and answers the user; the fake Telnyx receives that message exactly
// once; the user's next message is stored without a bot reply; handed back, the flow answers again from the
// state it was in.
func TestConsoleTakeover(t *testing.T) {
	s, c, ctx := startDesk(t)
	wait, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	user := "+13125550177"
	inbound(t, c, s, "to-1", user, "hello")
	if _, err := c.WaitDelivered(wait, user, 1); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, s)
	thread := s.IngressURL + "/console/conversations/" + url.PathEscape(user) + "?our_number=" + url.QueryEscape(s.OurNumber)
	do(t, ctx, "take over",
		chromedp.Navigate(thread),
		waitText("p", conversation.ReplyGreeting),
		chromedp.Click(chromedp.ID("takeover")),
		chromedp.WaitVisible(chromedp.ID("handback")),
	)
	if got := conversationFlag(t, c, user); !got.TakenOver || got.State != conversation.StateGreeted {
		t.Fatalf("GET /conversations/%s after takeover: %+v, want taken_over in state greeted", user, got)
	}

	operatorText := "Hi, this is Sam from support. How can I help?"
	do(t, ctx, "operator message",
		chromedp.SendKeys(chromedp.ID("text"), operatorText),
		chromedp.Submit(chromedp.ID("text")),
		waitBubble("outbound", operatorText),
		waitXPath(`//li[contains(@class,"operator")]//span[contains(@class,"st-delivered")]`),
	)
	do(t, ctx, "mark", setMark())
	inbound(t, c, s, "to-2", user, "info")
	do(t, ctx, "inbound while taken over", waitBubble("inbound", "info"))
	sameDocument(t, ctx, "the thread")
	if err := s.WaitIdle(wait); err != nil {
		t.Fatal(err)
	}
	got, err := c.Delivered(wait, user)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Text != operatorText {
		t.Fatalf("while taken over the user received %+v; want the greeting and the operator's message once, no bot reply", got)
	}
	screenshot(t, ctx, "console-takeover")
	do(t, ctx, "list shows it", chromedp.Navigate(s.IngressURL+"/console?flag=taken_over"), waitText("a", user),
		waitXPath(`//span[contains(@class,"tag op")]`))

	do(t, ctx, "hand back", chromedp.Navigate(thread), chromedp.Click(chromedp.ID("handback")), chromedp.WaitVisible(chromedp.ID("takeover")))
	if got := conversationFlag(t, c, user); got.TakenOver || got.State != conversation.StateGreeted {
		t.Fatalf("GET /conversations/%s after hand-back: %+v, want not taken over, still greeted", user, got)
	}
	inbound(t, c, s, "to-3", user, "info")
	do(t, ctx, "the flow answers again", waitBubble("outbound", conversation.ReplyInfo))
	if got := conversationFlag(t, c, user); got.State != conversation.StateInformed || got.MessageCount != 3 {
		t.Fatalf("after hand-back and info: %+v, want informed with 3 messages counted", got)
	}
}

type convFlags struct {
	State        string `json:"state"`
	MessageCount int    `json:"message_count"`
	TakenOver    bool   `json:"taken_over"`
}

func conversationFlag(t testing.TB, c *stack.Client, user string) convFlags {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out convFlags
	status, _, err := c.Admin(ctx, http.MethodGet, "/conversations/"+url.PathEscape(user), nil, &out)
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET /conversations/%s: %d %v", user, status, err)
	}
	return out
}

// A reply Telnyx refused is dead-lettered; replaying it from the console sends it, and the thread shows it.
func TestConsoleReplaysDeadLetter(t *testing.T) {
	s, c, ctx := startDesk(t)
	wait, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Faults(wait, map[string]any{"fail_next": 1, "status": 400, "code": "10016"}); err != nil {
		t.Fatal(err)
	}
	user := "+13125550188"
	inbound(t, c, s, "dl-1", user, "hello")
	var letters []stack.DeadLetter
	for len(letters) == 0 {
		var err error
		if letters, err = c.DeadLetters(wait); err != nil {
			t.Fatal(err)
		}
		select {
		case <-wait.Done():
			t.Fatal("no dead letter appeared")
		case <-time.After(100 * time.Millisecond):
		}
	}
	signIn(t, ctx, s)
	do(t, ctx, "failing in the list", chromedp.Navigate(s.IngressURL+"/console?flag=failing"), waitText("a", user))
	do(t, ctx, "dead letters page", chromedp.Navigate(s.IngressURL+"/console/dead-letters"), waitText("div", "10016"))
	screenshot(t, ctx, "console-dead-letters")
	do(t, ctx, "replay", chromedp.Click(chromedp.Search(`//button[starts-with(@aria-label,"Replay dead letter")]`)),
		waitText("p", "Replayed dead letter"), waitText("li", "No dead letters"))
	do(t, ctx, "the reply in the thread",
		chromedp.Navigate(s.IngressURL+"/console/conversations/"+url.PathEscape(user)),
		waitText("p", conversation.ReplyGreeting),
		waitXPath(`//li[contains(@class,"outbound")]//span[contains(@class,"st-delivered")]`))
	if _, err := c.WaitDelivered(wait, user, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitIdle(wait); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Delivered(wait, user); len(got) != 1 || got[0].Text != conversation.ReplyGreeting {
		t.Fatalf("after replay the user received %+v, want the greeting once", got)
	}
}
