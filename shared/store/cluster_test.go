package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smsconv/smsconv/shared/redistest"
	"github.com/smsconv/smsconv/shared/store"
)

// TestOnRedisCluster runs the store on a real Redis Cluster (three masters, three replicas): a script or a
// transaction that spans hash slots would fail there with CROSSSLOT. Conversations spread over the masters;
// the dialog, by-id reads, receipts, queued sends, the rate limit and the listing's paging all work.
func TestOnRedisCluster(t *testing.T) {
	cl := redistest.StartCluster(t)
	rdb := cl.Client()
	s := store.New(rdb, store.Options{Prefix: "c", RepliesPerMinute: 3})
	keys := make([]store.Key, 12)
	for i := range keys {
		keys[i] = store.Key{Our: "+15550001000", User: fmt.Sprintf("+1212555%04d", 100+i)}
	}
	commit := func(t *testing.T, kk store.Key, id, text string) store.CommitResult {
		t.Helper()
		cr, _, err := stepOn(t, s, kk, id, text, time.Time{})
		if err != nil {
			t.Fatalf("commit %s on the cluster: %v", id, err)
		}
		return cr
	}

	t.Run("a script across slots is refused, which the layout avoids", func(t *testing.T) {
		err := redis.NewScript("return 1").Run(context.Background(), rdb, []string{"c:conv:{a}", "c:conv:{b}"}).Err()
		if err == nil || !redis.HasErrorPrefix(err, "CROSSSLOT") {
			t.Fatalf("cross-slot script: %v, want CROSSSLOT", err)
		}
	})
	t.Run("conversations spread over the masters", func(t *testing.T) {
		masters := map[string]bool{}
		for _, kk := range keys {
			masters[cl.MasterOf("c:conv:{"+kk.Our+"|"+kk.User+"}").Addr] = true
		}
		if len(masters) < 2 {
			t.Fatalf("all %d conversations hash to one master: the test would not cross slots", len(keys))
		}
	})
	t.Run("dialog, dedup and history", func(t *testing.T) {
		for i, kk := range keys {
			for j, text := range []string{"hello", "info", "status"} {
				if cr := commit(t, kk, fmt.Sprintf("m%d-%d", i, j), text); cr.Duplicate {
					t.Fatalf("first commit of m%d-%d seen as a duplicate", i, j)
				}
			}
			if cr := commit(t, kk, fmt.Sprintf("m%d-0", i), "hello"); !cr.Duplicate {
				t.Fatalf("redelivered m%d-0 not a duplicate", i)
			}
			c, err := s.Conversation(ctx, kk)
			if err != nil || c.State != "informed" || c.MessageCount != 3 {
				t.Fatalf("conversation %v: %+v %v", kk, c, err)
			}
			h, err := s.History(ctx, kk, 10)
			if err != nil || len(h) != 6 {
				t.Fatalf("history of %v: %d messages, %v", kk, len(h), err)
			}
		}
	})
	t.Run("by id: update, receipt, get", func(t *testing.T) {
		id := "r-m3-0"
		if err := s.UpdateMessage(ctx, id, store.Update{Status: store.StatusQueued, TelnyxID: "tx-c1"}); err != nil {
			t.Fatal(err)
		}
		if out, got, err := s.ApplyReceipt(ctx, store.Receipt{TelnyxID: "tx-c1", Status: store.StatusDelivered}); err != nil || out != store.ReceiptApplied || got != id {
			t.Fatalf("receipt: %v %q %v", out, got, err)
		}
		if m, err := s.GetMessage(ctx, id); err != nil || m.Status != store.StatusDelivered || m.User != keys[3].User {
			t.Fatalf("GetMessage: %+v %v", m, err)
		}
		if n, err := s.CountSendFailure(ctx, id); err != nil || n != 1 {
			t.Fatalf("CountSendFailure: %d %v", n, err)
		}
	})
	t.Run("queued send", func(t *testing.T) {
		m := store.Message{ID: "snd_c1", Our: keys[5].Our, User: keys[5].User, Text: "Your order shipped", CreatedAt: t0}
		if err := s.QueueSend(ctx, m); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetMessage(ctx, m.ID); err != nil || got.Status != store.StatusQueued {
			t.Fatalf("queued send: %+v %v", got, err)
		}
		if err := s.DeleteMessage(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetMessage(ctx, m.ID); err == nil {
			t.Fatal("deleted send still readable")
		}
	})
	t.Run("rate limit", func(t *testing.T) {
		// Three replies were committed per user this minute; the limit is 3, so the next is skipped.
		if cr := commit(t, keys[0], "m0-3", "help"); cr.Skipped != store.SkipRateLimited {
			t.Fatalf("fourth reply in a minute not limited: %+v", cr)
		}
	})
	t.Run("listing pages in a stable order while conversations are added", func(t *testing.T) {
		var got []string
		cursor := ""
		for page := 0; ; page++ {
			list, next, err := s.List(ctx, cursor, 5)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range list {
				got = append(got, c.User)
			}
			if page == 0 {
				// Added before the cursor (sorts first) and after it: the first is not listed, the second is.
				commit(t, store.Key{Our: "+15550001000", User: "+12125550001"}, "early", "hi")
				commit(t, store.Key{Our: "+15550001000", User: "+12125559999"}, "late", "hi")
			}
			if next == "" {
				break
			}
			cursor = next
		}
		var want []string
		for _, kk := range keys {
			want = append(want, kk.User)
		}
		want = append(want, "+12125559999")
		if !slices.Equal(got, want) {
			t.Fatalf("listed %v, want %v", got, want)
		}
	})
}
