package membership

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/smsconv/smsconv/shared/natstest"
)

func TestAssignCoversEveryPartitionOnce(t *testing.T) {
	tests := []struct {
		name    string
		members []string
		n       int
	}{
		{"one worker", []string{"w1"}, 16},
		{"three workers", []string{"w1", "w2", "w3"}, 16},
		{"eight workers", []string{"a", "b", "c", "d", "e", "f", "g", "h"}, 64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			count := map[int]int{}
			for _, m := range tc.members {
				for _, p := range Assign(tc.members, tc.n, m) {
					count[p]++
				}
			}
			for p := range tc.n {
				if count[p] != 1 {
					t.Fatalf("partition %d owned %d times", p, count[p])
				}
			}
		})
	}
}

func TestAssignMovesOnlyWhatItMust(t *testing.T) {
	before := []string{"w1", "w2", "w3"}
	after := []string{"w1", "w2", "w3", "w4"}
	moved := 0
	for p := range 64 {
		o1, o2 := Owner(before, p), Owner(after, p)
		if o1 != o2 {
			moved++
			if o2 != "w4" {
				t.Fatalf("partition %d moved from %s to %s; only moves to the new member are allowed", p, o1, o2)
			}
		}
	}
	if moved == 0 || moved > 32 {
		t.Fatalf("%d of 64 partitions moved to the new member; want a fair share", moved)
	}
}

func TestGroupsAgreeAndRebalance(t *testing.T) {
	srv := natstest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	type worker struct {
		cancel context.CancelFunc
		mu     sync.Mutex
		owned  []int
	}
	start := func(id string) *worker {
		nc, err := nats.Connect(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		w := &worker{}
		ctx, cancel := context.WithCancel(context.Background())
		w.cancel = cancel
		t.Cleanup(cancel)
		g := New(nc, id, 8, 50*time.Millisecond, log)
		go func() {
			_ = g.Run(ctx, func(o []int) { w.mu.Lock(); w.owned = o; w.mu.Unlock() })
		}()
		return w
	}
	owned := func(ws ...*worker) string {
		var all []int
		for _, w := range ws {
			w.mu.Lock()
			all = append(all, w.owned...)
			w.mu.Unlock()
		}
		slices.Sort(all)
		return fmt.Sprint(all)
	}
	want := "[0 1 2 3 4 5 6 7]"
	waitFor := func(ws ...*worker) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for owned(ws...) != want {
			if time.Now().After(deadline) {
				t.Fatalf("partitions not covered exactly once: %s", owned(ws...))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	a, b := start("a"), start("b")
	waitFor(a, b)
	c := start("c")
	waitFor(a, b, c)
	c.cancel() // departs with "bye": the others take its partitions
	waitFor(a, b)
}

// TestHeartbeatsNeverWaitForOnChange: however long applying an assignment takes (consumers starting against
// a slow JetStream API), the worker keeps announcing itself, so its peers never think it dead.
func TestHeartbeatsNeverWaitForOnChange(t *testing.T) {
	srv := natstest.Start(t)
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	watch, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	beats := make(chan *nats.Msg, 64)
	sub, err := watch.ChanSubscribe(Subject, beats)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}

	inOnChange, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	g := New(nc, "w1", 16, 20*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- g.Run(ctx, func([]int) {
			once.Do(func() { close(inOnChange) })
			<-release // stuck, as a reconcile against an unresponsive JetStream would be
		})
	}()
	deadline := time.After(20 * time.Second)
	select {
	case <-inOnChange:
	case <-deadline:
		t.Fatal("onChange was never called")
	}
	for n := 0; n < 5; {
		select {
		case m := <-beats:
			if string(m.Data) == "hb w1" {
				n++
			}
		case <-deadline:
			t.Fatalf("%d heartbeats while onChange was blocked, want 5: heartbeats wait for the assignment", n)
		}
	}
	close(release)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
