// Command naive runs one of the benchmark's reference servers (package naive). Two are closed-loop
// yardsticks, a single process that verifies, steps the dialog in a map and sends the reply before answering
// the webhook: -variant stdlib is written with the standard library only; -variant tuned uses this project's
// verifier, decoder and Telnyx client. -variant verifier is the ingress's floor: it only checks the
// signature and answers. The load harness builds and starts them; they are yardsticks, never deployments.
//
//	naive -variant stdlib -addr 127.0.0.1:8099 -telnyx-url http://127.0.0.1:8091/v2 -public-key <base64>
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/naive"
	"github.com/smsconv/smsconv/shared/flow"
	"github.com/smsconv/smsconv/shared/telnyx"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "naive:", err)
		os.Exit(1)
	}
}

func run() error {
	variant := flag.String("variant", "stdlib", "stdlib (the standard library only), tuned (this project's verifier, decoder and client) or verifier (the signature check alone)")
	addr := flag.String("addr", "127.0.0.1:8099", "listen address")
	apiURL := flag.String("telnyx-url", "http://127.0.0.1:8091/v2", "Telnyx API base URL (the fake's)")
	pub := flag.String("public-key", telnyx.DevPublicKey, "Ed25519 public key the webhooks are signed for")
	flag.Parse()
	keys, err := telnyx.ParsePublicKeys(*pub)
	if err != nil {
		return fmt.Errorf("-public-key: %w", err)
	}
	if len(keys) != 1 {
		return fmt.Errorf("-public-key: want one key, have %d", len(keys))
	}
	const apiKey = "sandbox"
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var h http.Handler
	switch *variant {
	case "stdlib":
		h = naive.Stdlib(keys[0], flow.Default(), *apiURL, apiKey, log)
	case "tuned":
		h = naive.Tuned(keys[0], flow.Default(), telnyx.NewClient(telnyx.ClientOptions{BaseURL: *apiURL, APIKey: apiKey}), log)
	case "verifier":
		h = naive.Verifier(keys[0])
	default:
		return fmt.Errorf("-variant: want stdlib, tuned or verifier, have %q", *variant)
	}
	srv := &http.Server{Addr: *addr, Handler: h,
		ReadHeaderTimeout: 3 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
