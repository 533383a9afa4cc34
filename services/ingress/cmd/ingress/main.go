// Command ingress receives Telnyx webhooks, verifies them and queues them in NATS JetStream, and serves the
// send and inspection API. `ingress -h` lists its environment variables.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/smsconv/smsconv/services/ingress/internal/app"
	"github.com/smsconv/smsconv/services/ingress/internal/config"
	"github.com/smsconv/smsconv/shared/platform"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingress:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	return platform.Command{
		Name:     "ingress",
		Summary:  "verifies Telnyx webhooks, queues them in NATS JetStream and serves the send and inspection API",
		Version:  version,
		Defaults: config.Defaults(),
		Serve:    platform.Serve(config.Load, app.Run, version),
	}.Run(ctx, args, environ, stdout, stderr)
}
