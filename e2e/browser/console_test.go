//go:build e2e

package browser

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/smsconv/smsconv/e2e/internal/stack"
	"github.com/smsconv/smsconv/shared/conversation"
)

// A webhook sent while the operator watches appears in the list, and its reply in the open thread, without
// a reload; the reply's delivery status follows the receipts.
func TestConsoleShowsMessagesLive(t *testing.T) {
	s, c, ctx := startDesk(t)
	signIn(t, ctx, s)

	// Some conversations in different states, so the list has something to show.
	for i, text := range []string{"hello", "info", "stop", "hello", "what's this?"} {
		inbound(t, c, s, fmt.Sprintf("seed-%d", i), fmt.Sprintf("+1312555%04d", 201+i), text)
	}
	user := "+13125550199"
	do(t, ctx, "mark the page", setMark(),
		waitText("a", "+13125550205"))
	inbound(t, c, s, "live-1", user, "hello")
	do(t, ctx, "new conversation in the list", waitText("a", user))
	sameDocument(t, ctx, "the list")
	do(t, ctx, "list settled", waitText("li", "6 conversations"))
	screenshot(t, ctx, "console-list")
	weight(t, ctx)

	do(t, ctx, "open the thread",
		chromedp.Click(chromedp.Search(fmt.Sprintf(`//a[normalize-space(.)=%s]`, xpathString(user)))),
		waitBubble("outbound", conversation.ReplyGreeting),
		waitXPath(`//li[contains(@class,"outbound")]//span[contains(@class,"st-delivered")]`),
		setMark(),
	)
	inbound(t, c, s, "live-2", user, "help")
	do(t, ctx, "reply appears in the open thread", waitBubble("inbound", "help"),
		waitBubble("outbound", conversation.ReplyHelp))
	sameDocument(t, ctx, "the thread")
	do(t, ctx, "both replies delivered",
		waitXPath(`(//li[contains(@class,"outbound")])[2]//span[contains(@class,"st-delivered")]`))
	screenshot(t, ctx, "console-thread")

	do(t, ctx, "phone width", viewport(390, 844), chromedp.Reload(),
		waitText("p", "Available commands"))
	screenshot(t, ctx, "console-thread-phone")
	do(t, ctx, "phone-width list", chromedp.Navigate(s.IngressURL+"/console"), chromedp.WaitVisible(chromedp.ID("convs-h")))
	screenshot(t, ctx, "console-list-phone")
}

// setMark marks the document shown, so sameDocument can tell a live update from a reload.
func setMark() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[string](`window.__sameDocument = "yes"`)(ctx, t)
		return err
	})
}

// sameDocument fails unless the page set up before the change is still the one shown (no reload happened).
func sameDocument(t testing.TB, ctx context.Context, what string) {
	t.Helper()
	v := value(t, ctx, "check for a reload", chromedp.Evaluate[string](`window.__sameDocument || "reloaded"`))
	if v != "yes" {
		t.Fatalf("%s was reloaded to show the change; want a live update", what)
	}
}

// weight logs the console's page weight (bytes of the document and its assets, uncompressed; the live
// updates' fetches left out) and time to first contentful paint, as the browser measured them for the list
// page loaded at sign-in. It runs after a screenshot, so the page has certainly been painted.
func weight(t testing.TB, ctx context.Context) {
	t.Helper()
	type measures struct {
		Doc, Assets, Requests float64
		FCP, Loaded           float64
	}
	m := value(t, ctx, "measure", chromedp.Evaluate[measures](`new Promise((resolve) => {
		const n = performance.getEntriesByType("navigation")[0];
		const r = performance.getEntriesByType("resource").filter((e) => ["link", "script", "img", "css"].includes(e.initiatorType));
		const out = {Doc: n.decodedBodySize, Assets: r.reduce((a, x) => a + x.decodedBodySize, 0), Requests: r.length + 1,
			FCP: -1, Loaded: n.loadEventEnd};
		const p = performance.getEntriesByType("paint").find((e) => e.name === "first-contentful-paint");
		if (p) { out.FCP = p.startTime; }
		resolve(out);
	})`, chromedp.EvalAwaitPromise))
	t.Logf("console list page: document %.0f B + assets %.0f B in %.0f requests; first contentful paint %.0f ms, load %.0f ms",
		m.Doc, m.Assets, m.Requests, m.FCP, m.Loaded)
}

// Signed out, with a forged CSRF token, with another session's token, or from another origin, every
// state-changing request of the console is refused, and its effect does not happen.
func TestConsoleRefusesForgedRequests(t *testing.T) {
	s, c := start(t, stack.Options{})
	user := "+13125550166"
	inbound(t, c, s, "csrf-1", user, "hello")
	wait, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.WaitDelivered(wait, user, 1); err != nil {
		t.Fatal(err)
	}
	thread := "/console/conversations/" + url.PathEscape(user)
	routes := []string{"/console/logout", "/console/dead-letters/1/replay", thread + "/takeover", thread + "/handback",
		thread + "/send"}
	victim := operator(t, s)
	other := operator(t, s)
	cases := []struct {
		name   string
		client *http.Client
		csrf   string
		origin string
		want   int
	}{
		{"signed out", plainClient(), "", "", http.StatusUnauthorized},
		{"signed out with a token", plainClient(), victim.csrf, "", http.StatusUnauthorized},
		{"no token", victim.http, "", "", http.StatusForbidden},
		{"forged token", victim.http, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", http.StatusForbidden},
		{"another session's token", victim.http, other.csrf, "", http.StatusForbidden},
		{"another origin", victim.http, victim.csrf, "https://evil.example", http.StatusForbidden},
	}
	for _, route := range routes {
		for _, tc := range cases {
			t.Run(route+"/"+tc.name, func(t *testing.T) {
				status := post(t, tc.client, s.IngressURL+route, tc.csrf, tc.origin)
				if status != tc.want {
					t.Fatalf("POST %s: %d, want %d", route, status, tc.want)
				}
			})
		}
	}
	// None of the refused requests took effect: the victim is signed in, the conversation is not taken over
	// and the user got only the flow's greeting.
	if got := getStatus(t, victim.http, s.IngressURL+"/console"); got != http.StatusOK {
		t.Fatalf("after refused sign-outs GET /console: %d, want 200", got)
	}
	if got := conversationFlag(t, c, user); got.TakenOver {
		t.Fatalf("after refused takeovers the conversation is taken over: %+v", got)
	}
	if err := s.WaitIdle(wait); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Delivered(wait, user); err != nil || len(got) != 1 {
		t.Fatalf("after refused sends the user received %+v (%v), want only the greeting", got, err)
	}
	t.Run("sign-in from another origin", func(t *testing.T) {
		form := url.Values{"token": {s.AdminToken}}
		req, _ := http.NewRequest(http.MethodPost, s.IngressURL+"/console/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		resp, err := plainClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
			t.Fatalf("cross-origin sign-in: %d with %d cookies, want 403 and none", resp.StatusCode, len(resp.Cookies()))
		}
	})
	t.Run("signed out cookie is dead everywhere", func(t *testing.T) {
		u, _ := url.Parse(s.IngressURL + "/console")
		saved := victim.http.Jar.Cookies(u)
		if status := post(t, victim.http, s.IngressURL+"/console/logout", victim.csrf, ""); status != http.StatusSeeOther {
			t.Fatalf("sign-out: %d, want 303", status)
		}
		replay := plainClient()
		replay.Jar.SetCookies(u, saved)
		if got := getStatus(t, replay, s.IngressURL+"/console"); got != http.StatusSeeOther {
			t.Fatalf("GET /console with the signed-out cookie: %d, want 303 to sign-in", got)
		}
		if status := post(t, replay, s.IngressURL+"/console/logout", victim.csrf, ""); status != http.StatusUnauthorized {
			t.Fatalf("POST with the signed-out cookie: %d, want 401", status)
		}
	})
}

// session is a signed-in HTTP client and its CSRF token.
type session struct {
	http *http.Client
	csrf string
}

func plainClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// operator signs in over plain HTTP, checks the cookie's attributes, and reads the CSRF token from a page.
func operator(t testing.TB, s *stack.Stack) session {
	t.Helper()
	c := plainClient()
	resp, err := c.PostForm(s.IngressURL+"/console/login", url.Values{"token": {s.AdminToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("sign-in: %d with %d cookies, want 303 and a session cookie", resp.StatusCode, len(resp.Cookies()))
	}
	ck := resp.Cookies()[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.MaxAge <= 0 || strings.Contains(ck.Value, s.AdminToken) {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, an expiry and no token in it", ck)
	}
	resp, err = c.Get(s.IngressURL + "/console")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Fatalf("Content-Security-Policy %q: want a strict one", csp)
	}
	m := csrfField.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on /console (%d):\n%s", resp.StatusCode, body)
	}
	return session{http: c, csrf: string(m[1])}
}

func post(t testing.TB, c *http.Client, u, csrf, origin string) int {
	t.Helper()
	form := url.Values{}
	if csrf != "" {
		form.Set("csrf", csrf)
	}
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func getStatus(t testing.TB, c *http.Client, u string) int {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The web phone: type hello, see the seed's greeting arrive with its delivery receipt; the console shows
// the same conversation.
func TestWebPhoneHello(t *testing.T) {
	s, _ := start(t, stack.Options{})
	ctx := newBrowser(t, 420, 760)
	do(t, ctx, "open the web phone",
		chromedp.Navigate(s.SandboxURL+"/"),
		chromedp.WaitVisible(chromedp.ID("text")),
		chromedp.SendKeys(chromedp.ID("text"), "hello"),
		chromedp.Click(chromedp.CSS(`#compose button`)),
		waitText("div", conversation.ReplyGreeting),
		waitXPath(`//li[contains(@class,"theirs")]//span[contains(@class,"r-delivered")]`),
		chromedp.SendKeys(chromedp.ID("text"), "info"),
		chromedp.Click(chromedp.CSS(`#compose button`)),
		waitText("div", conversation.ReplyInfo),
		waitXPath(`(//li[contains(@class,"theirs")])[2]//span[contains(@class,"r-delivered")]`),
	)
	screenshot(t, ctx, "web-phone")

	// The operator's view of the same conversation, as the README shows it beside the phone.
	console := newBrowser(t, 900, 760)
	signIn(t, console, s)
	do(t, console, "the console's thread",
		chromedp.Navigate(s.IngressURL+"/console/conversations/"+url.PathEscape(sandboxUser)),
		waitBubble("inbound", "info"),
		waitXPath(`(//li[contains(@class,"outbound")])[2]//span[contains(@class,"st-delivered")]`))
	screenshot(t, console, "console-beside-phone")
}

// sandboxUser is the sandbox's default user number (SANDBOX_USER_NUMBER), the web phone's number.
const sandboxUser = "+13125550123"
