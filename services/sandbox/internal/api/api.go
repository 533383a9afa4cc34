// Package api is the sandbox's HTTP surface: the fake Telnyx Messaging API under /v2, the controls under
// /sandbox to read the phones' inboxes, inject faults and text our number as a user, and the web phone at /.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/smsconv/smsconv/services/sandbox/internal/simulator"
	"github.com/smsconv/smsconv/services/sandbox/internal/webphone"
	"github.com/smsconv/smsconv/shared/phone"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
)

// maxBody bounds the body of every /sandbox request.
const maxBody = 64 << 10

// Defaults are the faults the sandbox starts with (from its configuration); a reset returns to them.
type Defaults struct {
	FailureRate   float64
	FailureStatus int
	FailureCode   string
	Latency       time.Duration
}

// Apply sets d's faults on fake.
func (d Defaults) Apply(fake *fakeapi.Fake) {
	fake.SetLatency(d.Latency)
	fake.SetFailureRate(d.FailureRate, d.FailureStatus, d.FailureCode)
}

// API serves the sandbox's endpoints.
type API struct {
	fake      *fakeapi.Fake
	sim       *simulator.Simulator
	publicKey string
	defaults  Defaults
	log       *slog.Logger
}

// New returns the sandbox's HTTP handler. publicKey is the base64 key the ingress must verify webhooks with.
func New(fake *fakeapi.Fake, sim *simulator.Simulator, publicKey string, defaults Defaults, log *slog.Logger) http.Handler {
	a := &API{fake: fake, sim: sim, publicKey: publicKey, defaults: defaults, log: log.With("component", "api")}
	mux := http.NewServeMux()
	// The fake answers every /v2 path itself, with Telnyx-shaped 404 and 405 errors.
	mux.Handle("/v2/", fake)
	mux.HandleFunc("GET /sandbox/messages", a.listMessages)
	mux.HandleFunc("DELETE /sandbox/messages", a.reset)
	mux.HandleFunc("GET /sandbox/faults", a.getFaults)
	mux.HandleFunc("POST /sandbox/faults", a.setFaults)
	mux.HandleFunc("POST /sandbox/inbound", a.inbound)
	mux.HandleFunc("GET /sandbox/public-key", a.getPublicKey)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	webphone.Register(mux, sim)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, errors.New("not found"))
	})
	return a.logRequests(mux)
}

// listMessages is the phones' inbox: every message the fake accepted, optionally only those to one number.
func (a *API) listMessages(w http.ResponseWriter, r *http.Request) {
	msgs := a.fake.Messages()
	if to := r.URL.Query().Get("to"); to != "" {
		msgs = a.fake.MessagesTo(to)
	}
	if msgs == nil {
		msgs = []fakeapi.SentMessage{}
	}
	writeJSON(w, http.StatusOK, msgs)
}

// reset empties the inboxes and returns the faults to the configured ones.
func (a *API) reset(w http.ResponseWriter, _ *http.Request) {
	a.fake.Reset()
	a.defaults.Apply(a.fake)
	a.log.Info("sandbox reset")
	w.WriteHeader(http.StatusNoContent)
}

// FaultsRequest changes the injected faults; absent fields are left as they are.
type FaultsRequest struct {
	// FailNext makes the next N sends fail with Status (default 500) and Code (derived from Status if empty).
	FailNext *int `json:"fail_next,omitempty"`
	// FailAfterSend makes the next N sends succeed but be answered with Status (default 500) and Code, as when
	// the answer is lost after Telnyx sent the message.
	FailAfterSend *int `json:"fail_after_send,omitempty"`
	// FailureRate makes that fraction of sends fail with Status (default SANDBOX_FAILURE_STATUS) and Code.
	FailureRate *float64 `json:"failure_rate,omitempty"`
	Status      int      `json:"status,omitempty"`
	Code        string   `json:"code,omitempty"`
	// Latency is a Go duration ("200ms") added before each answer.
	Latency *string `json:"latency,omitempty"`
	// OptOut blocks sends to a number (403, code 40300) until OptIn.
	OptOut string `json:"opt_out,omitempty"`
	OptIn  string `json:"opt_in,omitempty"`
	// RateLimits sets the throughput the fake enforces (queue as a Go duration); zero values turn limits off.
	RateLimits *RateLimitsJSON `json:"rate_limits,omitempty"`
}

// RateLimitsJSON is fakeapi.RateLimits on the wire.
type RateLimitsJSON struct {
	Account   float64 `json:"account"`
	PerNumber float64 `json:"per_number"`
	Queue     string  `json:"queue,omitempty"`
}

// FaultsResponse is the faults in force.
type FaultsResponse struct {
	FailNext            int            `json:"fail_next"`
	FailNextStatus      int            `json:"fail_next_status,omitempty"`
	FailNextCode        string         `json:"fail_next_code,omitempty"`
	FailAfterSend       int            `json:"fail_after_send"`
	FailAfterSendStatus int            `json:"fail_after_send_status,omitempty"`
	FailAfterSendCode   string         `json:"fail_after_send_code,omitempty"`
	FailureRate         float64        `json:"failure_rate"`
	FailureStatus       int            `json:"failure_status,omitempty"`
	FailureCode         string         `json:"failure_code,omitempty"`
	Latency             string         `json:"latency"`
	OptedOut            []string       `json:"opted_out"`
	RateLimits          RateLimitsJSON `json:"rate_limits"`
	// RateRefused counts the sends refused for throughput since the limits were set.
	RateRefused int `json:"rate_refused"`
	// Requests counts every POST /v2/messages since the start or the last reset, failed and replayed ones included.
	Requests int `json:"requests"`
}

func (a *API) getFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.faults())
}

func (a *API) faults() FaultsResponse {
	f := a.fake.Faults()
	lim, refused := a.fake.RateLimits()
	return FaultsResponse{
		RateLimits:  RateLimitsJSON{Account: lim.Account, PerNumber: lim.PerNumber, Queue: lim.Queue.String()},
		RateRefused: refused,
		Requests:    a.fake.Requests(),
		FailNext:    f.FailNext, FailNextStatus: f.FailNextStatus, FailNextCode: f.FailNextCode,
		FailAfterSend: f.FailNextAfterSend, FailAfterSendStatus: f.FailAfterStatus, FailAfterSendCode: f.FailAfterCode,
		FailureRate: f.FailureRate, FailureStatus: f.FailureStatus, FailureCode: f.FailureCode,
		Latency: f.Latency.String(), OptedOut: f.OptedOut,
	}
}

func (a *API) setFaults(w http.ResponseWriter, r *http.Request) {
	var req FaultsRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	latency, err := validateFaults(req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if req.FailNext != nil {
		a.fake.FailNext(*req.FailNext, orStatus(req.Status, http.StatusInternalServerError), req.Code)
	}
	if req.FailAfterSend != nil {
		a.fake.FailNextAfterSend(*req.FailAfterSend, orStatus(req.Status, http.StatusInternalServerError), req.Code)
	}
	if req.FailureRate != nil {
		a.fake.SetFailureRate(*req.FailureRate, orStatus(req.Status, a.defaults.FailureStatus), req.Code)
	}
	if req.Latency != nil {
		a.fake.SetLatency(latency)
	}
	if req.OptOut != "" {
		a.fake.OptOut(req.OptOut)
	}
	if req.OptIn != "" {
		a.fake.OptIn(req.OptIn)
	}
	if req.RateLimits != nil {
		queue, _ := time.ParseDuration(orZero(req.RateLimits.Queue))
		a.fake.SetRateLimits(fakeapi.RateLimits{Account: req.RateLimits.Account, PerNumber: req.RateLimits.PerNumber, Queue: queue})
	}
	f := a.faults()
	a.log.Info("faults changed", "fail_next", f.FailNext, "failure_rate", f.FailureRate, "latency", f.Latency,
		"opted_out", len(f.OptedOut))
	writeJSON(w, http.StatusOK, f)
}

// validateFaults checks a faults request and returns its parsed latency.
func validateFaults(req FaultsRequest) (time.Duration, error) {
	var latency time.Duration
	switch {
	case req.FailNext != nil && (*req.FailNext < 0 || *req.FailNext > 1_000_000):
		return 0, errors.New("fail_next must be between 0 and 1000000")
	case req.FailAfterSend != nil && (*req.FailAfterSend < 0 || *req.FailAfterSend > 1_000_000):
		return 0, errors.New("fail_after_send must be between 0 and 1000000")
	case req.FailureRate != nil && (*req.FailureRate < 0 || *req.FailureRate > 1):
		return 0, errors.New("failure_rate must be between 0 and 1")
	case req.Status != 0 && (req.Status < 400 || req.Status > 599):
		return 0, errors.New("status must be an HTTP error status (400-599)")
	case (req.Status != 0 || req.Code != "") && req.FailNext == nil && req.FailAfterSend == nil && req.FailureRate == nil:
		return 0, errors.New("status and code apply to fail_next, fail_after_send or failure_rate: give one of them")
	case req.OptOut != "" && !simulator.PlausibleNumber(req.OptOut):
		return 0, errors.New("opt_out must be an E.164 number like +13125550123")
	case req.OptIn != "" && !simulator.PlausibleNumber(req.OptIn):
		return 0, errors.New("opt_in must be an E.164 number like +13125550123")
	}
	if r := req.RateLimits; r != nil {
		if q, err := time.ParseDuration(orZero(r.Queue)); err != nil || q < 0 || r.Account < 0 || r.PerNumber < 0 {
			return 0, errors.New("rate_limits: account and per_number are segments per second (0 for none), queue a duration like \"10s\"")
		}
	}
	if req.Latency != nil {
		d, err := time.ParseDuration(*req.Latency)
		if err != nil || d < 0 || d > time.Minute {
			return 0, fmt.Errorf("latency must be a duration between 0s and 1m, like \"200ms\", got %q", *req.Latency)
		}
		latency = d
	}
	return latency, nil
}

// orZero reads an absent duration as none.
func orZero(d string) string {
	if d == "" {
		return "0s"
	}
	return d
}

func orStatus(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// InboundRequest is a text from a simulated user to our number.
type InboundRequest struct {
	// From defaults to SANDBOX_USER_NUMBER, To to TELNYX_PHONE_NUMBER.
	From  string  `json:"from,omitempty"`
	To    string  `json:"to,omitempty"`
	Text  string  `json:"text,omitempty"`
	Media []Media `json:"media,omitempty"`
	// Wait is a Go duration ("5s"): how long to wait for our reply; empty or "0s" does not wait.
	Wait string `json:"wait,omitempty"`
}

// Media is an MMS attachment; in JSON either {"url","content_type","size"} or just the URL as a string.
type Media struct {
	URL         string `json:"url"`
	ContentType string `json:"content_type,omitempty"`
	Size        int64  `json:"size,omitempty"`
}

// UnmarshalJSON accepts a bare URL string as well as an object.
func (m *Media) UnmarshalJSON(b []byte) error {
	var url string
	if err := json.Unmarshal(b, &url); err == nil {
		*m = Media{URL: url}
		return nil
	}
	type plain Media
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("media must be a URL or an object with url: %w", err)
	}
	*m = Media(p)
	return nil
}

// InboundResponse tells what became of a simulated text.
type InboundResponse struct {
	// WebhookStatus is the ingress's HTTP status, 0 if it could not be reached.
	WebhookStatus int `json:"webhook_status"`
	// WebhookBody is the start of the ingress's answer when it rejected the webhook.
	WebhookBody string `json:"webhook_body,omitempty"`
	EventID     string `json:"event_id,omitempty"`
	MessageID   string `json:"message_id,omitempty"`
	// From and To are the text's numbers, defaults applied.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Reply is our reply to the user, null when not waited for or not sent in time (then TimedOut is true).
	Reply    *fakeapi.SentMessage `json:"reply"`
	TimedOut bool                 `json:"timed_out"`
	// OptedOut is true while the user is opted out (texted STOP): our replies to them are blocked, so a
	// timed-out wait means blocked, not lost. OptedIn is true when this text (START, UNSTOP) opted them back in.
	OptedOut bool `json:"opted_out"`
	OptedIn  bool `json:"opted_in"`
	// Error says why the webhook was not accepted.
	Error string `json:"error,omitempty"`
}

func (a *API) inbound(w http.ResponseWriter, r *http.Request) {
	var req InboundRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	var wait time.Duration
	if req.Wait != "" {
		d, err := time.ParseDuration(req.Wait)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("wait must be a duration like \"5s\", got %q", req.Wait))
			return
		}
		wait = d
	}
	text := simulator.Text{From: req.From, To: req.To, Text: req.Text, Wait: wait}
	for _, m := range req.Media {
		text.Media = append(text.Media, fakeapi.Media{URL: m.URL, ContentType: m.ContentType, Size: m.Size})
	}
	res, err := a.sim.Send(r.Context(), text)
	out := InboundResponse{WebhookStatus: res.WebhookStatus, EventID: res.EventID, MessageID: res.MessageID,
		From: res.From, To: res.To,
		Reply: res.Reply, TimedOut: res.TimedOut, OptedOut: res.OptedOut, OptedIn: res.OptedIn}
	switch {
	case errors.Is(err, simulator.ErrInvalid):
		writeError(w, http.StatusBadRequest, err)
	case errors.Is(err, simulator.ErrWebhookRejected):
		out.WebhookBody, out.Error = res.WebhookBody, err.Error()
		writeJSON(w, http.StatusBadGateway, out)
	case errors.Is(err, simulator.ErrWebhookFailed):
		out.Error = err.Error()
		writeJSON(w, http.StatusBadGateway, out)
	case err != nil:
		// The caller went away while waiting; nobody reads this answer.
		writeError(w, http.StatusServiceUnavailable, err)
	default:
		writeJSON(w, http.StatusOK, out)
	}
}

func (a *API) getPublicKey(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"public_key": a.publicKey})
}

// decode reads a JSON body strictly (with a size limit and no unknown fields), so typos in fault names are
// reported instead of silently ignored.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// statusRecorder remembers the status a handler wrote, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the status and passes it on.
func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// logRequests logs every request at debug level; numbers in the query are masked.
func (a *API) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start)}
		if to := r.URL.Query().Get("to"); to != "" {
			attrs = append(attrs, "to", phone.Mask(to))
		}
		a.log.Debug("request", attrs...)
	})
}
