// Command worker consumes conversation work from NATS JetStream, advances conversations in Redis and sends
// replies through the Telnyx Messaging API. Run any number of them. `worker -h` lists its environment
// variables.
package main

import (
	"context"
	"io"

	"github.com/smsconv/smsconv/services/worker/internal/app"
	"github.com/smsconv/smsconv/services/worker/internal/config"
	"github.com/smsconv/smsconv/services/worker/internal/flowcmd"
	"github.com/smsconv/smsconv/shared/platform"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { command().Main() }

// command is the binary's command line (its tests run it with their own arguments and environment).
func command() platform.Command {
	return platform.Command{
		Name:     "worker",
		Summary:  "consumes conversation work from NATS JetStream, advances conversations in Redis and sends replies through Telnyx",
		Version:  version,
		Defaults: config.Defaults(),
		Subcommands: []platform.Subcommand{{
			Name:  "flow",
			Usage: "flow check|test|record FLOW [TRANSCRIPT]\tcheck a conversation flow, or test it against a transcript, offline",
			Run: func(_ context.Context, args []string, stdout, _ io.Writer) error {
				return flowcmd.Run(args, stdout)
			},
		}},
		Serve: platform.Serve(config.Load, app.Run, version),
	}
}
