// Package fakeapi is a faithful fake of Telnyx's Messaging API (POST /v2/messages) with failure injection, and
// a signer that produces webhooks the way Telnyx sends them. The local sandbox ships it, so it is a normal package
// that links neither testing nor httptest (telnyxtest wraps it for tests); integration tests and the
// fault-injection suite use it too. It answers like Telnyx does: the same status codes, error codes, response shape,
// rate-limit headers and Idempotency-Key semantics.
package fakeapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/smsconv/smsconv/shared/ids"
	smstext "github.com/smsconv/smsconv/shared/sms"
)

// Limits of the fake, matching Telnyx's where Telnyx documents one.
const (
	// MaxTextLength is the longest text, in characters, the fake accepts in one message.
	MaxTextLength = 1600
	// IdempotencyTTL is how long a successful response is replayed for its Idempotency-Key.
	IdempotencyTTL = 24 * time.Hour
	// MaxIdempotencyKeyLength is the longest Idempotency-Key accepted.
	MaxIdempotencyKeyLength = ids.MaxLen

	maxBodyBytes  = 1 << 20
	maxURLLength  = 2000
	maxMediaCount = 10
	messagesPath  = "/v2/messages"
)

// Options configures a Fake.
type Options struct {
	// APIKey, if non-empty, is the only Bearer key accepted; otherwise any non-empty key is.
	APIKey string
	// Latency is the delay before answering each send.
	Latency time.Duration
	// Now is the clock used for timestamps and idempotency expiry; time.Now when nil.
	Now func() time.Time
	// RateLimits is the throughput enforced from the start and after Reset (none when zero).
	RateLimits RateLimits
	// PoolNumber is the sender of a send that names a messaging_profile_id but no from, as Telnyx picks one
	// from the profile's number pool; DefaultOurNumber when empty.
	PoolNumber string
}

// SentMessage is one message the fake accepted and "delivered to a phone" (deduplicated by Idempotency-Key).
type SentMessage struct {
	ID                 string   `json:"id"`
	From               string   `json:"from"`
	To                 string   `json:"to"`
	Text               string   `json:"text"`
	IdempotencyKey     string   `json:"idempotency_key,omitempty"`
	MessagingProfileID string   `json:"messaging_profile_id,omitempty"`
	WebhookURL         string   `json:"webhook_url,omitempty"`
	MediaURLs          []string `json:"media_urls,omitempty"`
	// Parts is the segments the text is billed as.
	Parts int       `json:"parts"`
	At    time.Time `json:"at"`
}

func (m SentMessage) clone() SentMessage {
	m.MediaURLs = slices.Clone(m.MediaURLs)
	return m
}

// Faults is a snapshot of the faults currently injected into a Fake.
type Faults struct {
	// FailNext is how many of the next sends will fail with FailNextStatus and FailNextCode.
	FailNext       int
	FailNextStatus int
	FailNextCode   string
	// FailNextAfterSend is how many of the next successful sends will be answered with FailAfterStatus and
	// FailAfterCode although the message was sent.
	FailNextAfterSend int
	FailAfterStatus   int
	FailAfterCode     string
	// FailureRate is the fraction of sends that fail at random with FailureStatus and FailureCode.
	FailureRate   float64
	FailureStatus int
	FailureCode   string
	Latency       time.Duration
	// OptedOut lists the numbers that sends fail to with 40300, sorted.
	OptedOut []string
}

// Fake is an http.Handler serving POST /v2/messages like Telnyx. It is safe for concurrent use.
type Fake struct {
	apiKey         string
	poolNumber     string
	now            func() time.Time
	defaultLatency time.Duration
	defaultRate    RateLimits

	mu        sync.Mutex
	latency   time.Duration
	messages  []SentMessage
	requests  int
	failNext  int
	nextErr   fault
	failAfter int
	afterErr  fault
	failRate  float64
	rateErr   fault
	optedOut  map[string]struct{}
	onSend    func(SentMessage)
	rate      limiter
	idem      map[string]idemRecord
	lastSweep time.Time
	// changed is closed and replaced whenever messages change, to wake WaitForMessages.
	changed chan struct{}
	// random draws the failure-rate dice; tests of the package replace it to be deterministic.
	random func() float64
}

type fault struct {
	status int
	code   string
}

// idemRecord is a successful response remembered for its Idempotency-Key.
type idemRecord struct {
	bodyHash [sha256.Size]byte
	response []byte
	expires  time.Time
}

// NewFake returns a fake with no messages and no faults.
func NewFake(o Options) *Fake {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Fake{
		apiKey:         o.APIKey,
		poolNumber:     orDefault(o.PoolNumber, DefaultOurNumber),
		now:            now,
		defaultLatency: o.Latency,
		latency:        o.Latency,
		optedOut:       map[string]struct{}{},
		defaultRate:    o.RateLimits,
		rate:           newLimiter(o.RateLimits),
		idem:           map[string]idemRecord{},
		changed:        make(chan struct{}),
		random:         rand.Float64, // fault-injection dice, not security
	}
}

// Messages returns the accepted messages in acceptance order (a copy).
func (f *Fake) Messages() []SentMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.messagesLocked()
}

func (f *Fake) messagesLocked() []SentMessage {
	out := make([]SentMessage, len(f.messages))
	for i, m := range f.messages {
		out[i] = m.clone()
	}
	return out
}

// MessagesTo returns the accepted messages sent to the number to, in acceptance order.
func (f *Fake) MessagesTo(to string) []SentMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []SentMessage{}
	for _, m := range f.messages {
		if m.To == to {
			out = append(out, m.clone())
		}
	}
	return out
}

// Requests returns how many POST /v2/messages requests the fake received, including failed and replayed ones.
func (f *Fake) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// Reset makes the fake as new: it forgets messages, the request count and idempotency records, clears every
// injected fault and opt-out, and restores the latency and rate limits from Options. The OnSend hook is kept.
func (f *Fake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.messages = nil
	f.requests = 0
	f.failNext, f.nextErr = 0, fault{}
	f.failAfter, f.afterErr = 0, fault{}
	f.failRate, f.rateErr = 0, fault{}
	f.latency = f.defaultLatency
	f.rate = newLimiter(f.defaultRate)
	clear(f.optedOut)
	clear(f.idem)
	f.notifyLocked()
}

// WaitForMessages waits until at least n messages have been accepted and returns them. If ctx ends first it
// returns the messages accepted so far and an error wrapping ctx's.
func (f *Fake) WaitForMessages(ctx context.Context, n int) ([]SentMessage, error) {
	for {
		f.mu.Lock()
		if len(f.messages) >= n {
			out := f.messagesLocked()
			f.mu.Unlock()
			return out, nil
		}
		changed := f.changed
		f.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			got := f.Messages()
			return got, fmt.Errorf("wait for %d messages, have %d: %w", n, len(got), ctx.Err())
		}
	}
}

// SetLatency sets the delay before answering each send.
func (f *Fake) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// FailNext makes the next n sends answer with status and the Telnyx error code (derived from the status when
// empty: 429 gives 10011, 5xx 10007, ...). A 429 carries x-ratelimit-* and Retry-After headers. n <= 0 cancels.
func (f *Fake) FailNext(n int, status int, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext = max(n, 0)
	f.nextErr = fault{status: status, code: code}
}

// FailNextAfterSend makes the next n sends that would succeed be accepted (recorded, and remembered for their
// Idempotency-Key) but answered with status and code, as when Telnyx sent the message and the answer was lost on
// the way back. A retry with the same key then gets the original success; a retry without one sends a duplicate.
// n <= 0 cancels.
func (f *Fake) FailNextAfterSend(n int, status int, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAfter = max(n, 0)
	f.afterErr = fault{status: status, code: code}
}

// SetFailureRate makes a random fraction rate of sends fail with status and code (see FailNext). A rate of 0
// turns random failures off.
func (f *Fake) SetFailureRate(rate float64, status int, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failRate = min(max(rate, 0), 1)
	f.rateErr = fault{status: status, code: code}
}

// OptOut makes sends to number fail with 403 and code 40300, as Telnyx does after the user texted STOP, until
// OptIn.
func (f *Fake) OptOut(number string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.optedOut[strings.TrimSpace(number)] = struct{}{}
}

// OptIn lifts OptOut for number.
func (f *Fake) OptIn(number string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.optedOut, strings.TrimSpace(number))
}

// OnSend sets a hook called with each newly accepted message (never for replays). It runs on the request's
// goroutine before the response is written, so by the time the sender has its answer the hook has run; it must
// not call back into a send.
func (f *Fake) OnSend(hook func(SentMessage)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onSend = hook
}

// Faults returns the faults currently injected.
func (f *Fake) Faults() Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := Faults{
		FailNext:       f.failNext,
		FailNextStatus: f.nextErr.status,
		FailNextCode:   f.nextErr.code,

		FailNextAfterSend: f.failAfter,
		FailAfterStatus:   f.afterErr.status,
		FailAfterCode:     f.afterErr.code,

		FailureRate:   f.failRate,
		FailureStatus: f.rateErr.status,
		FailureCode:   f.rateErr.code,
		Latency:       f.latency,
		OptedOut:      make([]string, 0, len(f.optedOut)),
	}
	for n := range f.optedOut {
		out.OptedOut = append(out.OptedOut, n)
	}
	slices.Sort(out.OptedOut)
	return out
}

func (f *Fake) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// ServeHTTP answers POST /v2/messages like Telnyx; any other path is 404 and any other method 405.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != messagesPath {
		newFailure(http.StatusNotFound, CodeNotFound, "").write(w)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		newFailure(http.StatusMethodNotAllowed, CodeBadRequest, "Only POST is supported on /v2/messages.").write(w)
		return
	}
	f.mu.Lock()
	f.requests++
	latency := f.latency
	f.mu.Unlock()

	// Read the body first: only then does net/http notice a client that hangs up during the latency.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		newFailure(http.StatusBadRequest, CodeBadRequest, "The request body could not be read or is too large.").write(w)
		return
	}
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the client gave up; nothing is sent, as when a request to Telnyx times out before it lands
		}
	}
	token, ok := f.authenticate(r.Header.Get("Authorization"))
	if !ok {
		newFailure(http.StatusUnauthorized, CodeAuthFailed, "").write(w)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			newFailure(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Content-Type must be application/json.").write(w)
			return
		}
	}
	key := r.Header.Get("Idempotency-Key")
	if r.Header.Values("Idempotency-Key") != nil && !ids.Valid(key) {
		newFailure(http.StatusUnprocessableEntity, CodeBadRequest, fmt.Sprintf(
			"The Idempotency-Key header must be 1 to %d letters, digits, '_', ':' or '-'.", MaxIdempotencyKeyLength)).write(w)
		return
	}

	res := f.send(token, key, body)
	if res.accepted != nil && res.hook != nil {
		res.hook(res.accepted.clone())
	}
	if res.fail != nil {
		res.fail.write(w)
		return
	}
	writeJSON(w, http.StatusOK, res.response)
}

// authenticate returns the Bearer token of an Authorization header and whether it is accepted.
func (f *Fake) authenticate(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	if f.apiKey != "" && subtle.ConstantTimeCompare([]byte(token), []byte(f.apiKey)) != 1 {
		return "", false
	}
	return token, true
}

// sendResult is the outcome of one send: a failure, or a response (new or replayed).
type sendResult struct {
	fail     *failure
	response []byte
	accepted *SentMessage // set only for a newly accepted message, even when answered with a failure
	hook     func(SentMessage)
}

// send does all the bookkeeping of one send under the lock, so concurrent requests with the same
// Idempotency-Key are serialised and cannot both create a message.
func (f *Fake) send(token, key string, body []byte) sendResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()

	// Keys are scoped to the API key, as Telnyx scopes them to the account.
	scope := token + "\x00" + key
	hash := sha256.Sum256(body)
	if key != "" {
		f.sweepLocked(now)
		if rec, ok := f.idem[scope]; ok && now.Before(rec.expires) {
			if rec.bodyHash != hash {
				return sendResult{fail: newFailure(http.StatusUnprocessableEntity, CodeBadRequest,
					"This Idempotency-Key was already used with a different request body; an idempotent retry must send a byte-identical body.")}
			}
			return sendResult{response: rec.response}
		}
	}
	// Injected faults model Telnyx failing before it looks at the request, and are never remembered for the key,
	// so a retry after one may succeed.
	if fl := f.injectedLocked(); fl != nil {
		return sendResult{fail: fl}
	}
	req, fl := parseSend(body)
	if fl != nil {
		return sendResult{fail: fl}
	}
	if req.From == "" {
		req.From = f.poolNumber // parseSend allows this only with a messaging_profile_id
	}
	if _, blocked := f.optedOut[req.to]; blocked {
		return sendResult{fail: newFailure(http.StatusForbidden, CodeBlockedSTOP, fmt.Sprintf(
			"Messages cannot be sent from '%s' to '%s' due to an existing block rule.", req.From, req.to)).at("/to")}
	}

	_, parts := encodingAndParts(req.Text)
	if fl := f.rate.admit(req.From, parts, now); fl != nil {
		return sendResult{fail: fl}
	}
	msg := SentMessage{
		ID:                 newUUID(),
		Parts:              parts,
		From:               req.From,
		To:                 req.to,
		Text:               req.Text,
		IdempotencyKey:     key,
		MessagingProfileID: req.MessagingProfileID,
		WebhookURL:         req.WebhookURL,
		MediaURLs:          slices.Clone(req.MediaURLs),
		At:                 now,
	}
	response, err := json.Marshal(struct {
		Data messageRecord `json:"data"`
	}{outboundRecord(msg, req.WebhookFailoverURL, now)})
	if err != nil {
		return sendResult{fail: newFailure(http.StatusInternalServerError, CodeUnexpected, "")}
	}
	f.messages = append(f.messages, msg)
	if key != "" {
		f.idem[scope] = idemRecord{bodyHash: hash, response: response, expires: now.Add(IdempotencyTTL)}
	}
	f.notifyLocked()
	res := sendResult{response: response, accepted: &msg, hook: f.onSend}
	if f.failAfter > 0 {
		f.failAfter--
		res.fail = injectedFailure(f.afterErr.status, f.afterErr.code)
	}
	return res
}

// injectedLocked returns the failure of an injected fault for this send, consuming a FailNext.
func (f *Fake) injectedLocked() *failure {
	if f.failNext > 0 {
		f.failNext--
		return injectedFailure(f.nextErr.status, f.nextErr.code)
	}
	if f.failRate > 0 && f.random() < f.failRate {
		return injectedFailure(f.rateErr.status, f.rateErr.code)
	}
	return nil
}

// sweepLocked drops expired idempotency records, at most once a minute of the fake's clock, so a long soak does
// not grow the map without bound.
func (f *Fake) sweepLocked(now time.Time) {
	if now.Sub(f.lastSweep) < time.Minute {
		return
	}
	f.lastSweep = now
	for k, rec := range f.idem {
		if !now.Before(rec.expires) {
			delete(f.idem, k)
		}
	}
}

// sendRequest is the body of POST /v2/messages. Fields the fake does not model are ignored, as Telnyx ignores
// unknown ones.
type sendRequest struct {
	From               string          `json:"from"`
	To                 json.RawMessage `json:"to"`
	Text               string          `json:"text"`
	MessagingProfileID string          `json:"messaging_profile_id"`
	MediaURLs          []string        `json:"media_urls"`
	WebhookURL         string          `json:"webhook_url"`
	WebhookFailoverURL string          `json:"webhook_failover_url"`

	to string // the single recipient, from To
}

// parseSend decodes and validates a send body, answering the way Telnyx does for each problem.
func parseSend(body []byte) (sendRequest, *failure) {
	var req sendRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return req, newFailure(http.StatusBadRequest, CodeBadRequest, "The request body is not valid JSON: "+err.Error())
	}
	to, fl := parseTo(req.To)
	if fl != nil {
		return req, fl
	}
	req.to = to
	switch {
	case req.From == "" && req.MessagingProfileID == "":
		return req, newFailure(http.StatusUnprocessableEntity, CodeMissingParameter,
			"The 'from' parameter is required unless a 'messaging_profile_id' with a number pool is given.").at("/from")
	case req.From != "" && !validFrom(req.From):
		return req, newFailure(http.StatusUnprocessableEntity, CodeInvalidFromAddress, "").at("/from")
	case req.Text == "" && len(req.MediaURLs) == 0:
		return req, newFailure(http.StatusUnprocessableEntity, CodeMissingParameter,
			"Either 'text' or 'media_urls' is required.").at("/text")
	case utf8.RuneCountInString(req.Text) > MaxTextLength:
		return req, newFailure(http.StatusUnprocessableEntity, CodeBadRequest,
			fmt.Sprintf("The 'text' parameter must be at most %d characters.", MaxTextLength)).at("/text")
	case smstext.Count(req.Text).Parts > smstext.MaxParts:
		// Telnyx sends at most 10 segments: 1,600 GSM-7 characters, but only 670 UCS-2 units.
		return req, newFailure(http.StatusUnprocessableEntity, CodeBadRequest,
			fmt.Sprintf("The 'text' parameter must fit in %d segments.", smstext.MaxParts)).at("/text")
	case len(req.MediaURLs) > maxMediaCount:
		return req, newFailure(http.StatusUnprocessableEntity, CodeBadRequest,
			fmt.Sprintf("At most %d 'media_urls' are allowed.", maxMediaCount)).at("/media_urls")
	}
	for i, u := range req.MediaURLs {
		if !validURL(u) {
			return req, newFailure(http.StatusUnprocessableEntity, CodeInvalidURL, "").at(fmt.Sprintf("/media_urls/%d", i))
		}
	}
	for _, hook := range []struct{ name, url string }{
		{"webhook_url", req.WebhookURL}, {"webhook_failover_url", req.WebhookFailoverURL},
	} {
		if hook.url != "" && !validURL(hook.url) {
			return req, newFailure(http.StatusUnprocessableEntity, CodeInvalidURL, "").at("/" + hook.name)
		}
	}
	return req, nil
}

// parseTo reads "to", which Telnyx accepts as a string or as an array of exactly one string.
func parseTo(raw json.RawMessage) (string, *failure) {
	invalid := newFailure(http.StatusUnprocessableEntity, CodeInvalidToAddress, "").at("/to")
	if len(raw) == 0 || string(raw) == "null" {
		return "", newFailure(http.StatusUnprocessableEntity, CodeMissingParameter, "The 'to' parameter is required.").at("/to")
	}
	var to string
	if err := json.Unmarshal(raw, &to); err != nil {
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil || len(list) != 1 {
			return "", invalid
		}
		to = list[0]
	}
	if to == "" {
		return "", newFailure(http.StatusUnprocessableEntity, CodeMissingParameter, "The 'to' parameter is required.").at("/to")
	}
	if !plausibleE164(to) {
		return "", invalid
	}
	return to, nil
}

// plausibleE164 reports whether s looks like an E.164 number: "+" and 8 to 15 digits, not starting with 0.
// It deliberately does not use libphonenumber, so fictional 555 numbers work in tests.
func plausibleE164(s string) bool {
	digits, ok := strings.CutPrefix(s, "+")
	if !ok || len(digits) < 8 || len(digits) > 15 || digits[0] == '0' {
		return false
	}
	return allDigits(digits)
}

// validFrom accepts what Telnyx accepts as a sender: an E.164 number, a short code (5-6 digits) or an
// alphanumeric sender ID (1-11 letters, digits or spaces, with at least one letter).
func validFrom(s string) bool {
	switch {
	case strings.HasPrefix(s, "+"):
		return plausibleE164(s)
	case allDigits(s):
		return len(s) == 5 || len(s) == 6
	case len(s) > 11:
		return false
	}
	letter := false
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9' || c == ' ':
		default:
			return false
		}
	}
	return letter
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func validURL(s string) bool {
	if len(s) > maxURLLength {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// outboundRecord is the message object Telnyx answers a send with: queued, not yet sent.
func outboundRecord(m SentMessage, failoverURL string, now time.Time) messageRecord {
	enc, parts := encodingAndParts(m.Text)
	typ := "SMS"
	media := []mediaRecord{}
	for _, u := range m.MediaURLs {
		media = append(media, mediaRecord{URL: u})
	}
	if len(media) > 0 {
		typ = "MMS"
	}
	return messageRecord{
		RecordType:         "message",
		Direction:          "outbound",
		ID:                 m.ID,
		Type:               typ,
		MessagingProfileID: nullable(m.MessagingProfileID),
		OrganizationID:     organizationID,
		From:               party{PhoneNumber: m.From, Carrier: ourCarrier, LineType: lineType},
		To:                 []party{{PhoneNumber: m.To, Status: "queued", Carrier: userCarrier, LineType: lineType}},
		Cc:                 []party{},
		Text:               m.Text,
		Media:              media,
		WebhookURL:         nullable(m.WebhookURL),
		WebhookFailoverURL: nullable(failoverURL),
		Encoding:           enc,
		Parts:              parts,
		Tags:               []string{},
		ReceivedAt:         formatTime(now),
		ValidUntil:         timePtr(now.Add(4 * time.Hour)),
		Errors:             []apiError{},
	}
}
