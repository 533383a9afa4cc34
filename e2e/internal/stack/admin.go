package stack

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DeadLetter is one entry of the ingress's GET /dead-letters.
type DeadLetter struct {
	ID             uint64    `json:"id"`
	Reason         string    `json:"reason"`
	Class          string    `json:"class"`
	Attempts       int       `json:"attempts"`
	DeadLetteredAt time.Time `json:"dead_lettered_at"`
	// Message is the original work (nil when it could not be decoded; Raw then holds it).
	Message *DeadLetterMessage `json:"message,omitempty"`
	Raw     string             `json:"raw,omitempty"`
}

// DeadLetterMessage is the part of a dead-lettered event the harness reads.
type DeadLetterMessage struct {
	Kind       string `json:"kind"`
	ID         string `json:"id"`
	EventID    string `json:"event_id"`
	OurNumber  string `json:"our_number"`
	UserNumber string `json:"user_number"`
	Text       string `json:"text"`
}

// DeadLetters returns every dead letter, following the ingress's pages.
func (c *Client) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	var all []DeadLetter
	var after uint64
	for {
		var page []DeadLetter
		status, _, err := c.Admin(ctx, http.MethodGet, "/dead-letters?limit=1000&after="+strconv.FormatUint(after, 10), nil, &page)
		if err != nil {
			return nil, fmt.Errorf("list dead letters: %w", err)
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("list dead letters: status %d", status)
		}
		all = append(all, page...)
		if len(page) < 1000 {
			return all, nil
		}
		after = page[len(page)-1].ID
	}
}

// ReplayDeadLetter asks the ingress to put dead letter id back on its conversation's queue.
func (c *Client) ReplayDeadLetter(ctx context.Context, id uint64) error {
	status, _, err := c.Admin(ctx, http.MethodPost, "/dead-letters/"+strconv.FormatUint(id, 10)+"/replay", nil, nil)
	if err != nil {
		return fmt.Errorf("replay dead letter %d: %w", id, err)
	}
	if status != http.StatusAccepted {
		return fmt.Errorf("replay dead letter %d: status %d", id, status)
	}
	return nil
}

// ConversationSummary is one entry of the ingress's GET /conversations.
type ConversationSummary struct {
	PhoneNumber  string    `json:"phone_number"`
	OurNumber    string    `json:"our_number"`
	State        string    `json:"state"`
	MessageCount int       `json:"message_count"`
	CreatedAt    time.Time `json:"created_at"`
}

// Conversations returns every conversation the ingress lists, following its Link pages. The listing walks
// Redis with SCAN, which may return a key twice; the result keeps one entry per (our number, phone).
func (c *Client) Conversations(ctx context.Context) ([]ConversationSummary, error) {
	seen := map[[2]string]bool{}
	var all []ConversationSummary
	path := "/conversations?limit=1000"
	for path != "" {
		var page []ConversationSummary
		status, h, err := c.Admin(ctx, http.MethodGet, path, nil, &page)
		if err != nil {
			return nil, fmt.Errorf("list conversations: %w", err)
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("list conversations: status %d", status)
		}
		for _, cs := range page {
			k := [2]string{cs.OurNumber, cs.PhoneNumber}
			if !seen[k] {
				seen[k] = true
				all = append(all, cs)
			}
		}
		path = nextLink(h.Get("Link"))
	}
	return all, nil
}

// nextLink returns the path of a `<path>; rel="next"` Link header, or "".
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.Contains(params, `rel="next"`) {
			continue
		}
		target = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(target), "<"), ">")
		if u, err := url.Parse(target); err == nil {
			return u.RequestURI()
		}
	}
	return ""
}
