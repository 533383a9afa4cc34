// Package ids maps the ids this product keeps (Telnyx's inbound message ids, our reply ids, /sms/send ids) to
// keys that are safe everywhere an id goes: a Redis key, a NATS message id, and Telnyx's Idempotency-Key
// (letters, digits, '_', ':' and '-', at most 255 characters).
//
// The mapping is injective: two different (kind, id) pairs never give one key. Each kind has its own prefix
// (in_, rpl_, snd_, opr_), none a prefix of another, so kinds never meet. After the prefix the id is escaped:
// letters, digits and '-' stand for themselves, '_' is written "__", and every other byte "_XX" (upper-case
// hex). That code is prefix-free, so it is injective, and it never writes ':', which is left to separate the
// parts of a key. A reply key is rpl_<escaped inbound id>:<n> (reply n of that inbound message). A key that
// would be longer than MaxLen keeps the start of the escaped id and ends in ":h" plus the SHA-256 of the id,
// so it is told apart from any short key by its count of ':'; two long ids meet only if SHA-256 collides.
package ids

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// MaxLen is the longest key Telnyx accepts as an Idempotency-Key.
const MaxLen = 255

// Prefixes of the kinds of key.
const (
	PrefixInbound = "in_"
	PrefixReply   = "rpl_"
	PrefixSend    = "snd_"
	// PrefixOperator keys messages an operator sends from the console, apart from /sms/send's ids so an API
	// caller's Idempotency-Key can never name (or replace) an operator's message.
	PrefixOperator = "opr_"
)

// Inbound is the key of the inbound message Telnyx identifies as id.
func Inbound(id string) string { return key(PrefixInbound, id, "") }

// Reply is the key of reply n (counted from 1) to the inbound message Telnyx identifies as inboundID. It is
// also the Idempotency-Key the reply is sent with.
func Reply(inboundID string, n int) string {
	return key(PrefixReply, inboundID, ":"+strconv.Itoa(n))
}

// Send is the key of a message queued through /sms/send: id is the caller's Idempotency-Key, or an id the
// ingress generated for a request without one.
func Send(id string) string { return key(PrefixSend, id, "") }

// Operator is the key of a message an operator sent from the console; id is the form's own id.
func Operator(id string) string { return key(PrefixOperator, id, "") }

// Valid reports whether k is a key Telnyx accepts as an Idempotency-Key: 1 to MaxLen letters, digits, '_',
// ':' or '-'. Every key this package returns is valid.
func Valid(k string) bool {
	if k == "" || len(k) > MaxLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !safe(k[i]) && k[i] != '_' && k[i] != ':' {
			return false
		}
	}
	return true
}

// safe bytes stand for themselves in an escaped id.
func safe(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
}

// hashSuffixLen is the length of ":h" plus a hex SHA-256.
const hashSuffixLen = 2 + 2*sha256.Size

func key(prefix, id, suffix string) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(id) + len(suffix))
	b.WriteString(prefix)
	escape(&b, id)
	if b.Len()+len(suffix) <= MaxLen {
		b.WriteString(suffix)
		return b.String()
	}
	// Too long: keep what fits of the escaped id (for people reading keys), then the hash of the whole id.
	k := b.String()[:MaxLen-hashSuffixLen-len(suffix)]
	sum := sha256.Sum256([]byte(id))
	return k + ":h" + hex.EncodeToString(sum[:]) + suffix
}

// escape writes the escaped form of id (see the package documentation).
func escape(b *strings.Builder, id string) {
	const digits = "0123456789ABCDEF"
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case safe(c):
			b.WriteByte(c)
		case c == '_':
			b.WriteString("__")
		default:
			b.WriteByte('_')
			b.WriteByte(digits[c>>4])
			b.WriteByte(digits[c&0xF])
		}
	}
}
