package stack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// WaitIdle waits until the workers have finished everything queued: every consumer of every stream has nothing
// pending and nothing awaiting an ack, and every work-queue stream is empty, on two readings in a row. Workers
// ack a message only after its effect (the reply sent or recorded), so after WaitIdle no further reply is on
// its way: a negative check ("no duplicate arrived") made then has looked at the finished system.
func (s *Stack) WaitIdle(ctx context.Context) error {
	nc, err := nats.Connect(s.NATSURL, nats.Name("stack-idle"))
	if err != nil {
		return fmt.Errorf("wait idle: connect %s: %w", s.NATSURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("wait idle: %w", err)
	}
	idleInARow := 0
	var last string
	for {
		busy, err := busyWork(ctx, js)
		switch {
		case err != nil:
			idleInARow, last = 0, err.Error()
		case busy != "":
			idleInARow, last = 0, busy
		default:
			idleInARow++
		}
		if idleInARow == 2 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait idle: still busy (%s): %w", last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// busyWork describes what is still queued or in flight, "" when nothing is.
func busyWork(ctx context.Context, js jetstream.JetStream) (string, error) {
	var busy []string
	streams := js.ListStreams(ctx)
	for info := range streams.Info() {
		if info.Config.Retention == jetstream.WorkQueuePolicy && info.State.Msgs > 0 {
			busy = append(busy, fmt.Sprintf("stream %s holds %d", info.Config.Name, info.State.Msgs))
		}
		st, err := js.Stream(ctx, info.Config.Name)
		if err != nil {
			return "", err
		}
		consumers := st.ListConsumers(ctx)
		for ci := range consumers.Info() {
			if ci.NumPending > 0 || ci.NumAckPending > 0 {
				busy = append(busy, fmt.Sprintf("consumer %s/%s: %d pending, %d awaiting ack",
					info.Config.Name, ci.Name, ci.NumPending, ci.NumAckPending))
			}
		}
		if err := consumers.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
			return "", err
		}
	}
	if err := streams.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		return "", err
	}
	return strings.Join(busy, "; "), nil
}
