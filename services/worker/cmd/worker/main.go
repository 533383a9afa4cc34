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
	"github.com/smsconv/smsconv/services/worker/internal/flowcmd"
)

var version = "dev"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) > 1 && os.Args[1] == "flow" {
		return flowcmd.Run(os.Args[2:], os.Stdout)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	return app.Run(ctx, cfg, version, os.Stderr)
}
