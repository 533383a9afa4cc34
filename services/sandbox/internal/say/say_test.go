package say_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/services/sandbox/internal/sandboxtest"
	"github.com/smsconv/smsconv/services/sandbox/internal/say"
)

func run(args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	err := say.Run(context.Background(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestSayPrintsTheReply(t *testing.T) {
	sb := sandboxtest.Start(t, nil)
	out, _, err := run("--url", sb.URL, "--wait", "5s", "hello", "there")
	if err != nil {
		t.Fatal(err)
	}
	if out != "You said: hello there\n" {
		t.Fatalf("stdout = %q", out)
	}
	ev := sb.Ingress.Events()[0]
	if ev.From != "+13125550123" || ev.To != "+12125550100" {
		t.Fatalf("default numbers: %+v", ev)
	}
}

func TestSayNumbers(t *testing.T) {
	sb := sandboxtest.Start(t, nil)
	out, _, err := run("-url", sb.URL+"/", "-from", "+447911123456", "-to", "+15550002000", "hi")
	if err != nil || out != "You said: hi\n" {
		t.Fatalf("stdout %q, err %v", out, err)
	}
	if ev := sb.Ingress.Events()[0]; ev.From != "+447911123456" || ev.To != "+15550002000" {
		t.Fatalf("ingress saw %+v", ev)
	}
}

func TestSayFailures(t *testing.T) {
	sb := sandboxtest.Start(t, nil)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name    string
		setup   func()
		args    []string
		wantErr error
		want    []string
	}{
		{name: "no reply", setup: func() { sb.Ingress.ReplyThrough("", "") },
			args: []string{"--url", sb.URL, "--wait", "100ms", "hello"}, wantErr: say.ErrNoReply, want: []string{"100ms", "event"}},
		{name: "ingress rejects", setup: func() { sb.Ingress.SetAnswer(401, `{"error":"invalid signature"}`) },
			args: []string{"--url", sb.URL, "hello"}, wantErr: say.ErrRejected, want: []string{"401", "invalid signature"}},
		{name: "sandbox refuses", args: []string{"--url", sb.URL, "--from", "12", "hello"},
			want: []string{"HTTP 400", "from"}},
		{name: "sandbox not running", args: []string{"--url", closed.URL, "hello"}, want: []string{"sandbox serve"}},
		{name: "nothing to say", args: []string{"--url", sb.URL}, wantErr: say.ErrUsage, want: []string{"nothing to say"}},
		{name: "bad flag", args: []string{"--loud", "hi"}, wantErr: say.ErrUsage},
		{name: "negative wait", args: []string{"--wait", "-1s", "hi"}, wantErr: say.ErrUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			out, _, err := run(tc.args...)
			if err == nil {
				t.Fatalf("no error; stdout %q", out)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestSayNoWait(t *testing.T) {
	sb := sandboxtest.Start(t, nil)
	out, _, err := run("--url", sb.URL, "--wait", "0s", "hello")
	if err != nil || !strings.HasPrefix(out, "sent (event ") {
		t.Fatalf("stdout %q, err %v", out, err)
	}
	sb.Ingress.WaitForEvents(1, 5*time.Second)
}

func TestSayHelp(t *testing.T) {
	out, errOut, err := run("-h")
	if err != nil || out != "" || !strings.Contains(errOut, "usage: sandbox say") {
		t.Fatalf("stdout %q stderr %q err %v", out, errOut, err)
	}
}

// TestSayOptOutAndBackIn follows a user who texts STOP: the confirmation is printed with a note, a later text
// that gets no reply (the stand-in ingress stops answering, as the worker blocks replies to an opted-out user)
// is reported as blocked rather than failing as lost, and UNSTOP or START is confirmed as opting back in.
func TestSayOptOutAndBackIn(t *testing.T) {
	sb := sandboxtest.Start(t, nil)
	say := func(t *testing.T, text string, want ...string) {
		t.Helper()
		out, _, err := run("--url", sb.URL, "--wait", "2s", text)
		if err != nil {
			t.Fatalf("say %q: %v (stdout %q)", text, err, out)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("say %q: stdout %q does not contain %q", text, out, w)
			}
		}
	}
	say(t, "hello", "You said: hello")
	say(t, "STOP", "You said: STOP", "[opted out] +13125550123")
	sb.Ingress.ReplyThrough("", "")
	say(t, "hello", "[blocked]", "opted out", "START or UNSTOP")
	sb.Ingress.ReplyThrough(sb.URL+"/v2", sandboxtest.APIKey)
	for _, word := range []string{"unstop", "Start "} {
		t.Run(word, func(t *testing.T) {
			say(t, word, "[opted in] +13125550123 opted back in", "You said: "+word)
			out, _, err := run("--url", sb.URL, "--wait", "2s", "hello")
			if err != nil || out != "You said: hello\n" {
				t.Fatalf("after %q: stdout %q, err %v", word, out, err)
			}
			say(t, "quit", "[opted out]")
		})
	}
}
