package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The web phone's page, its assets and its chat feed: a text the user sent and our reply, oldest first.
func TestWebPhone(t *testing.T) {
	e := newEnv(t, Defaults{FailureStatus: 500})
	status, page := call(t, http.MethodGet, e.url+"/", "", nil)
	if status != 200 || !strings.Contains(page, ourNumber[1:]) || !strings.Contains(page, userNumber[1:]) ||
		!strings.Contains(page, `src="/phone/phone.js"`) {
		t.Fatalf("GET /: %d\n%s", status, page)
	}
	for _, path := range []string{"/phone/phone.js", "/phone/phone.css"} {
		if status, body := call(t, http.MethodGet, e.url+path, "", nil); status != 200 || body == "" {
			t.Fatalf("GET %s: %d", path, status)
		}
	}
	if status, raw := call(t, http.MethodPost, e.url+"/sandbox/inbound", `{"text":"hello","wait":"5s"}`, nil); status != 200 {
		t.Fatalf("inbound: %d %s", status, raw)
	}
	status, raw := call(t, http.MethodGet, e.url+"/sandbox/chat?user="+strings.Replace(userNumber, "+", "%2B", 1), "", nil)
	var chat []struct {
		Direction, Text, Receipt string
		Webhook                  int
	}
	if err := json.Unmarshal([]byte(raw), &chat); err != nil || status != 200 {
		t.Fatalf("chat: %d %s (%v)", status, raw, err)
	}
	if len(chat) != 2 || chat[0].Direction != "out" || chat[0].Text != "hello" || chat[0].Webhook != 200 ||
		chat[1].Direction != "in" || chat[1].Text != "You said: hello" || chat[1].Receipt != "accepted" {
		t.Fatalf("chat = %s", raw)
	}
}
