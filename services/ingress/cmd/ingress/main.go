// Command ingress receives Telnyx webhooks, verifies them and queues them in NATS JetStream, and serves the
// send and inspection API.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/smsconv/smsconv/services/ingress/internal/app"
	"github.com/smsconv/smsconv/services/ingress/internal/config"
)

var version = "dev"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ingress:", err)
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
