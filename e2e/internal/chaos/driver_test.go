package chaos

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"
)

// fakeIngress answers webhooks as the ingress does, with scripted failures.
type fakeIngress struct {
	mu       sync.Mutex
	fail     []int // statuses to answer before accepting (0 = no answer at all)
	events   map[string]bool
	messages []string // message ids accepted, in order (duplicates excluded)
	byUser   map[string][]string
}

func (f *fakeIngress) PostWebhook(_ context.Context, body []byte) (int, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.fail) > 0 {
		s := f.fail[0]
		f.fail = f.fail[1:]
		if s == 0 {
			return 0, nil, context.DeadlineExceeded
		}
		return s, []byte(`{"error":"queue unavailable, retry later"}`), nil
	}
	var wh struct {
		Data struct {
			ID      string
			Payload struct {
				ID   string
				From struct {
					PhoneNumber string `json:"phone_number"`
				}
			}
		}
	}
	if err := json.Unmarshal(body, &wh); err != nil {
		return http.StatusBadRequest, nil, nil
	}
	if f.events[wh.Data.ID] {
		return http.StatusOK, []byte(`{"status":"duplicate"}`), nil
	}
	f.events[wh.Data.ID] = true
	f.messages = append(f.messages, wh.Data.Payload.ID)
	u := wh.Data.Payload.From.PhoneNumber
	f.byUser[u] = append(f.byUser[u], wh.Data.Payload.ID)
	return http.StatusOK, []byte(`{"status":"queued"}`), nil
}

func TestDriverRetriesAndKeepsEachConversationInOrder(t *testing.T) {
	convs := Plan("d", 20, 5, true, t0)
	ing := &fakeIngress{fail: []int{503, 503, 0, 503}, events: map[string]bool{}, byUser: map[string][]string{}}
	o := DefaultOptions()
	o.Concurrency, o.Duration, o.Gap, o.DuplicateRate = 8, 50*time.Millisecond, time.Millisecond, 0.5
	tr := newTraffic()
	d := &driver{c: ing, our: "+13125550100", o: o, t: tr, seed: 3}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d.run(ctx, convs)

	if got := tr.accepted.Load(); got != 120 {
		t.Errorf("accepted %d, want 120", got)
	}
	if got := tr.unavailable.Load(); got != 3 {
		t.Errorf("503s counted %d, want 3", got)
	}
	if got := tr.errors.Load(); got != 1 {
		t.Errorf("unanswered counted %d, want 1", got)
	}
	if tr.dupPosts.Load() == 0 || tr.dupAnswered.Load() == 0 || tr.dupAnswered.Load() >= tr.dupPosts.Load() {
		t.Errorf("duplicates posted %d, answered duplicate %d: want both kinds (same event and new event)",
			tr.dupPosts.Load(), tr.dupAnswered.Load())
	}
	for _, c := range convs {
		got := ing.byUser[c.User]
		// A duplicate under a new event id follows its original; drop repeats to get the first-seen order.
		var order []string
		seen := map[string]bool{}
		for _, id := range got {
			if !seen[id] {
				seen[id] = true
				order = append(order, id)
			}
		}
		if len(order) != len(c.Messages) {
			t.Fatalf("%s: ingress saw %d distinct messages, want %d", c.User, len(order), len(c.Messages))
		}
		for i, m := range c.Messages {
			if order[i] != m.MsgID {
				t.Fatalf("%s: message %d accepted as %s, want %s (in order)", c.User, i, order[i], m.MsgID)
			}
		}
	}
}

func TestDriverCountsRejections(t *testing.T) {
	convs := Plan("d", 1, 2, false, t0)
	ing := &fakeIngress{fail: []int{401}, events: map[string]bool{}, byUser: map[string][]string{}}
	o := DefaultOptions()
	o.Concurrency, o.Duration, o.Gap, o.DuplicateRate = 1, time.Millisecond, 0, 0
	tr := newTraffic()
	(&driver{c: ing, our: "+13125550100", o: o, t: tr, seed: 1}).run(context.Background(), convs)
	if tr.rejected.Load() != 1 || tr.accepted.Load() != 1 {
		t.Fatalf("rejected %d accepted %d, want 1 and 1", tr.rejected.Load(), tr.accepted.Load())
	}
	if ids := tr.acceptedIDs(); ids[convs[0].Messages[0].MsgID] || !ids[convs[0].Messages[1].MsgID] {
		t.Fatalf("accepted ids %v: want only the second message", ids)
	}
}
