package naive

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/smsconv/smsconv/shared/conversation"
)

// Stdlib returns the yardstick written with the standard library only, sending to the Telnyx API at apiURL
// (".../v2") with apiKey. Its HTTP client is net/http's default transport with a timeout, as a toy's would be:
// it keeps two idle connections per host, so under concurrency most sends dial a new one.
func Stdlib(key ed25519.PublicKey, dialog conversation.Dialog, apiURL, apiKey string, log *slog.Logger) *Server {
	client := &http.Client{Timeout: 10 * time.Second}
	return newServer(parts{
		verify: func(h http.Header, body []byte) error { return verifyStdlib(key, h, body, time.Now()) },
		parse:  parseStdlib,
		send: func(ctx context.Context, from, to, text, idempotencyKey string) error {
			return sendStdlib(ctx, client, apiURL+"/messages", apiKey, from, to, text, idempotencyKey)
		},
	}, dialog, log)
}

// verifyStdlib checks Telnyx's signature: Ed25519 over "<timestamp>|<body>", the timestamp within 5 minutes.
func verifyStdlib(key ed25519.PublicKey, h http.Header, body []byte, now time.Time) error {
	sig, err := base64.StdEncoding.DecodeString(h.Get("telnyx-signature-ed25519"))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return errors.New("bad signature header")
	}
	ts := h.Get("telnyx-timestamp")
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("bad timestamp header")
	}
	if d := now.Sub(time.Unix(secs, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp out of tolerance")
	}
	if !ed25519.Verify(key, append([]byte(ts+"|"), body...), sig) {
		return errors.New("signature mismatch")
	}
	return nil
}

// parseStdlib reads a message.received webhook with encoding/json.
func parseStdlib(body []byte) (inbound, error) {
	var hook struct {
		Data struct {
			EventType string `json:"event_type"`
			Payload   struct {
				ID   string `json:"id"`
				Text string `json:"text"`
				From struct {
					PhoneNumber string `json:"phone_number"`
				} `json:"from"`
				To []struct {
					PhoneNumber string `json:"phone_number"`
				} `json:"to"`
			} `json:"payload"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &hook); err != nil {
		return inbound{}, err
	}
	d := hook.Data
	if d.EventType != "message.received" {
		return inbound{}, errNotInbound
	}
	if d.Payload.ID == "" || d.Payload.From.PhoneNumber == "" || len(d.Payload.To) == 0 {
		return inbound{}, errors.New("incomplete message")
	}
	return inbound{id: d.Payload.ID, from: d.Payload.From.PhoneNumber, to: d.Payload.To[0].PhoneNumber, text: d.Payload.Text}, nil
}

// sendStdlib posts one message to Telnyx's /messages and reads the message id from the answer.
func sendStdlib(ctx context.Context, client *http.Client, url, apiKey, from, to, text, idempotencyKey string) error {
	body, err := json.Marshal(map[string]string{"from": from, "to": to, "text": text})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idempotencyKey)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("telnyx answered %s", resp.Status)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return err
	}
	if out.Data.ID == "" {
		return errors.New("telnyx answered no message id")
	}
	return nil
}
