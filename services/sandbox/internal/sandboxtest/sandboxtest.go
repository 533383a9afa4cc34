// Package sandboxtest runs a whole sandbox server (internal/app) in-process for tests, with a stand-in ingress.
package sandboxtest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/smsconv/smsconv/services/sandbox/internal/app"
	"github.com/smsconv/smsconv/services/sandbox/internal/config"
	"github.com/smsconv/smsconv/services/sandbox/internal/ingresstest"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
)

// APIKey is the Telnyx API key the test sandbox accepts.
const APIKey = "KEY_sandboxtest"

// Sandbox is a running sandbox.
type Sandbox struct {
	// URL is the sandbox's root URL.
	URL     string
	Signer  *fakeapi.Signer
	Ingress *ingresstest.Ingress
	stop    context.CancelFunc
	done    chan error
}

// Start runs a sandbox on a free loopback port whose webhooks go to a stand-in ingress that answers each text
// through the sandbox's Telnyx API. extraEnv adds or overrides SANDBOX_* variables. The sandbox is stopped when
// the test ends; a failed shutdown fails the test.
func Start(tb testing.TB, logTo io.Writer, extraEnv ...string) *Sandbox {
	tb.Helper()
	signer, err := fakeapi.GenerateSigner()
	if err != nil {
		tb.Fatal(err)
	}
	in := ingresstest.New(tb, signer.PublicKey())
	environ := append([]string{
		"SANDBOX_API_KEY=" + APIKey,
		"SANDBOX_PRIVATE_KEY=" + signer.SeedBase64(),
		"INGRESS_WEBHOOK_URL=" + in.URL,
		"SANDBOX_RECEIPT_DELAY=10ms",
		"SANDBOX_SHUTDOWN_TIMEOUT=5s",
	}, extraEnv...)
	cfg, err := config.Load(environ)
	if err != nil {
		tb.Fatal(err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if logTo == nil {
		logTo = io.Discard
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sandbox{URL: "http://" + ln.Addr().String(), Signer: signer, Ingress: in, stop: cancel, done: make(chan error, 1)}
	go func() { s.done <- app.Serve(ctx, ln, cfg, slog.New(slog.NewTextHandler(logTo, nil))) }()
	in.ReplyThrough(s.URL+"/v2", APIKey)
	tb.Cleanup(func() {
		if err := s.Stop(10 * time.Second); err != nil {
			tb.Errorf("sandboxtest: stop: %v", err)
		}
	})
	return s
}

// ErrStopTimeout is returned by Stop when the server did not stop in time.
var ErrStopTimeout = errors.New("sandbox did not stop in time")

// Stop shuts the sandbox down as SIGTERM would and returns what Serve returned.
func (s *Sandbox) Stop(timeout time.Duration) error {
	s.stop()
	select {
	case err := <-s.done:
		s.done <- err // later calls see the same result
		return err
	case <-time.After(timeout):
		return ErrStopTimeout
	}
}
