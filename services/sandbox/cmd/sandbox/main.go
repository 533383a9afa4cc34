// Command sandbox is a local stand-in for Telnyx: a fake Messaging API that records what the workers send,
// a simulated user that texts our number with signed webhooks, delivery receipts and fault injection.
//
//	sandbox [serve]                  run the server (configured by SANDBOX_* environment variables)
//	sandbox say [flags] TEXT...      text our number through a running sandbox and print the reply
//	sandbox keygen                   print a fresh SANDBOX_PRIVATE_KEY / TELNYX_PUBLIC_KEY pair
//	sandbox version | -h             print the version, or the commands and environment variables
package main

import (
	"context"
	"fmt"
	"io"

	"github.com/smsconv/smsconv/services/sandbox/internal/app"
	"github.com/smsconv/smsconv/services/sandbox/internal/config"
	"github.com/smsconv/smsconv/services/sandbox/internal/say"
	"github.com/smsconv/smsconv/shared/platform"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { command().Main() }

// command is the binary's command line (its tests run it with their own arguments and environment).
func command() platform.Command {
	return platform.Command{
		Name:     "sandbox",
		Summary:  "a local stand-in for Telnyx: fake Messaging API, simulated users, signed webhooks, receipts and faults",
		Version:  version,
		Defaults: config.Defaults(),
		Subcommands: []platform.Subcommand{
			{Name: "say", Usage: "say [flags] TEXT...\ttext our number through a running sandbox and print the reply (say -h)",
				Run: say.Run},
			{Name: "keygen", Usage: "keygen\tprint a fresh SANDBOX_PRIVATE_KEY and its TELNYX_PUBLIC_KEY", Run: keygen},
		},
		Serve: platform.Serve(config.Load, app.Run, version),
	}
}

func keygen(_ context.Context, _ []string, stdout, _ io.Writer) error {
	s, err := fakeapi.GenerateSigner()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "SANDBOX_PRIVATE_KEY=%s\nTELNYX_PUBLIC_KEY=%s\n", s.SeedBase64(), s.PublicKeyBase64())
	return err
}
