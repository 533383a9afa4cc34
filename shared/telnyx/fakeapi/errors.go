package fakeapi

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Telnyx error codes the fake answers with. They are the codes Telnyx documents for the Messaging API, so a
// client that branches on errors[].code (as it should) behaves against the fake as against Telnyx.
const (
	CodeMissingParameter   = "10004" // a required parameter is missing (source.pointer names it)
	CodeInvalidURL         = "10003"
	CodeNotFound           = "10005"
	CodeUnexpected         = "10007" // Telnyx's generic 5xx
	CodeTimeout            = "10008"
	CodeAuthFailed         = "10009"
	CodeTooManyRequests    = "10011"
	CodeUnsupportedMedia   = "10014"
	CodeBadRequest         = "10015"
	CodeNotE164            = "10016"
	CodeBlockedSTOP        = "40300" // recipient opted out: never retry
	CodeInvalidFromAddress = "40305"
	CodeInvalidToAddress   = "40310"
)

// titles maps each code to the title Telnyx gives it; injected failures with a known code get the same title and
// detail as the real thing.
var titles = map[string]struct{ title, detail string }{
	CodeMissingParameter:   {"Missing required parameter", "A required parameter was missing."},
	CodeInvalidURL:         {"Invalid URL", "The URL provided was invalid, malformed, or too long. URLs can be a maximum of 2000 characters."},
	CodeNotFound:           {"Resource not found", "The requested resource or URL could not be found."},
	CodeUnexpected:         {"Unexpected error", "An unexpected error occurred."},
	CodeTimeout:            {"Request timeout", "The request timed out."},
	CodeAuthFailed:         {"Authentication failed", "The required authentication headers were either invalid or not included in the request."},
	"10010":                {"Authorization failed", "You do not have permission to perform the requested action on the specified resource or resources."},
	CodeTooManyRequests:    {"Too many requests", "You have exceeded the maximum number of allowed requests."},
	CodeUnsupportedMedia:   {"Unsupported Media Type", "The request failed because the server does not support the media type."},
	CodeBadRequest:         {"Bad Request", "The request failed because it was not well-formed."},
	CodeNotE164:            {"Phone number must be in +E.164 format", "The specified phone number parameter must be in +E.164 format."},
	CodeBlockedSTOP:        {"Blocked due to STOP message", "Messages cannot be sent from 'from' to 'to' due to an existing block rule."},
	CodeInvalidFromAddress: {"Invalid 'from' address", "The 'from' address should be a valid number, short code or alphanumeric sender ID that you own."},
	CodeInvalidToAddress:   {"Invalid 'to' address", "The 'to' address should be a single valid number."},
}

// defaultCodes picks the code of an injected failure given only its status.
var defaultCodes = map[int]string{
	http.StatusBadRequest:          CodeBadRequest,
	http.StatusUnauthorized:        CodeAuthFailed,
	http.StatusForbidden:           "10010",
	http.StatusNotFound:            CodeNotFound,
	http.StatusRequestTimeout:      CodeTimeout,
	http.StatusUnprocessableEntity: CodeBadRequest,
	http.StatusTooManyRequests:     CodeTooManyRequests,
	http.StatusGatewayTimeout:      CodeTimeout,
}

// apiError is one entry of Telnyx's {"errors":[...]} body.
type apiError struct {
	Code   string       `json:"code"`
	Title  string       `json:"title"`
	Detail string       `json:"detail,omitempty"`
	Source *errorSource `json:"source,omitempty"`
	Meta   *errorMeta   `json:"meta,omitempty"`
}

type errorSource struct {
	Pointer string `json:"pointer"`
}

type errorMeta struct {
	URL string `json:"url"`
}

// failure is a non-2xx answer: the status and the single error Telnyx would put in the body.
type failure struct {
	status int
	err    apiError
	// limit and reset, when set, are the x-ratelimit-limit and the seconds of x-ratelimit-reset and
	// Retry-After of a 429 (the fake's throughput limits); otherwise the fixed rateLimit and one second.
	limit, reset int
}

// newFailure builds a failure for code, with Telnyx's title; detail replaces the standard detail when set.
func newFailure(status int, code, detail string) *failure {
	t, ok := titles[code]
	if !ok {
		t.title = http.StatusText(status)
	}
	if detail == "" {
		detail = t.detail
	}
	return &failure{status: status, err: apiError{
		Code:   code,
		Title:  t.title,
		Detail: detail,
		Meta:   &errorMeta{URL: "https://developers.telnyx.com/docs/overview/errors/" + code},
	}}
}

// at sets the JSON pointer of the offending request field.
func (f *failure) at(pointer string) *failure {
	f.err.Source = &errorSource{Pointer: pointer}
	return f
}

// injectedFailure builds the answer of an injected fault; an empty code is derived from the status.
func injectedFailure(status int, code string) *failure {
	if code == "" {
		code = defaultCodes[status]
		if code == "" {
			code = CodeUnexpected
		}
	}
	return newFailure(status, code, "")
}

// write sends the failure as Telnyx does, with rate-limit headers on a 429 so clients can honour them.
func (f *failure) write(w http.ResponseWriter) {
	if f.status == http.StatusTooManyRequests {
		h := w.Header()
		limit, reset := rateLimit, 1
		if f.limit > 0 {
			limit = f.limit
		}
		if f.reset > 0 {
			reset = f.reset
		}
		h.Set("x-ratelimit-limit", strconv.Itoa(limit))
		h.Set("x-ratelimit-remaining", "0")
		h.Set("x-ratelimit-reset", strconv.Itoa(reset))
		h.Set("Retry-After", strconv.Itoa(reset))
	}
	body, _ := json.Marshal(struct {
		Errors []apiError `json:"errors"`
	}{[]apiError{f.err}})
	writeJSON(w, f.status, body)
}

// rateLimit is the request budget the fake reports in x-ratelimit-limit.
const rateLimit = 100

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
