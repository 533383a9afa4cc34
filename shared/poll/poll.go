// Package poll waits for a condition that another process or goroutine brings about, by checking it at a
// fixed interval until it holds or the time allowed runs out. Test set-ups use it to wait for servers to
// become ready instead of sleeping a guessed time.
package poll

import (
	"context"
	"fmt"
	"time"
)

// Until calls check every interval until it returns nil, and then returns nil. When within passes or ctx
// ends first, it returns the context's error with the last check error, so a failure says what was wrong.
func Until(ctx context.Context, within, every time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}
