// Command sandbox is a local stand-in for Telnyx: a fake Messaging API that records what the workers send,
// a simulated user that texts our number with signed webhooks, delivery receipts and fault injection.
//
//	sandbox [serve]                  run the server (configured by SANDBOX_* environment variables)
//	sandbox say [flags] TEXT...      text our number through a running sandbox and print the reply
//	sandbox keygen                   print a fresh SANDBOX_PRIVATE_KEY / TELNYX_PUBLIC_KEY pair
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/smsconv/smsconv/services/sandbox/internal/app"
	"github.com/smsconv/smsconv/services/sandbox/internal/config"
	"github.com/smsconv/smsconv/services/sandbox/internal/say"
	"github.com/smsconv/smsconv/shared/telnyx/telnyxtest"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage:
  sandbox [serve]              run the fake Telnyx API and simulator (SANDBOX_* environment variables)
  sandbox say [flags] TEXT...  text our number through a running sandbox and print the reply (say -h)
  sandbox keygen               print a fresh SANDBOX_PRIVATE_KEY and its TELNYX_PUBLIC_KEY
  sandbox version              print the version`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		if len(args) > 0 {
			return fmt.Errorf("serve takes no arguments (configure it with SANDBOX_* variables)")
		}
		cfg, err := config.Load(environ)
		if err != nil {
			return err
		}
		log := newLogger(cfg, stderr)
		log.Info("starting sandbox", "version", version)
		return app.Run(ctx, cfg, log)
	case "say":
		return say.Run(ctx, args, stdout, stderr)
	case "keygen":
		s, err := telnyxtest.GenerateSigner()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "SANDBOX_PRIVATE_KEY=%s\nTELNYX_PUBLIC_KEY=%s\n", s.SeedBase64(), s.PublicKeyBase64())
		return nil
	case "version":
		fmt.Fprintln(stdout, version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Level()}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
