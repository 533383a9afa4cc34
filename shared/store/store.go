// Package store keeps conversations and messages in Redis. Every inbound message changes Redis once, in one
// Lua script that checks for duplicates, compares the conversation's version, stores the new state, records
// the inbound message and the reply to send, and appends both to the history.
//
// Key layout (one hash slot per script, so it runs on Redis Cluster): everything a commit touches carries
// the conversation as its hash tag, {our|user}: the conversation hash, its history list, its message records,
// its reply window and loop counters. What is addressed by another name lives beside it and is written in
// the same round trip, outside the script: a message id's conversation (ref:<id>, for GET /messages/{id} and
// the receipts), a Telnyx id's message (tx:<telnyx id>), and the listing index (one sorted set, convs, so
// paging stays one ordered range on a cluster too).
package store

import (
	"context"
	"crypto/sha1" //nolint:gosec // G505: names a reply text in the loop guard's hash, as redis.sha1hex did
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	json "github.com/go-json-experiment/json/v1"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smsconv/smsconv/shared/conversation"
)

// Errors owned by the store.
var (
	// ErrNotFound is returned for a conversation or message that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when the conversation changed since it was loaded; load again and retry.
	ErrConflict = errors.New("conversation changed concurrently")
)

// Message directions and statuses.
const (
	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"

	StatusReceived  = "received"  // inbound, stored
	StatusPending   = "pending"   // outbound, recorded, not yet accepted by Telnyx
	StatusQueued    = "queued"    // outbound, accepted by Telnyx (or queued by POST /sms/send)
	StatusSent      = "sent"      // outbound, handed to the carrier
	StatusDelivered = "delivered" // outbound, delivery confirmed
	StatusFailed    = "failed"    // outbound, failed permanently (see error fields)
	StatusBlocked   = "blocked"   // outbound, not sent: the user opted out
	StatusSkipped   = "skipped"   // outbound, not sent deliberately: ErrorCode says why (Skip...)
)

// Why a reply was skipped: the ErrorCode of a StatusSkipped reply.
const (
	SkipRateLimited = "rate_limited" // the user is over the reply rate limit
	SkipLoop        = "loop"         // the same text was sent to the conversation LoopRepeats times in LoopWindow
	SkipOurs        = "ours"         // the sender is one of our numbers: answering could start a loop
)

// Key identifies a conversation: our Telnyx number and the user's number.
type Key struct {
	Our  string `json:"our_number"`
	User string `json:"phone_number"`
}

func (k Key) member() string { return k.Our + "|" + k.User }

func keyFromMember(m string) Key {
	our, user, _ := strings.Cut(m, "|")
	return Key{Our: our, User: user}
}

// Message is the stored record of one inbound or outbound message.
type Message struct {
	ID         string               `json:"id"`
	Direction  string               `json:"direction"`
	Our        string               `json:"our_number"`
	User       string               `json:"phone_number"`
	Text       string               `json:"text"`
	Media      []conversation.Media `json:"media,omitempty"`
	Status     string               `json:"status"`
	CreatedAt  time.Time            `json:"created_at"`
	UpdatedAt  time.Time            `json:"updated_at"`
	ReplyTo    string               `json:"reply_to,omitempty"`  // outbound: the inbound message answered
	ReplyID    string               `json:"reply_id,omitempty"`  // inbound: the reply it produced
	TelnyxID   string               `json:"telnyx_id,omitempty"` // outbound: Telnyx's message id
	ErrorCode  string               `json:"error_code,omitempty"`
	ErrorTitle string               `json:"error_title,omitempty"`
	// Encoding, Parts and SendAttempts are recorded by BeginSend: how Telnyx bills the text and how many
	// requests were made for it.
	Encoding     string `json:"encoding,omitempty"`
	Parts        int    `json:"parts,omitempty"`
	SendAttempts int    `json:"send_attempts,omitempty"`
	// UnknownAt is when a send of the message was first found with an unknown outcome (zero: never).
	UnknownAt time.Time `json:"unknown_at,omitzero"`
	Committed bool      `json:"-"`
}

// Options configure a Store.
type Options struct {
	// Prefix namespaces every key (default "sms"), so tests and several deployments can share a server.
	Prefix string
	// HistoryLimit caps the messages kept in a conversation's history list (default 500).
	HistoryLimit int
	// MessageTTL is how long message records (and so deduplication of Telnyx message ids) are kept
	// (default 30 days).
	MessageTTL time.Duration
	// RepliesPerMinute caps the replies one conversation gets in any 60 s, on our clock (a sliding window,
	// 0: no cap). Inbound messages past it are stored and counted, and their replies recorded as skipped
	// instead of sent.
	RepliesPerMinute int
	// LoopRepeats is how often one reply text may be sent to a conversation within LoopWindow of the
	// previous reply before the next is skipped as a loop (default 20, as mailroom; negative: no guard).
	LoopRepeats int
	// LoopWindow is how long a conversation's reply texts are remembered after its last reply (default 5m).
	LoopWindow time.Duration
}

// Defaults of the loop guard (mailroom's: a text sent 20 times is a loop).
const (
	DefaultLoopRepeats = 20
	DefaultLoopWindow  = 5 * time.Minute
)

// Store is the Redis-backed conversation store.
type Store struct {
	rdb     redis.UniversalClient
	o       Options
	commit  *redis.Script
	receipt *redis.Script
	// group sends the hot path's calls (Load, Apply, UpdateMessage) of concurrent callers together.
	group *group
}

//go:embed commit.lua
var commitLua string

// New returns a Store using rdb.
func New(rdb redis.UniversalClient, o Options) *Store {
	if o.Prefix == "" {
		o.Prefix = "sms"
	}
	if o.HistoryLimit <= 0 {
		o.HistoryLimit = 500
	}
	if o.MessageTTL <= 0 {
		o.MessageTTL = 30 * 24 * time.Hour
	}
	if o.LoopRepeats == 0 {
		o.LoopRepeats = DefaultLoopRepeats
	}
	if o.LoopWindow <= 0 {
		o.LoopWindow = DefaultLoopWindow
	}
	return &Store{rdb: rdb, o: o, commit: redis.NewScript(commitLua), receipt: redis.NewScript(receiptLua), group: &group{rdb: rdb}}
}

func (s *Store) convKey(k Key) string { return s.o.Prefix + ":conv:{" + k.member() + "}" }
func (s *Store) histKey(k Key) string { return s.o.Prefix + ":hist:{" + k.member() + "}" }
func (s *Store) msgKey(k Key, id string) string {
	return s.o.Prefix + ":msg:{" + k.member() + "}:" + id
}
func (s *Store) refKey(id string) string { return s.o.Prefix + ":ref:" + id }
func (s *Store) txKey(id string) string  { return s.o.Prefix + ":tx:" + id }
func (s *Store) indexKey() string        { return s.o.Prefix + ":convs" }

// legacyMsgKey is where versions before the one-slot layout kept message id's record.
func (s *Store) legacyMsgKey(id string) string { return s.o.Prefix + ":msg:" + id }

// keyOf finds the conversation of message id through its ref key (ErrNotFound when it has none).
func (s *Store) keyOf(ctx context.Context, id string) (Key, error) {
	m, err := s.rdb.Get(ctx, s.refKey(id)).Result()
	if isNil(err) {
		return Key{}, fmt.Errorf("message %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Key{}, err
	}
	return keyFromMember(m), nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis ping: %w", err)
	}
	return nil
}

// Loaded is a conversation as read before a step, with what is already known about the message at hand.
type Loaded struct {
	Conversation conversation.Conversation
	Version      int64
	Exists       bool
	// Message is the stored record of the message being processed, if any (an inbound message already
	// committed, or a send queued by the ingress); Reply is its reply record when it has one.
	Message *Message
	Reply   *Message
}

// Load reads a conversation, the record of message msgID and the record of its reply replyID ("" when it
// has none) in one round trip. A redelivered message learns from it whether it was committed and what is
// left to send, with nothing else to read.
func (s *Store) Load(ctx context.Context, k Key, msgID, replyID string) (Loaded, error) {
	var conv, msg, reply *redis.MapStringStringCmd
	err := s.group.do(ctx, func(pipe redis.Pipeliner) {
		conv = pipe.HGetAll(ctx, s.convKey(k))
		msg = pipe.HGetAll(ctx, s.msgKey(k, msgID))
		if replyID != "" {
			reply = pipe.HGetAll(ctx, s.msgKey(k, replyID))
		}
	})
	if err == nil {
		err = firstErr(conv, msg)
		if reply != nil && err == nil {
			err = reply.Err()
		}
	}
	if err != nil {
		return Loaded{}, fmt.Errorf("load conversation: %w", err)
	}
	var l Loaded
	c, ver, ok := decodeConversation(conv.Val())
	l.Conversation, l.Version, l.Exists = c, ver, ok
	if m, ok := decodeMessage(msg.Val()); ok {
		l.Message = &m
		if reply != nil && m.ReplyID == replyID {
			if r, ok := decodeMessage(reply.Val()); ok {
				l.Reply = &r
			}
		}
	}
	return l, nil
}

// Commit is one atomic change: the conversation's new state, the message that caused it and the reply to
// send. It is applied only if the message was not committed before and the conversation is still at
// ExpectVersion.
type Commit struct {
	Key           Key
	ExpectVersion int64
	Conversation  conversation.Conversation
	// Message is the inbound message (or the queued send) being processed.
	Message Message
	// Reply is the outbound reply to record, if any.
	Reply *Message
	// Now is our clock at the commit: the reply rate limit's window ends there (Telnyx's received_at is
	// not ours to trust). Zero means time.Now.
	Now time.Time
	// Sending, when set, records a reply that stays pending (not skipped by the commit's guards) as sending,
	// with this encoding and these parts: what BeginSend does, folded into the commit for a reply whose request
	// leaves right after it (no limiter to wait for), one round trip fewer. CommitResult.Sending says whether
	// it was.
	Sending *SendMark
	// LegacyID is the key an older version stored this message under (the raw Telnyx id of an inbound
	// message), or "": an inbound record committed there by that version (one without a Telnyx id, which
	// this version's inbound records always have) makes this message a duplicate too.
	LegacyID string
}

// SendMark is how a reply about to be sent is billed, recorded with it as it is marked sending.
type SendMark struct {
	Encoding string
	Parts    int
}

// CommitResult says what Commit did.
type CommitResult struct {
	// Sending is true when the reply was recorded as sending (Commit.Sending): its request may leave now, with
	// no BeginSend.
	Sending bool
	// Duplicate is true when the message had been committed before; nothing was changed.
	Duplicate bool
	Version   int64
	// Stored is the conversation as stored when the commit was refused for its version (ErrConflict): what
	// a load would read of it, in the same round trip. It holds no message records.
	Stored *Loaded
	// Skipped is SkipRateLimited or SkipLoop when the reply was recorded as skipped by that guard
	// (StatusSkipped, with that ErrorCode and title) instead of as given; "" otherwise.
	Skipped string
}

// Error titles of skipped replies.
const (
	RateLimitedTitle = "reply rate limit reached"
	LoopTitle        = "reply loop: the same text was sent too often"
	OursTitle        = "sender is one of our numbers"
)

// Apply runs the commit script. It returns ErrConflict when the conversation's version moved. It never
// changes c: what the script decided comes back in the CommitResult. The message ids' refs and the listing
// index are written in the same round trip (a pipeline, outside the script: other hash slots). They are
// idempotent, written on every attempt whatever the script answers, so a redelivery after a failed round trip
// completes them.
func (s *Store) Apply(ctx context.Context, c Commit) (CommitResult, error) {
	now := c.Now
	if now.IsZero() {
		now = time.Now()
	}
	msgKey := s.msgKey(c.Key, c.Message.ID)
	// The older version's record is in another hash slot; on Redis Cluster, which no older version could
	// use, there is none, and the script must not name a key of another slot.
	legacyKey := msgKey
	if _, clustered := s.rdb.(*redis.ClusterClient); c.LegacyID != "" && !clustered {
		legacyKey = s.legacyMsgKey(c.LegacyID)
	}
	replyKey, sending, textSum := s.msgKey(c.Key, "-"), "", ""
	if c.Reply != nil {
		replyKey = s.msgKey(c.Key, c.Reply.ID)
		if c.Sending != nil {
			sending = c.Sending.Encoding + "|" + strconv.Itoa(c.Sending.Parts)
		}
		if s.o.LoopRepeats > 0 {
			sum := sha1.Sum([]byte(c.Reply.Text)) //nolint:gosec // G401: a name for a text, not a security check
			textSum = hex.EncodeToString(sum[:])
		}
	}
	keys := []string{s.convKey(c.Key), s.histKey(c.Key), msgKey, replyKey,
		s.o.Prefix + ":replies:{" + c.Key.member() + "}", legacyKey, s.o.Prefix + ":loop:{" + c.Key.member() + "}"}
	// The records' fields as pairs (room for all of each); the script's ARGV puts its scalars before them.
	pairs := encodeConversation(c.Conversation).appendPairs(make([]any, 0, 2*(8+15+14)))
	nConv := len(pairs)
	msg := encodeMessage(c.Message)
	if c.Reply != nil {
		msg.ReplyID = c.Reply.ID
	}
	pairs = msg.appendPairs(pairs, "committed", "1")
	nMsg := len(pairs) - nConv
	if c.Reply != nil {
		pairs = encodeMessage(*c.Reply).appendPairs(pairs)
	}
	nReply := len(pairs) - nConv - nMsg
	args := append([]any{c.ExpectVersion, nConv, nMsg, nReply, c.Message.ID, replyID(c.Reply), s.o.HistoryLimit,
		int64(s.o.MessageTTL / time.Second), s.o.RepliesPerMinute, RateLimitedTitle, now.UnixMilli(),
		max(s.o.LoopRepeats, 0), int64(s.o.LoopWindow / time.Second), LoopTitle, sending, textSum}, pairs...)
	exec := func() (*redis.Cmd, error) {
		var cmd *redis.Cmd
		var all []redis.Cmder
		err := s.group.do(ctx, func(pipe redis.Pipeliner) {
			cmd = s.commit.EvalSha(ctx, pipe, keys, args...)
			all = append(all, cmd, s.ref(ctx, pipe, c.Key, c.Message.ID))
			if c.Reply != nil {
				all = append(all, s.ref(ctx, pipe, c.Key, c.Reply.ID))
			}
			all = append(all, pipe.ZAdd(ctx, s.indexKey(), redis.Z{Member: c.Key.member()}))
		})
		if err != nil {
			return redis.NewCmd(ctx), err
		}
		return cmd, firstErr(all...)
	}
	cmd, err := exec()
	if cmd.Err() != nil && redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		// First commit on this server (or after a failover or restart): load the script, once, and again.
		if lerr := s.commit.Load(ctx, s.rdb).Err(); lerr != nil {
			return CommitResult{}, fmt.Errorf("commit: load script: %w", lerr)
		}
		cmd, err = exec()
	}
	if err != nil {
		return CommitResult{}, fmt.Errorf("commit: %w", err)
	}
	res, err := cmd.Slice()
	if err != nil {
		return CommitResult{}, fmt.Errorf("commit: %w", err)
	}
	status, _ := res[0].(string)
	ver, _ := res[1].(int64)
	skipped, _ := res[2].(string)
	switch status {
	case "ok":
		sending := c.Sending != nil && c.Reply != nil && c.Reply.Status == StatusPending && skipped == ""
		return CommitResult{Version: ver, Skipped: skipped, Sending: sending}, nil
	case "dup":
		return CommitResult{Duplicate: true, Version: ver}, nil
	case "conflict":
		cr := CommitResult{Version: ver}
		if len(res) > 3 {
			if flat, ok := res[3].([]any); ok {
				h := make(map[string]string, len(flat)/2)
				for i := 0; i+1 < len(flat); i += 2 {
					k, _ := flat[i].(string)
					v, _ := flat[i+1].(string)
					h[k] = v
				}
				conv, v, exists := decodeConversation(h)
				cr.Stored = &Loaded{Conversation: conv, Version: v, Exists: exists}
			}
		}
		return cr, fmt.Errorf("commit: %w (have %d, stored %d)", ErrConflict, c.ExpectVersion, ver)
	}
	return CommitResult{}, fmt.Errorf("commit: unexpected script result %v", res)
}

// ref queues the write of message id's ref (its conversation) on pipe.
func (s *Store) ref(ctx context.Context, pipe redis.Pipeliner, k Key, id string) redis.Cmder {
	return pipe.Set(ctx, s.refKey(id), k.member(), s.o.MessageTTL)
}

func replyID(r *Message) string {
	if r == nil {
		return ""
	}
	return r.ID
}

// Update changes the status of an outbound message and the fields that come with it.
type Update struct {
	// Key is the message's conversation; when it is zero, UpdateMessage looks it up (one more round trip).
	Key        Key
	Status     string
	TelnyxID   string
	ErrorCode  string
	ErrorTitle string
	At         time.Time
}

// UpdateMessage records a new status of message id (and indexes its Telnyx id for delivery receipts).
func (s *Store) UpdateMessage(ctx context.Context, id string, u Update) error {
	if u.At.IsZero() {
		u.At = time.Now()
	}
	fields := make([]any, 0, 8)
	fields = append(fields, "status", u.Status, "updated", u.At.UnixMilli())
	if u.TelnyxID != "" {
		fields = append(fields, "telnyx_id", u.TelnyxID)
	}
	if u.ErrorCode != "" || u.ErrorTitle != "" {
		fields = append(fields, "error_code", u.ErrorCode, "error_title", u.ErrorTitle)
	}
	k := u.Key
	if k == (Key{}) {
		var err error
		if k, err = s.keyOf(ctx, id); err != nil {
			return fmt.Errorf("update message: %w", err)
		}
	}
	// A pipeline, not a transaction: the record and the Telnyx id's index are in different hash slots.
	var cmds []redis.Cmder
	err := s.group.do(ctx, func(pipe redis.Pipeliner) {
		cmds = append(cmds, pipe.HSet(ctx, s.msgKey(k, id), fields...))
		if u.TelnyxID != "" {
			cmds = append(cmds, pipe.Set(ctx, s.txKey(u.TelnyxID), id, s.o.MessageTTL))
		}
	})
	if err == nil {
		err = firstErr(cmds...)
	}
	if err != nil {
		return fmt.Errorf("update message: %w", err)
	}
	return nil
}

// SetOptedOut marks a conversation as opted out (or back in) without changing anything else.
func (s *Store) SetOptedOut(ctx context.Context, k Key, optedOut bool) error {
	return s.setFlag(ctx, k, "opted_out", optedOut)
}

// SetTakenOver marks a conversation as answered by an operator (true) or handed back to the flow (false).
func (s *Store) SetTakenOver(ctx context.Context, k Key, takenOver bool) error {
	return s.setFlag(ctx, k, "taken_over", takenOver)
}

// setFlag sets a boolean field of the conversation. The version moves too, so a worker holding the
// conversation in its cache (or mid-commit) reloads it instead of writing its old value back.
func (s *Store) setFlag(ctx context.Context, k Key, field string, on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.convKey(k), field, v)
	pipe.HIncrBy(ctx, s.convKey(k), "ver", 1)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("set %s: %w", field, err)
	}
	return nil
}

// QueueSend records an outbound message queued through the API, before it is published for the worker.
func (s *Store) QueueSend(ctx context.Context, m Message) error {
	m.Direction, m.Status = DirectionOutbound, StatusQueued
	k := Key{Our: m.Our, User: m.User}
	pipe := s.rdb.Pipeline()
	pipe.HSet(ctx, s.msgKey(k, m.ID), encodeMessage(m))
	pipe.Expire(ctx, s.msgKey(k, m.ID), s.o.MessageTTL)
	s.ref(ctx, pipe, k, m.ID)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("queue send: %w", err)
	}
	return nil
}

// DeleteMessage removes a message record (used to undo QueueSend when the publish fails).
func (s *Store) DeleteMessage(ctx context.Context, id string) error {
	k, err := s.keyOf(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete message: %w", err)
	}
	pipe := s.rdb.Pipeline()
	pipe.Del(ctx, s.msgKey(k, id))
	pipe.Del(ctx, s.refKey(id))
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("delete message: %w", err)
	}
	return nil
}

// LegacyInbound reads inbound message id as an older version stored it (keyed by the raw Telnyx id, its
// reply under the reply id of the time) and its reply, if that version committed it; nil when it did not.
// A message committed before an upgrade and delivered again after it is answered from these records, never
// twice. Records of that version expire with MessageTTL, after which this finds nothing. The reply found is
// copied into the current key layout.
func (s *Store) LegacyInbound(ctx context.Context, id string) (in, reply *Message, err error) {
	h, err := s.rdb.HGetAll(ctx, s.legacyMsgKey(id)).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("get legacy message: %w", err)
	}
	m, ok := decodeMessage(h)
	if !ok || !m.Committed || m.Direction != DirectionInbound || m.TelnyxID != "" {
		// Not an inbound message of that version: this version's inbound records carry their Telnyx id.
		return nil, nil, nil
	}
	if m.ReplyID == "" {
		return &m, nil, nil
	}
	h, err = s.rdb.HGetAll(ctx, s.legacyMsgKey(m.ReplyID)).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("get legacy reply: %w", err)
	}
	r, ok := decodeMessage(h)
	if !ok {
		return &m, nil, nil
	}
	// Copy the reply into this layout (its conversation's slot, with its ref), where sending it updates it and
	// GET /messages/{id} reads it.
	k := Key{Our: r.Our, User: r.User}
	pipe := s.rdb.Pipeline()
	pipe.HSet(ctx, s.msgKey(k, r.ID), h)
	pipe.Expire(ctx, s.msgKey(k, r.ID), s.o.MessageTTL)
	s.ref(ctx, pipe, k, r.ID)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, nil, fmt.Errorf("copy legacy reply: %w", err)
	}
	return &m, &r, nil
}

// GetMessage reads one message record.
func (s *Store) GetMessage(ctx context.Context, id string) (Message, error) {
	k, err := s.keyOf(ctx, id)
	if err != nil {
		return Message{}, fmt.Errorf("get message: %w", err)
	}
	h, err := s.rdb.HGetAll(ctx, s.msgKey(k, id)).Result()
	if err != nil {
		return Message{}, fmt.Errorf("get message: %w", err)
	}
	m, ok := decodeMessage(h)
	if !ok {
		return Message{}, fmt.Errorf("get message %s: %w", id, ErrNotFound)
	}
	return m, nil
}

// Summary is a conversation as listed by GET /conversations.
type Summary struct {
	Key
	conversation.Conversation
}

// Conversation reads one conversation.
func (s *Store) Conversation(ctx context.Context, k Key) (conversation.Conversation, error) {
	h, err := s.rdb.HGetAll(ctx, s.convKey(k)).Result()
	if err != nil {
		return conversation.Conversation{}, fmt.Errorf("get conversation: %w", err)
	}
	c, _, ok := decodeConversation(h)
	if !ok {
		return conversation.Conversation{}, fmt.Errorf("get conversation: %w", ErrNotFound)
	}
	return c, nil
}

// List returns up to limit conversations ordered by (our number, user number), starting after the cursor
// ("" for the first page), and the cursor of the next page ("" at the end). Paging by key order is stable
// while conversations are added.
func (s *Store) List(ctx context.Context, after string, limit int) ([]Summary, string, error) {
	min := "-"
	if after != "" {
		min = "(" + after
	}
	members, err := s.rdb.ZRangeByLex(ctx, s.indexKey(), &redis.ZRangeBy{Min: min, Max: "+", Count: int64(limit) + 1}).Result()
	if err != nil {
		return nil, "", fmt.Errorf("list conversations: %w", err)
	}
	next := ""
	if len(members) > limit {
		members = members[:limit]
		next = members[limit-1]
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(members))
	for i, m := range members {
		cmds[i] = pipe.HGetAll(ctx, s.convKey(keyFromMember(m)))
	}
	if len(members) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, "", fmt.Errorf("list conversations: %w", err)
		}
	}
	out := make([]Summary, 0, len(members))
	for i, m := range members {
		if c, _, ok := decodeConversation(cmds[i].Val()); ok {
			out = append(out, Summary{Key: keyFromMember(m), Conversation: c})
		}
	}
	return out, next, nil
}

// History returns the last limit messages of a conversation, oldest first.
func (s *Store) History(ctx context.Context, k Key, limit int) ([]Message, error) {
	ids, err := s.rdb.LRange(ctx, s.histKey(k), int64(-limit), -1).Result()
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, s.msgKey(k, id))
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
	}
	out := make([]Message, 0, len(ids))
	for _, c := range cmds {
		if m, ok := decodeMessage(c.Val()); ok { // records past their TTL are skipped
			out = append(out, m)
		}
	}
	return out, nil
}

// conversationFields is a conversation as the commit script writes it: each field one hash field.
type conversationFields struct {
	TakenOver string
	State     string
	Count     string
	Created   string
	Updated   string
	Vars      string
	OptedOut  string
	Flow      string
}

// appendPairs appends f's fields to args as name, value pairs, as the commit script writes them.
func (f conversationFields) appendPairs(args []any) []any {
	return append(args, "taken_over", f.TakenOver, "state", f.State, "count", f.Count, "created", f.Created,
		"updated", f.Updated, "vars", f.Vars, "opted_out", f.OptedOut, "flow", f.Flow)
}

func encodeConversation(c conversation.Conversation) conversationFields {
	vars := ""
	if len(c.Vars) > 0 {
		b, _ := json.Marshal(c.Vars)
		vars = string(b)
	}
	return conversationFields{
		TakenOver: flag(c.TakenOver),
		State:     c.State,
		Count:     strconv.Itoa(c.MessageCount),
		Created:   strconv.FormatInt(c.CreatedAt.UnixMilli(), 10),
		Updated:   strconv.FormatInt(c.UpdatedAt.UnixMilli(), 10),
		Vars:      vars,
		OptedOut:  flag(c.OptedOut),
		Flow:      c.FlowVersion,
	}
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func decodeConversation(h map[string]string) (conversation.Conversation, int64, bool) {
	if len(h) == 0 {
		return conversation.Conversation{}, 0, false
	}
	if h["state"] == "" {
		// Only a flag was set (an opt-out learned from Telnyx before any message): a new conversation.
		h["state"] = conversation.StateNew
	}
	count, _ := strconv.Atoi(h["count"])
	limitedCount, _ := strconv.Atoi(h["rate_limited"])
	ver, _ := strconv.ParseInt(h["ver"], 10, 64)
	c := conversation.Conversation{
		State:        h["state"],
		MessageCount: count,
		CreatedAt:    millis(h["created"]),
		UpdatedAt:    millis(h["updated"]),
		OptedOut:     h["opted_out"] == "1",
		TakenOver:    h["taken_over"] == "1",
		FlowVersion:  h["flow"],
		RateLimited:  limitedCount,
	}
	if v := h["vars"]; v != "" {
		_ = json.Unmarshal([]byte(v), &c.Vars)
	}
	return c, ver, true
}

// messageFields is a message record as written to its hash (by the commit script from its pairs, or by HSET
// from its redis tags): the empty optional fields are left out.
type messageFields struct {
	ID         string `redis:"id"`
	Dir        string `redis:"dir"`
	Our        string `redis:"our"`
	User       string `redis:"user"`
	Text       string `redis:"text"`
	Status     string `redis:"status"`
	Created    string `redis:"created"`
	Updated    string `redis:"updated"`
	ReplyTo    string `redis:"reply_to,omitempty"`
	ReplyID    string `redis:"reply_id,omitempty"`
	TelnyxID   string `redis:"telnyx_id,omitempty"`
	ErrorCode  string `redis:"error_code,omitempty"`
	ErrorTitle string `redis:"error_title,omitempty"`
	Media      string `redis:"media,omitempty"`
}

// appendPairs appends f's fields to args as name, value pairs: the optional ones only when set (as HSET of
// the struct writes them), then extra, then the status, last, where the commit script looks for it.
func (f messageFields) appendPairs(args []any, extra ...string) []any {
	args = append(args, "id", f.ID, "dir", f.Dir, "our", f.Our, "user", f.User, "text", f.Text,
		"created", f.Created, "updated", f.Updated)
	for _, o := range [...][2]string{{"reply_to", f.ReplyTo}, {"reply_id", f.ReplyID}, {"telnyx_id", f.TelnyxID},
		{"error_code", f.ErrorCode}, {"error_title", f.ErrorTitle}, {"media", f.Media}} {
		if o[1] != "" {
			args = append(args, o[0], o[1])
		}
	}
	for _, e := range extra {
		args = append(args, e)
	}
	return append(args, "status", f.Status)
}

func encodeMessage(m Message) messageFields {
	f := messageFields{ID: m.ID, Dir: m.Direction, Our: m.Our, User: m.User, Text: m.Text, Status: m.Status,
		Created: strconv.FormatInt(m.CreatedAt.UnixMilli(), 10), Updated: strconv.FormatInt(m.UpdatedAt.UnixMilli(), 10),
		ReplyTo: m.ReplyTo, ReplyID: m.ReplyID, TelnyxID: m.TelnyxID, ErrorCode: m.ErrorCode, ErrorTitle: m.ErrorTitle}
	if m.UpdatedAt.IsZero() {
		f.Updated = f.Created
	}
	if len(m.Media) > 0 {
		b, _ := json.Marshal(m.Media)
		f.Media = string(b)
	}
	return f
}

func decodeMessage(h map[string]string) (Message, bool) {
	if h["id"] == "" {
		return Message{}, false
	}
	m := Message{
		ID: h["id"], Direction: h["dir"], Our: h["our"], User: h["user"], Text: h["text"], Status: h["status"],
		CreatedAt: millis(h["created"]), UpdatedAt: millis(h["updated"]),
		ReplyTo: h["reply_to"], ReplyID: h["reply_id"], TelnyxID: h["telnyx_id"],
		ErrorCode: h["error_code"], ErrorTitle: h["error_title"], Committed: h["committed"] == "1",
	}
	if v := h["media"]; v != "" {
		_ = json.Unmarshal([]byte(v), &m.Media)
	}
	decodeSendFields(h, &m)
	return m, true
}

func isNil(err error) bool { return errors.Is(err, redis.Nil) }

func millis(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// CountSendFailure records one more transient send failure of outbound message id and returns how many
// there have been. Kept on the message, so the count survives the message moving between workers.
func (s *Store) CountSendFailure(ctx context.Context, id string) (int, error) {
	k, err := s.keyOf(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("count send failure: %w", err)
	}
	n, err := s.rdb.HIncrBy(ctx, s.msgKey(k, id), "send_failures", 1).Result()
	if err != nil {
		return 0, fmt.Errorf("count send failure: %w", err)
	}
	return int(n), nil
}
