// Package say is the `sandbox say` command: it texts our number through a running sandbox, as a user would from
// a phone, and prints our reply.
package say

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/smsconv/smsconv/services/sandbox/internal/api"
)

// Errors of Run, each with the details in its message.
var (
	// ErrUsage is returned for bad arguments.
	ErrUsage = errors.New("usage")
	// ErrNoReply is returned when no reply came within --wait.
	ErrNoReply = errors.New("no reply")
	// ErrRejected is returned when the ingress did not accept the message.
	ErrRejected = errors.New("message not accepted")
)

// Run parses args (flags, then the text) and sends the text; the reply goes to stdout, usage to stderr.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("say", flag.ContinueOnError)
	fs.SetOutput(stderr)
	baseURL := fs.String("url", "http://127.0.0.1:8090", "the sandbox's base URL")
	from := fs.String("from", "", "the user's number (default: the sandbox's SANDBOX_USER_NUMBER)")
	to := fs.String("to", "", "our number (default: the sandbox's TELNYX_PHONE_NUMBER)")
	wait := fs.Duration("wait", 10*time.Second, "how long to wait for the reply (0 does not wait)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sandbox say [--url URL] [--from +1...] [--to +1...] [--wait 10s] TEXT...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	text := strings.Join(fs.Args(), " ")
	if strings.TrimSpace(text) == "" {
		fs.Usage()
		return fmt.Errorf("%w: nothing to say", ErrUsage)
	}
	if *wait < 0 {
		return fmt.Errorf("%w: --wait must not be negative", ErrUsage)
	}

	res, err := send(ctx, *baseURL, api.InboundRequest{From: *from, To: *to, Text: text, Wait: wait.String()}, *wait)
	if err != nil {
		return err
	}
	user := res.From
	if res.OptedIn {
		fmt.Fprintf(stdout, "[opted in] %s opted back in: replies are no longer blocked\n", user)
	}
	switch {
	case res.Reply != nil:
		if res.Reply.Text != "" {
			fmt.Fprintln(stdout, res.Reply.Text)
		}
		for _, u := range res.Reply.MediaURLs {
			fmt.Fprintln(stdout, "[media]", u)
		}
		if res.OptedOut {
			fmt.Fprintf(stdout, "[opted out] %s opted out: further replies are blocked until they text START or UNSTOP\n", user)
		}
	case res.TimedOut && res.OptedOut:
		fmt.Fprintf(stdout, "[blocked] no reply within %s: %s opted out (texted STOP), so replies are blocked "+
			"until they text START or UNSTOP\n", *wait, user)
	case res.TimedOut:
		return fmt.Errorf("%w within %s (the ingress accepted the message: event %s)", ErrNoReply, *wait, res.EventID)
	default:
		fmt.Fprintf(stdout, "sent (event %s)\n", res.EventID)
	}
	return nil
}

// send calls POST /sandbox/inbound and turns its failures into errors a person can act on.
func send(ctx context.Context, baseURL string, req api.InboundRequest, wait time.Duration) (api.InboundResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return api.InboundResponse{}, fmt.Errorf("encode request: %w", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(baseURL, "/")+"/sandbox/inbound", bytes.NewReader(body))
	if err != nil {
		return api.InboundResponse{}, fmt.Errorf("%w: bad --url: %w", ErrUsage, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: wait + 15*time.Second}
	resp, err := client.Do(hreq)
	if err != nil {
		return api.InboundResponse{}, fmt.Errorf("call the sandbox at %s (is `sandbox serve` running?): %w", baseURL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return api.InboundResponse{}, fmt.Errorf("read the sandbox's answer: %w", err)
	}
	var out api.InboundResponse
	switch resp.StatusCode {
	case http.StatusOK:
		if err := json.Unmarshal(raw, &out); err != nil {
			return out, fmt.Errorf("decode the sandbox's answer: %w", err)
		}
		return out, nil
	case http.StatusBadGateway:
		if err := json.Unmarshal(raw, &out); err != nil {
			return out, fmt.Errorf("decode the sandbox's answer: %w", err)
		}
		if out.WebhookStatus == 0 {
			return out, fmt.Errorf("%w: the sandbox could not reach the ingress: %s", ErrRejected, out.Error)
		}
		return out, fmt.Errorf("%w: the ingress answered HTTP %d: %s", ErrRejected, out.WebhookStatus,
			strings.TrimSpace(out.WebhookBody))
	default:
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(raw))
		}
		return out, fmt.Errorf("the sandbox answered HTTP %d: %s", resp.StatusCode, e.Error)
	}
}
