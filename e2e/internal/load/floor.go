package load

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/smsconv/smsconv/e2e/internal/stack"
	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/ids"
	"github.com/smsconv/smsconv/shared/store"
)

// SystemFloor is the closed loop's fourth system: a NATS and a Redis server alone, doing the least any design
// with smsconv's guarantees asks of them for one message, driven from the load tool, whose own CPU is not
// counted.
const SystemFloor = "floor"

// Process names of the floor's servers, in logs; in the report they count as NATS and Redis.
const (
	procFloorNATS  = "floor-nats"
	procFloorRedis = "floor-redis"
)

// floor drives its own NATS and Redis servers, started as the stack's are, with one message's essential work
// and nothing else:
//   - the ingress's half: one publish with its deduplication id to the conversation stream (made by
//     events.EnsureStreams, as the ingress makes it), waiting for the acknowledgement;
//   - the worker's half: the delivery through a partition consumer (events.EnsureConsumers), the commit (the
//     same script and pipeline, the reply marked as sending) and the ack.
//
// It leaves out what smsconv's features add on top: the record of Telnyx's id after the send, the console's
// change notices, and the HTTP of the webhook and of the send. What the two servers spend here is a floor
// under what they spend for smsconv, whatever the code around them. They are servers of their own so that
// the floor's data does not grow the stack's Redis, which would make smsconv's runs dearer.
type floor struct {
	natsProc, redisProc *stack.Proc
	nc                  *nats.Conn
	js                  jetstream.JetStream
	rdb                 *redis.Client
	store               *store.Store
	our                 string
	waiters             *waiters
	consume             []jetstream.ConsumeContext
}

// startFloor starts the floor's servers in dir, makes the stream and its partition consumers as the services
// do, and starts consuming.
func startFloor(ctx context.Context, bins stack.Binaries, dir string, partitions int, our string, w *waiters) (f *floor, err error) {
	f = &floor{our: our, waiters: w}
	defer func() {
		if err != nil {
			f.stop()
			err = fmt.Errorf("floor: %w", err)
		}
	}()
	ports := make([]int, 3)
	for i := range ports {
		if ports[i], err = stack.FreePort(); err != nil {
			return f, err
		}
	}
	natsProc, natsURL, err := stack.NATSProc(bins, dir, procFloorNATS, ports[0], ports[1])
	if err != nil {
		return f, err
	}
	redisProc, redisURL, err := stack.RedisProc(dir, procFloorRedis, ports[2])
	if err != nil {
		return f, err
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := natsProc.Start(sctx); err != nil {
		return f, err
	}
	f.natsProc = natsProc
	if err := redisProc.Start(sctx); err != nil {
		return f, err
	}
	f.redisProc = redisProc
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return f, err
	}
	f.rdb = redis.NewClient(opt)
	f.store = store.New(f.rdb, store.Options{Prefix: "floor"})
	if f.nc, f.js, err = connectNATS(natsURL); err != nil {
		return f, err
	}
	o := events.DefaultStreamOptions()
	o.Partitions = partitions
	if err := events.EnsureStreams(sctx, f.js, o); err != nil {
		return f, err
	}
	if err := events.EnsureConsumers(sctx, f.js, o); err != nil {
		return f, err
	}
	for p := range partitions {
		cons, err := f.js.Consumer(sctx, events.StreamConversations, events.PartitionConsumer(p))
		if err != nil {
			return f, err
		}
		c, err := cons.Consume(f.handle)
		if err != nil {
			return f, err
		}
		f.consume = append(f.consume, c)
	}
	return f, nil
}

func (f *floor) stop() {
	for _, c := range f.consume {
		c.Stop()
	}
	if f.nc != nil {
		f.nc.Close()
	}
	if f.rdb != nil {
		f.rdb.Close()
	}
	for _, p := range []*stack.Proc{f.natsProc, f.redisProc} {
		if p != nil {
			p.Stop(10 * time.Second)
		}
	}
}

// send is the ingress's half for one user's message.
func (f *floor) send(ctx context.Context, user, id string, now time.Time) error {
	m := events.Message{Kind: events.KindInbound, ID: ids.Inbound("m" + id), EventID: "e" + id, OurNumber: f.our,
		UserNumber: user, Text: "hello", ReceivedAt: now, AcceptedAt: now, Attempt: 1}
	msg := nats.NewMsg(events.ConversationSubject(f.our, user))
	msg.Data = m.Encode()
	msg.Header.Set(jetstream.MsgIDHeader, "e"+id)
	_, err := f.js.PublishMsg(ctx, msg)
	return err
}

// handle is the worker's half. Each message is a new user's, so nothing orders them: each commits on its own
// goroutine, as a worker runs many conversations at once, and concurrent commits share Redis round trips.
func (f *floor) handle(msg jetstream.Msg) { go f.commit(msg) }

// commit commits msg, acks it and tells the waiting client.
func (f *floor) commit(msg jetstream.Msg) {
	m, err := events.Decode(msg.Data())
	if err != nil {
		_ = msg.Term()
		return
	}
	now := time.Now()
	res := conversation.Seed.Step(conversation.New(now), conversation.Inbound{Text: m.Text}, now)
	key := store.Key{Our: m.OurNumber, User: m.UserNumber}
	in := store.Message{ID: m.ID, Direction: store.DirectionInbound, Our: key.Our, User: key.User, Text: m.Text,
		Status: store.StatusReceived, CreatedAt: m.ReceivedAt}
	reply := &store.Message{ID: ids.Reply(m.ID, 1), Direction: store.DirectionOutbound, Our: key.Our, User: key.User,
		Text: res.Reply, Status: store.StatusPending, CreatedAt: now, ReplyTo: m.ID}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.store.Apply(ctx, store.Commit{Key: key, Conversation: res.Conversation, Message: in, Reply: reply,
		Now: now, Sending: &store.SendMark{Encoding: "GSM-7", Parts: 1}}); err != nil {
		_ = msg.Nak() // the client counts a timeout
		return
	}
	_ = msg.Ack()
	f.waiters.deliver(m.UserNumber)
}

// cpu is the CPU of the two servers alone, named as the stack's.
func (f *floor) cpu() cpuSnapshot {
	return snapshotProcs(map[string]*stack.Proc{procNATS: f.natsProc, procRedis: f.redisProc})
}
