package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"

	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/store"
)

// keepAlive is how often an idle live stream gets a comment, so proxies keep it open.
const keepAlive = 15 * time.Second

// hub fans the changes announced on NATS out to the browsers' live streams. It subscribes to them only while
// a stream is open: every handled message is announced, and an ingress nobody watches would otherwise receive
// and decode each one for nothing (as would NATS deliver it).
type hub struct {
	store *store.Store
	log   *slog.Logger
	nc    *nats.Conn // nil: no live changes (streams stay open, quiet)

	mu      sync.Mutex
	clients map[chan events.Change]struct{}
	closed  bool
	done    chan struct{}
	sub     *nats.Subscription
}

func newHub(st *store.Store, log *slog.Logger, nc *nats.Conn) *hub {
	return &hub{store: st, log: log, nc: nc, clients: map[chan events.Change]struct{}{}, done: make(chan struct{})}
}

// subscribeLocked subscribes to the changes and waits until the server has the interest, so a stream that
// opens after it misses nothing its page did not load. h.mu is held.
func (h *hub) subscribeLocked() error {
	sub, err := h.nc.Subscribe(events.ChangesSubject, func(m *nats.Msg) {
		ch, err := events.DecodeChange(m.Data)
		if err != nil {
			return
		}
		h.publish(ch)
	})
	if err == nil {
		if err = h.nc.FlushTimeout(subscribeTimeout); err != nil {
			_ = sub.Unsubscribe()
		}
	}
	if err != nil {
		return fmt.Errorf("subscribe to changes: %w", err)
	}
	h.sub = sub
	return nil
}

// subscribeTimeout bounds the wait for the server to confirm a new subscription.
const subscribeTimeout = 2 * time.Second

// publish completes a receipt's change with its conversation and hands it to every stream. A stream too slow
// to take it misses it: the next change reloads the same view anyway.
func (h *hub) publish(ch events.Change) {
	if ch.User == "" && ch.MessageID != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		m, err := h.store.GetMessage(ctx, ch.MessageID)
		cancel()
		if err != nil {
			return
		}
		ch.Our, ch.User = m.Our, m.User
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c <- ch:
		default:
		}
	}
}

// errClosed is join's answer once the hub is closed (the ingress is shutting down).
var errClosed = errors.New("shutting down")

// join adds a stream; the first one subscribes to the changes.
func (h *hub) join() (chan events.Change, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errClosed
	}
	if h.sub == nil && h.nc != nil {
		if err := h.subscribeLocked(); err != nil {
			return nil, err
		}
	}
	c := make(chan events.Change, 64)
	h.clients[c] = struct{}{}
	return c, nil
}

// leave removes a stream; the last one unsubscribes.
func (h *hub) leave(c chan events.Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, c)
	if len(h.clients) == 0 && h.sub != nil {
		_ = h.sub.Unsubscribe()
		h.sub = nil
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	close(h.done)
	if h.sub != nil {
		_ = h.sub.Unsubscribe()
	}
}

// events streams changes as Server-Sent Events ("change", data {our_number, user_number, message_id}). The
// page then fetches the part it shows again, from the store, so the stream carries no second copy of the
// data.
func (c *Console) events(ctx echo.Context) error {
	ch, err := c.live.join()
	if err != nil {
		c.d.Log.Warn("live stream refused", "component", "console", "err", err)
		return echo.NewHTTPError(http.StatusServiceUnavailable, err.Error())
	}
	defer c.live.leave(ch)
	w := ctx.Response()
	// The server's WriteTimeout is for ordinary requests; a live stream is meant to stay open.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, "retry: 2000\n: connected\n\n")
	w.Flush()
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Request().Context().Done():
			return nil
		case <-c.live.done:
			return nil
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
		case change := <-ch:
			b, _ := json.Marshal(change)
			if _, err := fmt.Fprintf(w, "event: change\ndata: %s\n\n", b); err != nil {
				return nil
			}
		}
		w.Flush()
	}
}
