//go:build e2e

// Package browser drives the operator console and the sandbox's web phone in headless Chromium (Debian's
// chromium, through chromedp) against the whole system running as processes.
package browser

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/smsconv/smsconv/e2e/internal/stack"
)

var (
	bins        stack.Binaries
	screenshots = flag.String("screenshots", "", "directory for the screenshots (default .run/screenshots under the repository root)")
)

func TestMain(m *testing.M) { stack.TestMain(m, &bins) }

// start runs the stack with delivery receipts on, as docker compose does.
func start(t *testing.T, o stack.Options) (*stack.Stack, *stack.Client) {
	t.Helper()
	o.SandboxEnv = append(o.SandboxEnv, "SANDBOX_RECEIPTS=true", "SANDBOX_RECEIPT_DELAY=200ms")
	s := stack.StartT(t, bins, o)
	return s, s.Client()
}

// startDesk runs the stack as start does and opens a desktop-sized browser for the operator console.
func startDesk(t *testing.T) (*stack.Stack, *stack.Client, context.Context) {
	t.Helper()
	s, c := start(t, stack.Options{})
	return s, c, newBrowser(t, 1280, 860)
}

// chromiumPath finds Debian's chromium; a missing browser fails the test with how to install it.
func chromiumPath(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: install it with `apt-get install -y chromium` (.ci/run does)")
	return ""
}

// newBrowser starts a fresh headless Chromium (its own profile directory) and returns a tab's context.
func newBrowser(t testing.TB, width, height int64) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(int(width), int(height)),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx, viewport(width, height)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// viewport emulates a screen of that size; below 600 px wide, a phone's (mobile, touch).
func viewport(width, height int64) chromedp.Action[chromedp.Void] {
	if width < 600 {
		return chromedp.EmulateViewport(width, height, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	return chromedp.EmulateViewport(width, height)
}

// stepTimeout bounds one step (a navigation, a wait for the system to show something).
const stepTimeout = 30 * time.Second

// do runs the steps, each within stepTimeout, failing the test with the step and the page's text.
func do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	for i, step := range steps {
		sctx, cancel := context.WithTimeout(ctx, stepTimeout)
		err := chromedp.Do(sctx, step)
		cancel()
		if err != nil {
			text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.location.href + "\n" + document.body.innerText`))
			t.Fatalf("%s, step %d: %v\npage: %s", what, i+1, err, text)
		}
	}
}

// value runs one action that returns a value.
func value[T any](t testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// signIn opens the console, is sent to the sign-in page, and signs in with the admin token.
func signIn(t testing.TB, ctx context.Context, s *stack.Stack) {
	t.Helper()
	do(t, ctx, "sign in", chromedp.Navigate(s.IngressURL+"/console"), chromedp.WaitVisible(chromedp.ID("token")))
	url := value(t, ctx, "location", chromedp.Location())
	if !strings.HasSuffix(url, "/console/login") {
		t.Fatalf("signed out, /console went to %s, want the sign-in page", url)
	}
	do(t, ctx, "submit token",
		chromedp.SendKeys(chromedp.ID("token"), s.AdminToken),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("convs-h")),
	)
	url = value(t, ctx, "location", chromedp.Location())
	if strings.Contains(url, s.AdminToken) {
		t.Fatalf("the admin token is in the URL %s", url)
	}
}

// waitText waits for a visible element holding text (an XPath on its text content).
func waitText(tag, text string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.Search(fmt.Sprintf(`//%s[contains(normalize-space(.), %s)]`, tag, xpathString(text))))
}

// waitBubble waits for a message bubble of the thread ("inbound" or "outbound") whose text is exactly text.
func waitBubble(direction, text string) chromedp.Action[chromedp.Void] {
	return waitXPath(fmt.Sprintf(`//li[contains(@class,%s)]//p[normalize-space(.)=normalize-space(%s)]`,
		xpathString(direction), xpathString(text)))
}

// waitXPath waits for a visible element matching an XPath.
func waitXPath(xpath string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.Search(xpath))
}

// xpathString quotes s for XPath 1.0 (which has no escapes).
func xpathString(s string) string {
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	parts := strings.Split(s, "'")
	return "concat('" + strings.Join(parts, `', "'", '`) + "')"
}

// screenshot saves the viewport as name.png and returns its path.
func screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	dir := *screenshots
	if dir == "" {
		root, err := stack.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, ".run", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	png := value(t, ctx, "screenshot "+name, chromedp.CaptureScreenshot())
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d KB)", path, len(png)/1024)
	return path
}

// inbound posts a signed message.received from user to our number and checks that it was queued.
func inbound(t testing.TB, c *stack.Client, s *stack.Stack, id, user, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, body, err := c.PostWebhook(ctx, stack.Inbound("ev-"+id, id, user, s.OurNumber, text, time.Now()))
	if err != nil || status != 200 {
		t.Fatalf("webhook %s: %d %s %v", id, status, body, err)
	}
}
