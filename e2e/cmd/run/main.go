// Command run is `make run`: the whole stack as local processes (NATS, Redis, the sandbox, the ingress and
// WORKERS workers) until Ctrl-C. Its variables (WORKERS, *_PORT, NATS_URL, REDIS_URL, ...) are in the README.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/smsconv/smsconv/e2e/internal/local"
	"github.com/smsconv/smsconv/e2e/internal/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "[run] error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	if len(os.Args) > 1 {
		return errors.New("run takes no arguments; it is configured by WORKERS, NATS_PORT, ... (see the README)")
	}
	root, err := stack.RepoRoot()
	if err != nil {
		return err
	}
	c, err := local.FromEnv(root, os.Getenv)
	if err != nil {
		return err
	}
	return local.Run(ctx, c, os.Stdout)
}
