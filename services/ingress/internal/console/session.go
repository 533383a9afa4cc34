package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Session cookie. Its value is "<id>.<expiry unix seconds>.<mac>": the id is random, the MAC is an
// HMAC-SHA256 under a key derived from ADMIN_TOKEN. The server keeps no session table, so every ingress
// replica accepts the cookie, and changing ADMIN_TOKEN signs every operator out. Sign-out records the id
// as revoked in Redis until the expiry.
const (
	cookieName = "smsconv_console"
	// SessionTTL is how long a sign-in lasts.
	SessionTTL = 8 * time.Hour
)

// errSession is any reason a cookie is not a valid session; the reason is never shown.
var errSession = errors.New("no valid session")

// session is a signed-in operator.
type session struct {
	ID      string
	Expires time.Time
}

// keys are derived from the admin token, one per purpose, so a MAC of one kind is never valid as another.
type keys struct {
	session, csrf []byte
	token         [32]byte
}

func newKeys(adminToken string) keys {
	derive := func(purpose string) []byte {
		m := hmac.New(sha256.New, []byte(adminToken))
		m.Write([]byte("smsconv console " + purpose))
		return m.Sum(nil)
	}
	return keys{session: derive("session"), csrf: derive("csrf"), token: sha256.Sum256([]byte(adminToken))}
}

// tokenOK compares a submitted admin token in constant time.
func (k keys) tokenOK(tok string) bool {
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], k.token[:]) == 1
}

func mac(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// newSession starts a session lasting SessionTTL from now.
func (k keys) newSession(now time.Time) (session, string) {
	var b [18]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	s := session{ID: base64.RawURLEncoding.EncodeToString(b[:]), Expires: now.Add(SessionTTL).Truncate(time.Second)}
	exp := strconv.FormatInt(s.Expires.Unix(), 10)
	return s, s.ID + "." + exp + "." + mac(k.session, s.ID, exp)
}

// parse checks a cookie value's MAC and expiry.
func (k keys) parse(v string, now time.Time) (session, error) {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return session{}, errSession
	}
	if !hmac.Equal([]byte(parts[2]), []byte(mac(k.session, parts[0], parts[1]))) {
		return session{}, errSession
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return session{}, errSession
	}
	return session{ID: parts[0], Expires: time.Unix(exp, 0)}, nil
}

// csrfToken is the token every state-changing form of session s must carry. It is bound to the session,
// so a token from another session (or a forged one) is refused.
func (k keys) csrfToken(s session) string { return mac(k.csrf, s.ID) }

func (k keys) csrfOK(s session, tok string) bool {
	return hmac.Equal([]byte(tok), []byte(k.csrfToken(s)))
}
