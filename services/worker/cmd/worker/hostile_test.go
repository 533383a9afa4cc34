package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/ids"
	"github.com/smsconv/smsconv/shared/natstest"
	"github.com/smsconv/smsconv/shared/platform/platformtest"
	"github.com/smsconv/smsconv/shared/redistest"
	"github.com/smsconv/smsconv/shared/sms"
	"github.com/smsconv/smsconv/shared/store"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
	"github.com/smsconv/smsconv/shared/telnyx/telnyxtest"
)

// Our numbers in the hostile-input tests: replies go from ourA; ourB is our other number.
const (
	ourA = "+12125550100"
	ourB = "+13125550100"
)

// worker is the real worker binary's run, against real NATS JetStream, a real redis-server and the fake
// Telnyx, with what a test needs to feed it and to look at what it did.
type worker struct {
	t     *testing.T
	js    jetstream.JetStream
	fake  *telnyxtest.Server
	store *store.Store
	// rdb is the Redis the worker uses, for writing records as an older version left them.
	rdb *redis.Client
}

const hostilePartitions = 4

func startWorker(t *testing.T, extra ...string) *worker {
	t.Helper()
	nats, rds := natstest.Start(t), redistest.Start(t)
	streamsOf(t, nats, hostilePartitions)
	_, js := nats.Connect(t)
	fake := telnyxtest.NewServer(t, fakeapi.Options{APIKey: "sandbox"})
	env := append(environ(nats.URL, rds.URL, hostilePartitions), "TELNYX_API_KEY=sandbox",
		"TELNYX_API_URL="+fake.BaseURL(), "TELNYX_PHONE_NUMBER="+ourA+","+ourB, "WORKER_HEARTBEAT=100ms")
	env = append(env, extra...)
	platformtest.Start(t, "worker", func(ctx context.Context, logOut io.Writer) error {
		return command().Run(ctx, nil, env, io.Discard, logOut)
	})
	rdb := rds.Client()
	return &worker{t: t, js: js, fake: fake, store: store.New(rdb, store.Options{Prefix: "sms"}), rdb: rdb}
}

// inbound is what the ingress publishes for a text from user to our number.
type inbound struct {
	id, from, to, text string
	media              int
}

func (w *worker) publish(in inbound) {
	w.t.Helper()
	to := in.to
	if to == "" {
		to = ourA
	}
	m := events.Message{Kind: events.KindInbound, ID: in.id, EventID: "evt-" + in.id, OurNumber: to, UserNumber: in.from,
		Text: in.text, AcceptedAt: time.Now().UTC()}
	for i := range in.media {
		m.Media = append(m.Media, conversation.Media{URL: fmt.Sprintf("https://media.example/%d.jpg", i), ContentType: "image/jpeg"})
	}
	if _, err := w.js.Publish(w.t.Context(), events.ConversationSubject(to, in.from), m.Encode(), jetstream.WithMsgID(in.id)); err != nil {
		w.t.Fatal(err)
	}
}

func (w *worker) message(id string) store.Message {
	w.t.Helper()
	m, err := w.store.GetMessage(w.t.Context(), id)
	if err != nil {
		w.t.Fatalf("record %s: %v", id, err)
	}
	return m
}

// TestHostileInputThroughTheWorker: one class of hostile input per case, each from its own sender, through
// the real worker. Each case asserts what the fake Telnyx received (exactly once), the reply records' status
// and what was stored. REPLY_RATE_LIMIT=0 here: the loop guard must hold without it.
func TestHostileInputThroughTheWorker(t *testing.T) {
	w := startWorker(t, "REPLY_RATE_LIMIT=0")
	long, longUCS2 := strings.Repeat("a", 5000), strings.Repeat("ж", 5000)

	// An older version's records: "old-1" committed (under its raw id, its reply under the old reply id) but
	// the reply not sent when the worker was upgraded.
	oldUser := "+12125550199"
	oldKey := store.Key{Our: ourA, User: oldUser}
	if _, err := w.store.Apply(t.Context(), store.Commit{Key: oldKey, Conversation: conversation.Seed.Step(conversation.New(time.Now()),
		conversation.Inbound{Text: "hello"}, time.Now()).Conversation,
		Message: store.Message{ID: "old-1", Direction: store.DirectionInbound, Our: ourA, User: oldUser, Text: "hello", Status: store.StatusReceived}}); err != nil {
		t.Fatal(err)
	}
	// Its message records as that version keyed them: by id alone, outside the conversation's hash slot.
	now := time.Now().UnixMilli()
	if err := w.rdb.HSet(t.Context(), "sms:msg:old-1", "id", "old-1", "dir", store.DirectionInbound, "our", ourA, "user", oldUser,
		"text", "hello", "status", store.StatusReceived, "created", now, "committed", "1", "reply_id", "rpl_old-1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := w.rdb.HSet(t.Context(), "sms:msg:rpl_old-1", "id", "rpl_old-1", "dir", store.DirectionOutbound, "our", ourA, "user", oldUser,
		"text", conversation.ReplyGreeting, "status", store.StatusPending, "created", now, "reply_to", "old-1").Err(); err != nil {
		t.Fatal(err)
	}

	loops := make([]inbound, store.DefaultLoopRepeats+2)
	for i := range loops {
		loops[i] = inbound{id: fmt.Sprintf("loop-%d", i), from: "+12125550106", text: "help"}
	}
	type reply struct {
		key, status, code string // the reply's record key, its status and error code
		text              string // what the fake received; "" when nothing was sent
	}
	tests := []struct {
		name    string
		user    string
		inbound []inbound
		replies []reply
		check   func(t *testing.T, sent []fakeapi.SentMessage)
	}{
		{name: "5,000-character echo is bounded to 10 segments", user: "+12125550101",
			inbound: []inbound{{id: "long-1", from: "+12125550101", text: long}},
			replies: []reply{{key: ids.Reply("long-1", 1), status: store.StatusQueued, text: "*"}},
			check: func(t *testing.T, sent []fakeapi.SentMessage) {
				if got := sms.Count(sent[0].Text); got.Parts > sms.MaxParts || !strings.HasSuffix(sent[0].Text, sms.Marker+"'\n\nI didn't understand that command. Type 'help' to see available options.") {
					t.Fatalf("reply of %d segments, want at most 10 ending in the quoted marker: %q", got.Parts, sent[0].Text)
				}
			}},
		{name: "5,000 UCS-2 characters are bounded to 10 segments", user: "+12125550102",
			inbound: []inbound{{id: "long-2", from: "+12125550102", text: longUCS2}},
			replies: []reply{{key: ids.Reply("long-2", 1), status: store.StatusQueued, text: "*"}},
			check: func(t *testing.T, sent []fakeapi.SentMessage) {
				if got := sms.Count(sent[0].Text); got.Parts > sms.MaxParts || !strings.Contains(sent[0].Text, "жж"+sms.Marker) {
					t.Fatalf("reply of %d segments, want at most 10 with the quotation cut: %q", got.Parts, sent[0].Text)
				}
			}},
		{name: "our other number is never answered", user: ourB,
			inbound: []inbound{{id: "ours-1", from: ourB, text: "hello"}},
			replies: []reply{{key: ids.Reply("ours-1", 1), status: store.StatusSkipped, code: store.SkipOurs}}},
		{name: "from equal to to is never answered", user: ourA,
			inbound: []inbound{{id: "ours-2", from: ourA, to: ourA, text: "hello"}},
			replies: []reply{{key: ids.Reply("ours-2", 1), status: store.StatusSkipped, code: store.SkipOurs}}},
		{name: "a reply loop stops after 20 repetitions", user: "+12125550106", inbound: loops,
			replies: func() []reply {
				out := make([]reply, len(loops))
				for i := range out {
					out[i] = reply{key: ids.Reply(loops[i].id, 1), status: store.StatusQueued, text: conversation.ReplyHelp}
					if i >= store.DefaultLoopRepeats {
						out[i] = reply{key: ids.Reply(loops[i].id, 1), status: store.StatusSkipped, code: store.SkipLoop}
					}
				}
				return out
			}()},
		{name: "ids X.1 and X_1 both get their replies", user: "+12125550103",
			inbound: []inbound{{id: "X.1", from: "+12125550103", text: "hello"}, {id: "X_1", from: "+12125550103", text: "info"}},
			replies: []reply{{key: ids.Reply("X.1", 1), status: store.StatusQueued, text: conversation.ReplyGreeting},
				{key: ids.Reply("X_1", 1), status: store.StatusQueued, text: conversation.ReplyInfo}}},
		{name: "an inbound id rpl_... leaves the reply record alone", user: "+12125550104",
			inbound: []inbound{{id: "m4", from: "+12125550104", text: "hello"}, {id: ids.Reply("m4", 1), from: "+12125550104", text: "info"},
				{id: "rpl_m4", from: "+12125550104", text: "help"}},
			replies: []reply{{key: ids.Reply("m4", 1), status: store.StatusQueued, text: conversation.ReplyGreeting},
				{key: ids.Reply(ids.Reply("m4", 1), 1), status: store.StatusQueued, text: conversation.ReplyInfo},
				{key: ids.Reply("rpl_m4", 1), status: store.StatusQueued, text: conversation.ReplyHelp}}},
		{name: "an inbound id in_... is not another message's duplicate", user: "+12125550105",
			inbound: []inbound{{id: "m5", from: "+12125550105", text: "hello"}, {id: ids.Inbound("m5"), from: "+12125550105", text: "info"}},
			replies: []reply{{key: ids.Reply("m5", 1), status: store.StatusQueued, text: conversation.ReplyGreeting},
				{key: ids.Reply(ids.Inbound("m5"), 1), status: store.StatusQueued, text: conversation.ReplyInfo}}},
		{name: "a message committed by the older version is finished, not answered again", user: oldUser,
			inbound: []inbound{{id: "old-1", from: oldUser, text: "hello"}},
			replies: []reply{{key: "rpl_old-1", status: store.StatusQueued, text: conversation.ReplyGreeting}},
			check: func(t *testing.T, _ []fakeapi.SentMessage) {
				if c, err := w.store.Conversation(t.Context(), oldKey); err != nil || c.MessageCount != 1 {
					t.Fatalf("conversation %+v %v: the dialog ran again", c, err)
				}
				if _, err := w.store.GetMessage(t.Context(), ids.Inbound("old-1")); err == nil {
					t.Fatal("the message was committed again under the new key")
				}
			}},
		{name: "media beyond 10 entries are dropped", user: "+12125550107",
			inbound: []inbound{{id: "media-1", from: "+12125550107", text: "hello", media: 15}},
			replies: []reply{{key: ids.Reply("media-1", 1), status: store.StatusQueued, text: conversation.ReplyGreeting}},
			check: func(t *testing.T, _ []fakeapi.SentMessage) {
				if in := w.message(ids.Inbound("media-1")); len(in.Media) != 10 {
					t.Fatalf("stored %d media entries, want 10", len(in.Media))
				}
			}},
	}
	for _, tc := range tests {
		for _, in := range tc.inbound {
			w.publish(in)
		}
	}
	natstest.WaitIdle(t, w.js, hostilePartitions)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []string
			for _, r := range tc.replies {
				rec := w.message(r.key)
				if rec.Status != r.status || rec.ErrorCode != r.code {
					t.Errorf("reply %s: status %q code %q, want %q %q", r.key, rec.Status, rec.ErrorCode, r.status, r.code)
				}
				if r.text != "" {
					want = append(want, r.key)
					if r.text != "*" && rec.Text != r.text {
						t.Errorf("reply %s stored %q, want %q", r.key, rec.Text, r.text)
					}
				}
			}
			for _, in := range tc.inbound {
				if in.id == "old-1" {
					continue
				}
				if rec := w.message(ids.Inbound(in.id)); rec.Direction != store.DirectionInbound || rec.TelnyxID != in.id || rec.Text != in.text {
					t.Errorf("inbound %q stored as %+v", in.id, rec)
				}
			}
			sent := w.fake.MessagesTo(tc.user)
			var got []string
			for i, m := range sent {
				got = append(got, m.IdempotencyKey)
				if rec := w.message(m.IdempotencyKey); rec.TelnyxID != m.ID || rec.Text != m.Text || m.From != ourA {
					t.Errorf("sent #%d %+v, but its record is %+v", i, m, rec)
				}
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("the fake received replies %q, want exactly %q", got, want)
			}
			if tc.check != nil {
				tc.check(t, sent)
			}
		})
	}
}
