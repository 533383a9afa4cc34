// Command ingress receives Telnyx webhooks, verifies them and queues them in NATS JetStream, and serves the
// send and inspection API. `ingress -h` lists its environment variables.
package main

import (
	"github.com/smsconv/smsconv/services/ingress/internal/app"
	"github.com/smsconv/smsconv/services/ingress/internal/config"
	"github.com/smsconv/smsconv/shared/platform"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { command().Main() }

// command is the binary's command line (its tests run it with their own arguments and environment).
func command() platform.Command {
	return platform.Command{
		Name:     "ingress",
		Summary:  "verifies Telnyx webhooks, queues them in NATS JetStream and serves the send and inspection API",
		Version:  version,
		Defaults: config.Defaults(),
		Serve:    platform.Serve(config.Load, app.Run, version),
	}
}
