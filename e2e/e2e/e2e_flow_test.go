//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/stack"
	"github.com/smsconv/smsconv/shared/conversation"
)

// waitMessageStatus polls GET /conversations/{user} until the last outbound message has status want.
func waitLastOutbound(t *testing.T, c *stack.Client, user, want string) map[string]any {
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	for {
		var conv struct{ Messages []map[string]any }
		if status, _, err := c.Admin(ctx, "GET", "/conversations/"+user, nil, &conv); err == nil && status == 200 {
			for i := len(conv.Messages) - 1; i >= 0; i-- {
				if conv.Messages[i]["direction"] == "outbound" {
					if conv.Messages[i]["status"] == want {
						return conv.Messages[i]
					}
					break
				}
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("last outbound message to %s never reached status %q", user, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDeliveryReceiptsUpdateStatus(t *testing.T) {
	s, c := start(t, stack.Options{Workers: 1, SandboxEnv: []string{"SANDBOX_RECEIPTS=true", "SANDBOX_RECEIPT_DELAY=50ms"}})
	ctx := ctxT(t, time.Minute)
	user := "+12125550301"
	if status, _, err := c.PostWebhook(ctx, stack.Inbound("e-r1", "m-r1", user, s.OurNumber, "info", time.Now())); err != nil || status != 200 {
		t.Fatalf("webhook: %d %v", status, err)
	}
	msg := waitLastOutbound(t, c, user, "delivered")
	var byID map[string]any
	if status, _, err := c.Admin(ctx, "GET", "/messages/"+msg["id"].(string), nil, &byID); err != nil || status != 200 || byID["status"] != "delivered" {
		t.Fatalf("GET /messages/{id}: %d %v %v", status, byID, err)
	}
}

func TestTelnyxOptOut40300(t *testing.T) {
	s, c := start(t, stack.Options{Workers: 1})
	ctx := ctxT(t, time.Minute)
	user := "+12125550302"
	if err := c.Faults(ctx, map[string]any{"opt_out": user}); err != nil {
		t.Fatal(err)
	}
	if status, _, err := c.PostWebhook(ctx, stack.Inbound("e-o1", "m-o1", user, s.OurNumber, "hello", time.Now())); err != nil || status != 200 {
		t.Fatalf("webhook: %d %v", status, err)
	}
	msg := waitLastOutbound(t, c, user, "blocked")
	if msg["error_code"] != "40300" {
		t.Fatalf("blocked reply %v", msg)
	}
	var list []map[string]any
	if _, _, err := c.Admin(ctx, "GET", "/conversations", nil, &list); err != nil || len(list) != 1 || list[0]["opted_out"] != true {
		t.Fatalf("conversation not marked opted out: %v %v", list, err)
	}
	var sendErr map[string]string
	if status, _, _ := c.Admin(ctx, "POST", "/sms/send", map[string]string{"to": user, "message": "promo"}, &sendErr); status != 409 || !strings.Contains(sendErr["error"], "opted out") {
		t.Fatalf("send to opted-out number: %d %v", status, sendErr)
	}
	var dls []any
	if _, _, err := c.Admin(ctx, "GET", "/dead-letters", nil, &dls); err != nil || len(dls) != 0 {
		t.Fatalf("an opt-out must not be dead-lettered: %v %v", dls, err)
	}
}

func TestMediaOnlyMMSIsAnsweredByTheFlow(t *testing.T) {
	s, c := start(t, stack.Options{Workers: 1})
	ctx := ctxT(t, time.Minute)
	user := "+12125550303"
	body := []byte(fmt.Sprintf(`{"data":{"event_type":"message.received","id":"e-mms","occurred_at":"2026-06-18T12:00:00Z","record_type":"event",
	"payload":{"id":"m-mms","direction":"inbound","type":"MMS","from":{"phone_number":%q},"to":[{"phone_number":%q}],"text":"",
	"media":[{"url":"https://media.example/cat.jpg","content_type":"image/jpeg","size":48213,"hash_sha256":"ab"}]}},"meta":{"attempt":1}}`, user, s.OurNumber))
	if status, raw, err := c.PostWebhook(ctx, body); err != nil || status != 200 {
		t.Fatalf("webhook: %d %s %v", status, raw, err)
	}
	got, err := c.WaitDelivered(ctx, user, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Text == "" {
		t.Fatal("empty reply to an MMS")
	}
	var conv struct{ Messages []map[string]any }
	if _, _, err := c.Admin(ctx, "GET", "/conversations/"+user, nil, &conv); err != nil || len(conv.Messages) == 0 {
		t.Fatalf("conversation: %v %v", conv, err)
	}
	media, _ := conv.Messages[0]["media"].([]any)
	if len(media) != 1 || media[0].(map[string]any)["content_type"] != "image/jpeg" {
		t.Fatalf("inbound media not stored: %v", conv.Messages[0])
	}
}

func TestFlowFileDrivesTheWorker(t *testing.T) {
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	flowFile := filepath.Join(root, "deploy", "flows", "appointment.yaml")
	if _, err := os.Stat(flowFile); err != nil {
		t.Fatal(err)
	}
	s, c := start(t, stack.Options{Workers: 1, WorkerEnv: []string{"FLOW_FILE=" + flowFile}})
	ctx := ctxT(t, time.Minute)
	user := "+12125550304"
	if status, _, err := c.PostWebhook(ctx, stack.Inbound("e-f1", "m-f1", user, s.OurNumber, "hello", time.Now())); err != nil || status != 200 {
		t.Fatalf("webhook: %d %v", status, err)
	}
	got, err := c.WaitDelivered(ctx, user, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Text == conversation.ReplyGreeting {
		t.Fatalf("worker answered with the seed dialog, not the FLOW_FILE flow: %q", got[0].Text)
	}
	var list []map[string]any
	if _, _, err := c.Admin(ctx, "GET", "/conversations", nil, &list); err != nil || len(list) != 1 || list[0]["flow_version"] != "appointment-1" {
		t.Fatalf("conversation flow version: %v %v", list, err)
	}
}

func TestInvalidFlowFileStopsTheWorker(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\nversion: \"1\"\nstates: [new]\nrules:\n  - keywords: [hi]\n    next: nowhere\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := stack.Options{Workers: 1, WorkerEnv: []string{"FLOW_FILE=" + bad}, Dir: t.TempDir()}
	s, err := stack.Start(ctxT(t, time.Minute), bins, o)
	if err == nil {
		s.Close()
		t.Fatal("a worker with an invalid flow started")
	}
	if !strings.Contains(err.Error(), "bad.yaml:6") || !strings.Contains(err.Error(), "nowhere") {
		t.Fatalf("start-up error does not name the file, line and problem: %v", err)
	}
}

func TestIdleConversationExpires(t *testing.T) {
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	def, err := os.ReadFile(filepath.Join(root, "shared", "flow", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	flowFile := filepath.Join(t.TempDir(), "expiring.yaml")
	if err := os.WriteFile(flowFile, []byte(strings.Replace(string(def), "expiry: off", "expiry: 1h", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, c := start(t, stack.Options{Workers: 1, WorkerEnv: []string{"FLOW_FILE=" + flowFile}})
	ctx := ctxT(t, time.Minute)
	user := "+12125550305"
	t0 := time.Date(2026, 6, 18, 12, 0, 0, 0, time.UTC)
	// The conversation's clock is Telnyx's received_at: two hours pass between the second and third message.
	for i, m := range []struct {
		text string
		at   time.Time
	}{{"hello", t0}, {"info", t0.Add(time.Minute)}, {"status", t0.Add(2 * time.Hour)}} {
		if status, _, err := c.PostWebhook(ctx, stack.Inbound(fmt.Sprintf("e-x%d", i), fmt.Sprintf("m-x%d", i), user, s.OurNumber, m.text, m.at)); err != nil || status != 200 {
			t.Fatalf("webhook %d: %d %v", i, status, err)
		}
	}
	got, err := c.WaitDelivered(ctx, user, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := "Conversation started: 2026-06-18 14:00\nMessages exchanged: 1\nCurrent state: new"
	if got[2].Text != want {
		t.Fatalf("status after two idle hours:\n got %q\nwant %q (a fresh conversation)", got[2].Text, want)
	}
}

func TestReceiptsThroughTheIngressOutOfOrderAndTwice(t *testing.T) {
	s, c := start(t, stack.Options{Workers: 1})
	ctx := ctxT(t, time.Minute)
	user := "+12125550306"
	if status, _, err := c.PostWebhook(ctx, stack.Inbound("e-d1", "m-d1", user, s.OurNumber, "hi", time.Now())); err != nil || status != 200 {
		t.Fatalf("webhook: %d %v", status, err)
	}
	got, err := c.WaitDelivered(ctx, user, 1)
	if err != nil {
		t.Fatal(err)
	}
	waitLastOutbound(t, c, user, "queued")
	receipt := func(eventID, typ, status string) []byte {
		return []byte(fmt.Sprintf(`{"data":{"event_type":%q,"id":%q,"occurred_at":%q,"record_type":"event","payload":{"id":%q,
		"direction":"outbound","from":{"phone_number":%q},"to":[{"phone_number":%q,"status":%q}],"errors":[]}},"meta":{"attempt":1}}`,
			typ, eventID, time.Now().UTC().Format(time.RFC3339), got[0].ID, s.OurNumber, user, status))
	}
	for _, r := range [][]byte{
		receipt("e-fin", "message.finalized", "delivered"),
		receipt("e-sent", "message.sent", "sent"),
		receipt("e-sent", "message.sent", "sent"),  // the same event again
		receipt("e-sent2", "message.sent", "sent"), // a late duplicate under a new id
	} {
		if status, raw, err := c.PostWebhook(ctx, r); err != nil || status != 200 {
			t.Fatalf("receipt: %d %s %v", status, raw, err)
		}
	}
	waitLastOutbound(t, c, user, "delivered")
	// Every receipt handled, the late ones too: the status must still be delivered.
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	waitLastOutbound(t, c, user, "delivered") // still delivered: the late "sent" did not overwrite it
}

// TestSandboxSayAfterStop runs `sandbox say` as a user would against the real worker: after STOP the worker
// blocks replies, which say reports as blocked (not as a lost reply), and UNSTOP is confirmed as opting back in.
func TestSandboxSayAfterStop(t *testing.T) {
	s, _ := start(t, stack.Options{Workers: 1})
	say := func(t *testing.T, text string, want ...string) {
		t.Helper()
		cmd := exec.CommandContext(ctxT(t, time.Minute), s.Sandbox.Path, "say", "--url", s.SandboxURL,
			"--from", "+12125550307", "--wait", "5s", text)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sandbox say %q: %v\n%s", text, err, out)
		}
		for _, w := range want {
			if !strings.Contains(string(out), w) {
				t.Errorf("sandbox say %q printed %q, want it to contain %q", text, out, w)
			}
		}
	}
	say(t, "hello", conversation.ReplyGreeting)
	say(t, "stop", "[opted out]")
	say(t, "hello", "[blocked]", "opted out")
	say(t, "unstop", "[opted in]")
	say(t, "hello", conversation.ReplyGreeting)
}
