package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/redistest"
	"github.com/smsconv/smsconv/shared/store"
)

func newStore(t *testing.T) (*store.Store, *redistest.Server) {
	t.Helper()
	srv := redistest.Start(t)
	return store.New(srv.Client(), store.Options{Prefix: "t", HistoryLimit: 5}), srv
}

var (
	ctx = context.Background()
	k   = store.Key{Our: "+15550001000", User: "+12125551234"}
	t0  = time.Date(2026, 6, 18, 12, 0, 0, 0, time.UTC)
)

// step applies the seed dialog to one inbound message of conversation k through Load and Apply, as the
// worker does.
func step(t *testing.T, s *store.Store, id, text string) (store.CommitResult, conversation.Result, error) {
	t.Helper()
	return stepOn(t, s, k, id, text, time.Time{})
}

// stepAt is step with our clock at now (zero: time.Now).
func stepAt(t *testing.T, s *store.Store, id, text string, now time.Time) (store.CommitResult, conversation.Result, error) {
	t.Helper()
	return stepOn(t, s, k, id, text, now)
}

// stepOn is stepAt on conversation k.
func stepOn(t *testing.T, s *store.Store, k store.Key, id, text string, now time.Time) (store.CommitResult, conversation.Result, error) {
	t.Helper()
	l, err := s.Load(ctx, k, id, "r-"+id)
	if err != nil {
		t.Fatal(err)
	}
	c := l.Conversation
	if !l.Exists {
		c = conversation.New(t0)
	}
	res := conversation.Seed.Step(c, conversation.Inbound{Text: text}, t0)
	in := store.Message{ID: id, Direction: store.DirectionInbound, Our: k.Our, User: k.User, Text: text, Status: store.StatusReceived, CreatedAt: t0}
	reply := &store.Message{ID: "r-" + id, Direction: store.DirectionOutbound, Our: k.Our, User: k.User, Text: res.Reply, Status: store.StatusPending, CreatedAt: t0, ReplyTo: id}
	cr, err := s.Apply(ctx, store.Commit{Key: k, ExpectVersion: l.Version, Conversation: res.Conversation, Message: in, Reply: reply, Now: now})
	return cr, res, err
}

func TestCommitDedupAndHistory(t *testing.T) {
	s, _ := newStore(t)
	if cr, _, err := step(t, s, "m1", "hello"); err != nil || cr.Duplicate || cr.Version != 1 {
		t.Fatalf("first commit: %+v %v", cr, err)
	}
	if cr, _, err := step(t, s, "m1", "hello"); err != nil || !cr.Duplicate {
		t.Fatalf("same message again: %+v %v, want duplicate", cr, err)
	}
	if _, _, err := step(t, s, "m2", "info"); err != nil {
		t.Fatal(err)
	}
	c, err := s.Conversation(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != "informed" || c.MessageCount != 2 || !c.CreatedAt.Equal(t0) {
		t.Fatalf("stored conversation = %+v", c)
	}
	l, err := s.Load(ctx, k, "m2", "r-m2")
	if err != nil {
		t.Fatal(err)
	}
	if l.Message == nil || !l.Message.Committed || l.Reply == nil || l.Reply.Text != conversation.ReplyInfo || l.Reply.Status != store.StatusPending {
		t.Fatalf("Load after commit: message %+v reply %+v", l.Message, l.Reply)
	}
	h, err := s.History(ctx, k, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range h {
		got = append(got, m.Direction+":"+m.Text)
	}
	want := []string{"inbound:hello", "outbound:" + conversation.ReplyGreeting, "inbound:info", "outbound:" + conversation.ReplyInfo}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("history\n got %q\nwant %q", got, want)
	}
}

func TestCommitConflict(t *testing.T) {
	s, _ := newStore(t)
	if _, _, err := step(t, s, "m1", "hello"); err != nil {
		t.Fatal(err)
	}
	// A commit computed from a stale version must be refused and change nothing.
	cr, err := s.Apply(ctx, store.Commit{Key: k, ExpectVersion: 0, Conversation: conversation.New(t0),
		Message: store.Message{ID: "m9", Direction: store.DirectionInbound, CreatedAt: t0}})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale commit err = %v, want ErrConflict", err)
	}
	// It answers with the conversation as stored, as a load would read it.
	l, err := s.Load(ctx, k, "m9", "")
	if err != nil {
		t.Fatal(err)
	}
	if cr.Stored == nil || cr.Stored.Version != 1 || !cr.Stored.Exists || !reflect.DeepEqual(cr.Stored.Conversation, l.Conversation) {
		t.Fatalf("refused commit's Stored = %+v, want %+v at version 1", cr.Stored, l.Conversation)
	}
	if _, err := s.GetMessage(ctx, "m9"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused commit stored its message: %v", err)
	}
}

// A queued send's commit marks the record the ingress wrote as committed and keeps its status, whatever the
// committing worker last read: the status is the sending's to move, not the commit's.
func TestCommitOfAQueuedSendKeepsItsStatus(t *testing.T) {
	s, _ := newStore(t)
	send := store.Message{ID: "snd_1", Our: k.Our, User: k.User, Text: "Your order shipped", CreatedAt: t0}
	if err := s.QueueSend(ctx, send); err != nil {
		t.Fatal(err)
	}
	l, err := s.Load(ctx, k, "snd_1", "")
	if err != nil || l.Message == nil || l.Message.Status != store.StatusQueued {
		t.Fatalf("queued send: %+v %v", l.Message, err)
	}
	// The status moves after the worker's read (here a receipt's way of moving it).
	if err := s.UpdateMessage(ctx, "snd_1", store.Update{Key: k, Status: store.StatusSent, TelnyxID: "tx-9"}); err != nil {
		t.Fatal(err)
	}
	stale := *l.Message
	c := conversation.New(t0)
	c.MessageCount = 1
	if _, err := s.Apply(ctx, store.Commit{Key: k, ExpectVersion: l.Version, Conversation: c, Message: stale}); err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMessage(ctx, "snd_1")
	if err != nil || m.Status != store.StatusSent || !m.Committed || m.TelnyxID != "tx-9" || m.Text != send.Text {
		t.Fatalf("committed send: %+v %v; want status sent, committed, telnyx id and text kept", m, err)
	}
}

func TestUpdateAndTelnyxIndex(t *testing.T) {
	s, _ := newStore(t)
	if _, _, err := step(t, s, "m1", "hi"); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateMessage(ctx, "r-m1", store.Update{Status: store.StatusQueued, TelnyxID: "tx-1"}); err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMessage(ctx, "r-m1")
	if err != nil || m.TelnyxID != "tx-1" || m.Status != store.StatusQueued {
		t.Fatalf("updated reply: %+v %v", m, err)
	}
	// The Telnyx id is indexed: a receipt for it finds the reply.
	if out, id, err := s.ApplyReceipt(ctx, store.Receipt{TelnyxID: "tx-1", Status: store.StatusSent}); err != nil || out != store.ReceiptApplied || id != "r-m1" {
		t.Fatalf("receipt by telnyx id: %v %q %v", out, id, err)
	}
	if out, _, err := s.ApplyReceipt(ctx, store.Receipt{TelnyxID: "nope", Status: store.StatusSent}); err != nil || out != store.ReceiptUnknown {
		t.Fatalf("unknown telnyx id: %v %v", out, err)
	}
}

func TestListPaging(t *testing.T) {
	s, _ := newStore(t)
	for i := range 7 {
		kk := store.Key{Our: k.Our, User: fmt.Sprintf("+1212555%04d", i)}
		_, err := s.Apply(ctx, store.Commit{Key: kk, Conversation: conversation.New(t0),
			Message: store.Message{ID: fmt.Sprintf("m%d", i), Direction: store.DirectionInbound, CreatedAt: t0}})
		if err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	cursor := ""
	pages := 0
	for {
		page, next, err := s.List(ctx, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, c := range page {
			all = append(all, c.User)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if pages != 3 || len(all) != 7 || all[0] != "+12125550000" || all[6] != "+12125550006" {
		t.Fatalf("paged %d pages: %v", pages, all)
	}
}

func TestHistoryIsCapped(t *testing.T) {
	s, _ := newStore(t)
	for i := range 4 {
		if _, _, err := step(t, s, fmt.Sprintf("m%d", i), "help"); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.History(ctx, k, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 5 || h[4].ReplyTo != "m3" {
		t.Fatalf("history kept %d entries (want the last 5), last %+v", len(h), h[len(h)-1])
	}
}

func TestRedisDownIsAnError(t *testing.T) {
	s, srv := newStore(t)
	srv.Kill()
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := s.Load(c, k, "m1", "r-m1"); err == nil {
		t.Fatal("Load with Redis down succeeded")
	}
	srv.Restart()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

func TestReplyRateLimit(t *testing.T) {
	srv := redistest.Start(t)
	s := store.New(srv.Client(), store.Options{Prefix: "t", RepliesPerMinute: 2})
	var skipped []string
	for i := range 4 {
		cr, _, err := step(t, s, fmt.Sprintf("m%d", i), fmt.Sprintf("text %d", i))
		if err != nil {
			t.Fatal(err)
		}
		skipped = append(skipped, cr.Skipped)
	}
	if fmt.Sprint(skipped) != "[  rate_limited rate_limited]" {
		t.Fatalf("skipped per message = %q, want the 3rd and 4th over a limit of 2 per minute", skipped)
	}
	r, _ := s.GetMessage(ctx, "r-m3")
	c, _ := s.Conversation(ctx, k)
	if r.Status != store.StatusSkipped || r.ErrorCode != store.SkipRateLimited || r.ErrorTitle != store.RateLimitedTitle ||
		c.RateLimited != 2 || c.MessageCount != 4 {
		t.Fatalf("skipped reply %+v, conversation %+v: inbound must still be stored and counted", r, c)
	}
}

// The limit is a sliding window on our clock: 60 messages in 10 s across a minute boundary, with a limit of
// 30, get 30 replies (a fixed window per minute gave 60); a minute after the first reply there is room again.
func TestReplyRateLimitSlidesAcrossMinuteBoundaries(t *testing.T) {
	srv := redistest.Start(t)
	s := store.New(srv.Client(), store.Options{Prefix: "t", RepliesPerMinute: 30})
	start := time.Date(2026, 6, 18, 12, 0, 55, 0, time.UTC)
	answered := 0
	for i := range 60 {
		cr, _, err := stepAt(t, s, fmt.Sprintf("m%d", i), fmt.Sprintf("text %d", i), start.Add(time.Duration(i)*10*time.Second/60))
		if err != nil {
			t.Fatal(err)
		}
		if cr.Skipped == "" {
			answered++
		}
	}
	if answered != 30 {
		t.Fatalf("%d of 60 messages answered in 10 s across 12:01:00, want 30", answered)
	}
	if cr, _, err := stepAt(t, s, "later", "later", start.Add(61*time.Second)); err != nil || cr.Skipped != "" {
		t.Fatalf("a minute after the first reply: %+v %v, want answered", cr, err)
	}
	c, _ := s.Conversation(ctx, k)
	if c.RateLimited != 30 {
		t.Fatalf("rate_limited = %d, want 30", c.RateLimited)
	}
}

// The loop guard works without the rate limit: one text is sent LoopRepeats times, then skipped; another
// text still goes.
func TestLoopGuardStopsRepeatedReplies(t *testing.T) {
	srv := redistest.Start(t)
	s := store.New(srv.Client(), store.Options{Prefix: "t"})
	var got []string
	for i := range store.DefaultLoopRepeats + 2 {
		cr, _, err := step(t, s, fmt.Sprintf("m%d", i), "help")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, cr.Skipped)
	}
	want := make([]string, store.DefaultLoopRepeats+2)
	want[20], want[21] = store.SkipLoop, store.SkipLoop
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("skipped per message = %q, want the 21st and 22nd", got)
	}
	r, _ := s.GetMessage(ctx, "r-m21")
	if r.Status != store.StatusSkipped || r.ErrorCode != store.SkipLoop || r.ErrorTitle != store.LoopTitle {
		t.Fatalf("looping reply stored as %+v", r)
	}
	if cr, _, err := step(t, s, "other", "info"); err != nil || cr.Skipped != "" {
		t.Fatalf("another text: %+v %v, want answered", cr, err)
	}
}

// A message an older version committed under its raw id is a duplicate after the upgrade, and
// LegacyInbound finds it and its reply.
func TestLegacyCommitIsADuplicate(t *testing.T) {
	s, srv := newStore(t)
	// The records as the older version wrote them: keyed by the raw id alone, the reply as "r-m1".
	rdb := srv.Client()
	if err := rdb.HSet(ctx, "t:msg:m1", "id", "m1", "dir", "inbound", "our", k.Our, "user", k.User, "text", "hello",
		"status", "received", "created", t0.UnixMilli(), "committed", "1", "reply_id", "r-m1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HSet(ctx, "t:msg:r-m1", "id", "r-m1", "dir", "outbound", "our", k.Our, "user", k.User,
		"status", "pending", "created", t0.UnixMilli(), "reply_to", "m1").Err(); err != nil {
		t.Fatal(err)
	}
	l, err := s.Load(ctx, k, "in_m1", "rpl_m1:1")
	if err != nil {
		t.Fatal(err)
	}
	in := store.Message{ID: "in_m1", Direction: store.DirectionInbound, Our: k.Our, User: k.User, Text: "hello", CreatedAt: t0}
	cr, err := s.Apply(ctx, store.Commit{Key: k, ExpectVersion: l.Version, Conversation: l.Conversation, Message: in, LegacyID: "m1"})
	if err != nil || !cr.Duplicate {
		t.Fatalf("commit under the new key: %+v %v, want a duplicate", cr, err)
	}
	old, reply, err := s.LegacyInbound(ctx, "m1")
	if err != nil || old == nil || reply == nil || reply.ID != "r-m1" {
		t.Fatalf("LegacyInbound = %+v %+v %v", old, reply, err)
	}
	if old, _, err := s.LegacyInbound(ctx, "r-m1"); err != nil || old != nil {
		t.Fatalf("a reply record is no inbound message: %+v %v", old, err)
	}
}

func TestApplyReceipt(t *testing.T) {
	s, _ := newStore(t)
	if _, _, err := step(t, s, "m1", "hi"); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateMessage(ctx, "r-m1", store.Update{Status: store.StatusQueued, TelnyxID: "tx-1"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		r          store.Receipt
		want       store.ReceiptOutcome
		wantStatus string
	}{
		{"sent", store.Receipt{TelnyxID: "tx-1", Status: store.StatusSent}, store.ReceiptApplied, "sent"},
		{"sent again", store.Receipt{TelnyxID: "tx-1", Status: store.StatusSent}, store.ReceiptStale, "sent"},
		{"delivered", store.Receipt{TelnyxID: "tx-1", Status: store.StatusDelivered}, store.ReceiptApplied, "delivered"},
		{"late sent never overwrites delivered", store.Receipt{TelnyxID: "tx-1", Status: store.StatusSent}, store.ReceiptStale, "delivered"},
		{"failed after delivered is ignored", store.Receipt{TelnyxID: "tx-1", Status: store.StatusFailed, ErrorCode: "40002"}, store.ReceiptStale, "delivered"},
		{"unknown telnyx id", store.Receipt{TelnyxID: "tx-404", Status: store.StatusSent}, store.ReceiptUnknown, "delivered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := s.ApplyReceipt(ctx, tc.r)
			if err != nil || got != tc.want {
				t.Fatalf("ApplyReceipt = %v, %v; want %v", got, err, tc.want)
			}
			m, _ := s.GetMessage(ctx, "r-m1")
			if m.Status != tc.wantStatus {
				t.Fatalf("status %q, want %q", m.Status, tc.wantStatus)
			}
		})
	}
	if _, _, err := s.ApplyReceipt(ctx, store.Receipt{TelnyxID: "tx-1", Status: "bogus"}); err == nil {
		t.Fatal("unknown status accepted")
	}
}

func TestFailedReceiptKeepsError(t *testing.T) {
	s, _ := newStore(t)
	if _, _, err := step(t, s, "m1", "hi"); err != nil {
		t.Fatal(err)
	}
	_ = s.UpdateMessage(ctx, "r-m1", store.Update{Status: store.StatusQueued, TelnyxID: "tx-9"})
	if got, _, err := s.ApplyReceipt(ctx, store.Receipt{TelnyxID: "tx-9", Status: store.StatusFailed, ErrorCode: "40008", ErrorTitle: "Undeliverable"}); err != nil || got != store.ReceiptApplied {
		t.Fatalf("%v %v", got, err)
	}
	m, _ := s.GetMessage(ctx, "r-m1")
	if m.Status != "failed" || m.ErrorCode != "40008" || m.ErrorTitle != "Undeliverable" {
		t.Fatalf("failed receipt stored as %+v", m)
	}
}
