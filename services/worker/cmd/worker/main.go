// Command worker consumes conversation work from NATS JetStream, advances conversations in Redis and sends
// replies through the Telnyx Messaging API. Run any number of them.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/smsconv/smsconv/services/worker/internal/app"
	"github.com/smsconv/smsconv/services/worker/internal/config"
)

var version = "dev"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	return app.Run(ctx, cfg, version, os.Stderr)
}
