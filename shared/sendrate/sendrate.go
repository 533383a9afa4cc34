// Package sendrate shapes outbound SMS to the throughput Telnyx accepts: segments per second per sending
// number and for the whole account, enforced across every worker replica with one state in Redis.
//
// The algorithm is GCRA with reservations (one Lua script, Redis's clock). A conversation reply reserves the
// next free slot of its number and of the account and is told how long to wait for it; when it comes back at
// that time its reservation is still there (keyed by the message id), so waiting replies go in the order they
// reserved, one limiter round trip each, and never poll. Bulk /sms/send traffic is a second lane: it reserves
// in lanes of its own that pace it to BulkShare of each limit, and when its slot comes it may only take
// capacity the number and account have free beyond the replies' reservations and a reserve kept for them.
// Replies therefore go first, up to the whole limit; bulk progresses whenever replies leave room.
//
// Throttling answers slow a scope down: Throttled holds it for Telnyx's Retry-After (or x-ratelimit-reset),
// then halves its rate with no burst for a cooldown, halving again at most once per pause while the answers
// keep coming, down to MinFactor. A reservation the hold overtook takes a new slot when it comes back, so
// held messages are spaced again rather than released together.
package sendrate

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lane is the class of a message: which traffic goes first when a number is at its limit.
type Lane int

// Lanes.
const (
	// Reply is a conversation reply: it may use a limit whole.
	Reply Lane = iota
	// Bulk is a /sms/send message: at most BulkShare of each limit, and only capacity replies leave.
	Bulk
)

func (l Lane) String() string {
	if l == Bulk {
		return "bulk"
	}
	return "reply"
}

// Scope is what a throttling answer slows down.
type Scope int

// Scopes.
const (
	// Number is the sending number (Telnyx's per-sender queue: 40318, 40002).
	Number Scope = iota
	// Account is the whole account (API rate limit: 10011, a 429 without a code).
	Account
)

// Defaults of a Limiter's tuning.
const (
	DefaultBulkShare = 0.5
	// DefaultCooldown is how long a lowered rate holds after the last throttling answer; then the configured
	// rate is back, so a backlog drains at it once Telnyx stops throttling.
	DefaultCooldown = 5 * time.Second
	// DefaultMinFactor is the lowest fraction of a configured rate throttling answers push a scope to.
	DefaultMinFactor = 1.0 / 16
	// DefaultPause holds a scope when a throttling answer gives no Retry-After.
	DefaultPause = time.Second
	// DefaultMaxWait bounds the wait Reserve hands out: a message comes back at least this often, so a rate
	// that recovers after throttling (dropping the slow slots) takes effect within it.
	DefaultMaxWait = 2 * time.Second
	// reservationSlack is how long a reservation outlives its slot: a message held by a dead worker is
	// redelivered within AckWait and still finds it.
	reservationSlack = 10 * time.Minute
)

// Limits are the configured rates, in segments per second; 0 turns a limit off.
type Limits struct {
	// Account bounds every number together (SEND_RATE_ACCOUNT).
	Account float64
	// PerNumber bounds each sending number without an override (SEND_RATE_PER_NUMBER).
	PerNumber float64
	// Numbers overrides PerNumber for some numbers (SEND_RATE_FILE), keyed by E.164.
	Numbers map[string]float64
	// BulkShare is the share of each limit bulk sends may use, in (0, 1]; DefaultBulkShare when 0.
	BulkShare float64
}

// Enabled reports whether any limit is on; with none, there is nothing to shape.
func (l Limits) Enabled() bool {
	if l.Account > 0 || l.PerNumber > 0 {
		return true
	}
	for _, r := range l.Numbers {
		if r > 0 {
			return true
		}
	}
	return false
}

// NumberRate is the limit of number.
func (l Limits) NumberRate(number string) float64 {
	if r, ok := l.Numbers[number]; ok {
		return r
	}
	return l.PerNumber
}

// Validate checks every rate and the bulk share.
func (l Limits) Validate() error {
	var errs []error
	check := func(name string, r float64) {
		if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
			errs = append(errs, fmt.Errorf("%s %v: want segments per second, 0 for no limit", name, r))
		}
	}
	check("SEND_RATE_ACCOUNT", l.Account)
	check("SEND_RATE_PER_NUMBER", l.PerNumber)
	for n, r := range l.Numbers {
		check("SEND_RATE_FILE "+n, r)
	}
	if l.BulkShare < 0 || l.BulkShare > 1 || math.IsNaN(l.BulkShare) {
		errs = append(errs, fmt.Errorf("bulk share %v: want a fraction in (0, 1]", l.BulkShare))
	}
	return errors.Join(errs...)
}

//go:embed gcra.lua
var gcraSource string

//go:embed throttle.lua
var throttleSource string

var (
	gcraScript     = redis.NewScript(gcraSource)
	throttleScript = redis.NewScript(throttleSource)
)

// Limiter reserves sending capacity. It is safe for concurrent use; every replica configured alike shares
// its state through Redis.
type Limiter struct {
	rdb    redis.Scripter
	prefix string
	lim    Limits
	// Cooldown, MinFactor and Pause tune the reaction to throttling answers (Default... values).
	Cooldown  time.Duration
	MinFactor float64
	Pause     time.Duration
	// MaxWait bounds the wait Reserve returns (DefaultMaxWait); the reservation is kept past it.
	MaxWait time.Duration
}

// New returns a limiter for lim with its keys under prefix (all in one Redis Cluster hash slot, since one
// script touches the number's and the account's state together).
func New(rdb redis.Scripter, prefix string, lim Limits) *Limiter {
	if lim.BulkShare == 0 {
		lim.BulkShare = DefaultBulkShare
	}
	return &Limiter{rdb: rdb, prefix: "{" + prefix + ":rate}:", lim: lim,
		Cooldown: DefaultCooldown, MinFactor: DefaultMinFactor, Pause: DefaultPause, MaxWait: DefaultMaxWait}
}

// Limits returns the limiter's configured rates.
func (l *Limiter) Limits() Limits { return l.lim }

// scope is one GCRA bucket of a script call.
type scope struct {
	key      string
	rate     float64
	headroom float64 // of the burst, kept for replies (bulk's take check only)
}

func (l *Limiter) args(s scope) []any {
	iv := 0.0
	burst := max(s.rate, 1) * (1 - s.headroom) // one second's worth
	if s.rate > 0 {
		iv = 1e6 / s.rate
	}
	return []any{strconv.FormatFloat(iv, 'f', 3, 64), strconv.FormatFloat(max(burst, 1), 'f', 3, 64)}
}

func (l *Limiter) numberKey(from string) string { return l.prefix + "n:" + from }
func (l *Limiter) accountKey() string           { return l.prefix + "a" }

// Reserve takes capacity for a message of segments parts from the number from, or reserves the next slot.
// It returns 0 when the message may be sent now (the capacity is taken), otherwise how long to wait before
// calling Reserve again with the same id, which then finds its slot kept: the time to the slot, at most
// MaxWait. id must identify the message.
func (l *Limiter) Reserve(ctx context.Context, id, from string, lane Lane, segments int) (time.Duration, error) {
	segments = max(segments, 1)
	number := scope{key: l.numberKey(from), rate: l.lim.NumberRate(from)}
	account := scope{key: l.accountKey(), rate: l.lim.Account}
	var reserve, take []scope
	if lane == Bulk {
		share := l.lim.BulkShare
		reserve = []scope{
			{key: l.prefix + "bn:" + from, rate: number.rate * share},
			{key: l.prefix + "ba", rate: account.rate * share},
		}
		number.headroom, account.headroom = 1-share, 1-share
		take = []scope{number, account}
	} else {
		reserve = []scope{number, account}
	}
	keys := make([]string, 0, len(reserve)+len(take)+1)
	argv := []any{segments, len(reserve), len(take), reservationSlack.Milliseconds()}
	for _, s := range append(reserve, take...) {
		keys = append(keys, s.key)
		argv = append(argv, l.args(s)...)
	}
	keys = append(keys, l.prefix+"r:"+id)
	us, err := gcraScript.Run(ctx, l.rdb, keys, argv...).Int64()
	if err != nil {
		return 0, fmt.Errorf("send rate reserve: %w", err)
	}
	wait := time.Duration(us) * time.Microsecond
	if l.MaxWait > 0 {
		wait = min(wait, l.MaxWait)
	}
	return wait, nil
}

// Throttled records a throttling answer for the number from (Number) or the account (Account): nothing more
// goes on that scope for pause (DefaultPause when 0), then at a lowered rate for Cooldown. It returns the
// fraction of the configured rate now in force.
func (l *Limiter) Throttled(ctx context.Context, from string, s Scope, pause time.Duration) (float64, error) {
	if pause <= 0 {
		pause = l.Pause
	}
	key := l.accountKey()
	if s == Number {
		key = l.numberKey(from)
	}
	f, err := throttleScript.Run(ctx, l.rdb, []string{key}, pause.Microseconds(), l.Cooldown.Microseconds(),
		strconv.FormatFloat(l.MinFactor, 'f', 6, 64)).Int64()
	if err != nil {
		return 0, fmt.Errorf("send rate throttled: %w", err)
	}
	return float64(f) / 1000, nil
}

// throttleScopes maps the Telnyx error codes that mean "send slower" to what they slow: 10011 is the API's
// rate limit (the account), 40318 the sender's queue being full and 40002 a carrier's temporary spam flag
// (that number).
var throttleScopes = map[string]Scope{"10011": Account, "40318": Number, "40002": Number}

// ScopeOf says whether a failed send's Telnyx error code and HTTP status are a throttling answer, and what it
// slows. A 429 with no code it knows slows the account.
func ScopeOf(code string, status int) (Scope, bool) {
	if s, ok := throttleScopes[code]; ok {
		return s, true
	}
	return Account, status == 429
}
