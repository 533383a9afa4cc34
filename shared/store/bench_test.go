package store_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/redistest"
	"github.com/smsconv/smsconv/shared/store"
)

// benchConversations is how many conversations the benchmarks spread their messages over, so the hashes and
// history lists have realistic sizes rather than one hot key.
const benchConversations = 1000

type benchConv struct {
	key store.Key
	ver int64
	c   conversation.Conversation
}

func benchStore(b *testing.B) (*store.Store, []benchConv) {
	b.Helper()
	srv := redistest.Start(b)
	s := store.New(srv.Client(), store.Options{Prefix: "b", HistoryLimit: 50})
	convs := make([]benchConv, benchConversations)
	for i := range convs {
		convs[i] = benchConv{key: store.Key{Our: "+15550001000", User: "+1212555" + strconv.Itoa(1_000_000 + i)[1:]},
			c: conversation.New(t0)}
	}
	return s, convs
}

// commitOne is the worker's commit for one inbound message: the dialog step and the Lua script.
func commitOne(ctx context.Context, s *store.Store, cv *benchConv, id string, now time.Time) error {
	res := conversation.Seed.Step(cv.c, conversation.Inbound{Text: "hello"}, now)
	in := store.Message{ID: id, Direction: store.DirectionInbound, Our: cv.key.Our, User: cv.key.User, Text: "hello",
		Status: store.StatusReceived, CreatedAt: now}
	reply := &store.Message{ID: "rpl_" + id, Direction: store.DirectionOutbound, Our: cv.key.Our, User: cv.key.User,
		Text: res.Reply, Status: store.StatusPending, CreatedAt: now, ReplyTo: id}
	cr, err := s.Apply(ctx, store.Commit{Key: cv.key, ExpectVersion: cv.ver, Conversation: res.Conversation, Message: in, Reply: reply})
	if err != nil {
		return err
	}
	if cr.Duplicate {
		return fmt.Errorf("commit %s: reported as a duplicate", id)
	}
	cv.ver, cv.c = cr.Version, res.Conversation
	return nil
}

// BenchmarkCommit is the Lua transition alone: dedup check, version check, state, message, reply and
// history in one script (one round trip).
func BenchmarkCommit(b *testing.B) {
	s, convs := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := commitOne(ctx, s, &convs[i%len(convs)], "m"+strconv.Itoa(i), t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadAndCommit is what the worker does per inbound message in Redis: Load (one pipelined round
// trip) then the commit script.
func BenchmarkLoadAndCommit(b *testing.B) {
	s, convs := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		cv := &convs[i%len(convs)]
		id := "m" + strconv.Itoa(i)
		l, err := s.Load(ctx, cv.key, id, "")
		if err != nil {
			b.Fatal(err)
		}
		if l.Exists {
			cv.c, cv.ver = l.Conversation, l.Version
		}
		if err := commitOne(ctx, s, cv, id, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommitParallel runs commits from 32 goroutines per core on distinct conversations, as a worker
// with many conversations in flight does. Redis runs scripts one at a time but fsyncs the append-only file
// once per batch of writes, so concurrent commits share the fsync.
func BenchmarkCommitParallel(b *testing.B) {
	s, _ := benchStore(b)
	ctx := context.Background()
	next := make(chan int, 1)
	next <- 0
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		g := <-next
		next <- g + 1
		cv := &benchConv{key: store.Key{Our: "+15550001000", User: "+1312555" + strconv.Itoa(10_000 + g)[1:]}, c: conversation.New(t0)}
		for i := 0; pb.Next(); i++ {
			if err := commitOne(ctx, s, cv, "p"+strconv.Itoa(g)+"-"+strconv.Itoa(i), t0); err != nil {
				b.Error(err) // not Fatal: this is not the benchmark's goroutine
				return
			}
		}
	})
}
