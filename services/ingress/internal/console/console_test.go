package console_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/smsconv/smsconv/services/ingress/internal/console"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/natstest"
	"github.com/smsconv/smsconv/shared/redistest"
	"github.com/smsconv/smsconv/shared/store"
)

const token = "console-test-token"

// serve runs the console with real NATS (JetStream) and Redis.
func serve(t *testing.T, adminToken string) string {
	u, _, _ := serveWith(t, adminToken)
	return u
}

func serveWith(t *testing.T, adminToken string) (string, *natstest.Server, *store.Store) {
	t.Helper()
	ns := natstest.Start(t)
	rs := redistest.Start(t)
	nc, js := ns.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	o := events.DefaultStreamOptions()
	o.Partitions = 2
	if err := events.EnsureStreams(ctx, js, o); err != nil {
		t.Fatal(err)
	}
	st := store.New(rs.Client(), store.Options{Prefix: "t"})
	c, err := console.New(console.Deps{Store: st, NC: nc, JS: js, AdminToken: adminToken, DefaultOur: "+12125550100",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e := echo.New()
	c.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv.URL, ns, st
}

func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestConsoleRefusedWithoutAdminToken(t *testing.T) {
	u := serve(t, "")
	for _, path := range []string{"/console", "/console/login", "/console/dead-letters"} {
		resp, body := get(t, client(), u+path)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "ADMIN_TOKEN") {
			t.Errorf("GET %s without ADMIN_TOKEN: %d, want 403 naming ADMIN_TOKEN", path, resp.StatusCode)
		}
	}
	resp, err := client().PostForm(u+"/console/login", url.Values{"token": {""}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Fatalf("sign-in with an empty token when ADMIN_TOKEN is unset: %d, want 403 and no cookie", resp.StatusCode)
	}
}

func TestSignInAndOut(t *testing.T) {
	u := serve(t, token)
	c := client()
	if resp, _ := get(t, c, u+"/console"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/login" {
		t.Fatalf("signed out GET /console: %d to %q, want 303 to the sign-in page", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err := c.PostForm(u+"/console/login", url.Values{"token": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Fatalf("wrong token: %d with %d cookies, want 401 and none", resp.StatusCode, len(resp.Cookies()))
	}
	resp, err = c.PostForm(u+"/console/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console" {
		t.Fatalf("sign-in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	ck := resp.Cookies()[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/console" ||
		time.Until(ck.Expires) > console.SessionTTL || time.Until(ck.Expires) < console.SessionTTL-time.Minute {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP, path /console, expiring in %s", ck, console.SessionTTL)
	}
	resp, body := get(t, c, u+"/console")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Conversations") {
		t.Fatalf("signed in GET /console: %d", resp.StatusCode)
	}
	for h, want := range map[string]string{"Content-Security-Policy": "default-src 'none'", "X-Frame-Options": "DENY",
		"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"} {
		if got := resp.Header.Get(h); !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if strings.Contains(body, token) {
		t.Fatal("the page holds the admin token")
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)[1]

	resp, err = c.PostForm(u+"/console/logout", url.Values{"csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	// The browser dropped the cookie; a copy of it is refused too (revoked in Redis).
	replay := client()
	cu, _ := url.Parse(u + "/console")
	replay.Jar.SetCookies(cu, []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/console"}})
	if resp, _ := get(t, replay, u+"/console"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signed-out cookie: %d, want 303 to sign-in", resp.StatusCode)
	}
}

func TestStaticAssetsAreEmbedded(t *testing.T) {
	u := serve(t, token)
	for path, want := range map[string]string{"/console/static/console.css": "text/css", "/console/static/console.js": "javascript"} {
		resp, body := get(t, client(), u+path)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), want) || len(body) == 0 {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

// signIn returns a client holding a session.
func signIn(t *testing.T, u string) *http.Client {
	t.Helper()
	c := client()
	resp, err := c.PostForm(u+"/console/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	return c
}

// Changes announced on NATS by another connection (a worker's) reach the live stream; a receipt's change (a
// message id only) arrives with its conversation, looked up in the store. Signed out, the stream is refused.
// The console holds a subscription to the changes only while a stream is open.
func TestLiveStream(t *testing.T) {
	u, ns, st := serveWith(t, token)
	nc, _ := ns.Connect(t)
	if n := ns.Subscribers(t, events.ChangesSubject); n != 0 {
		t.Fatalf("%d subscriptions to %s with no stream open, want 0", n, events.ChangesSubject)
	}
	if resp, _ := get(t, client(), u+"/console/events"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signed-out GET /console/events: %d, want a redirect to sign-in", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	k := store.Key{Our: "+12125550100", User: "+13125550123"}
	if err := st.QueueSend(ctx, store.Message{ID: "snd_1", Our: k.Our, User: k.User, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u+"/console/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := signIn(t, u).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /console/events: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() string {
		for lines.Scan() {
			if d, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
				return d
			}
		}
		t.Fatalf("stream ended: %v", lines.Err())
		return ""
	}
	// The stream is open once its first comment arrived; announce after that.
	for lines.Scan() && lines.Text() != ": connected" {
	}
	events.Announcer{NC: nc}.Announce(events.Change{Our: k.Our, User: k.User, MessageID: "in_1"})
	if got := next(); !strings.Contains(got, `"user_number":"+13125550123"`) || !strings.Contains(got, `"message_id":"in_1"`) {
		t.Fatalf("change = %s", got)
	}
	events.Announcer{NC: nc}.Announce(events.Change{MessageID: "snd_1"})
	if got := next(); !strings.Contains(got, `"user_number":"+13125550123"`) || !strings.Contains(got, `"our_number":"+12125550100"`) {
		t.Fatalf("receipt change = %s, want its conversation filled in", got)
	}
	if n := ns.Subscribers(t, events.ChangesSubject); n != 1 {
		t.Fatalf("%d subscriptions to %s with one stream open, want 1", n, events.ChangesSubject)
	}
	// The last stream closed, the subscription goes.
	_ = resp.Body.Close()
	var n int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if n = ns.Subscribers(t, events.ChangesSubject); n == 0 {
			break
		}
	}
	if n != 0 {
		t.Fatalf("%d subscriptions to %s after the stream closed, want 0", n, events.ChangesSubject)
	}
}
