package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/platform"
)

// syncBuffer is a log destination safe for the service's goroutines; onLine sees each line as written.
type syncBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	onLine func(line string)
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	if b.onLine != nil {
		b.onLine(string(p))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newService(tb testing.TB, w io.Writer, cfg any) *platform.Service {
	tb.Helper()
	log, err := platform.Logging{LogLevel: "info", LogFormat: "json"}.Logger(w, "test")
	if err != nil {
		tb.Fatal(err)
	}
	return platform.New("test", "v1", log, 5*time.Second, cfg)
}

// recorder is a component that records its start and stop in a shared journal.
func recorder(name string, journal *[]string, startErr error) platform.Component {
	return platform.Component{
		Name: name,
		Start: func(context.Context) error {
			*journal = append(*journal, "start "+name)
			return startErr
		},
		Stop: func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				*journal = append(*journal, "stop "+name+" without a deadline")
			}
			*journal = append(*journal, "stop "+name)
			return nil
		},
	}
}

func TestFailingComponentUnwindsTheStartedOnesInReverse(t *testing.T) {
	var journal []string
	var logs syncBuffer
	svc := newService(t, &logs, struct{}{})
	boom := errors.New("boom")
	err := svc.Run(context.Background(),
		recorder("a", &journal, nil), recorder("b", &journal, nil), recorder("c", &journal, boom), recorder("d", &journal, nil))
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "start c: boom") {
		t.Fatalf("err = %v", err)
	}
	want := "start a,start b,start c,stop b,stop a"
	if got := strings.Join(journal, ","); got != want {
		t.Fatalf("journal %q, want %q", got, want)
	}
	if strings.Contains(logs.String(), "test ready") {
		t.Fatalf("logged ready although a component failed:\n%s", logs.String())
	}
}

func TestShutdownStopsInReverseWithADeadline(t *testing.T) {
	var journal []string
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	logs.onLine = func(line string) {
		if strings.Contains(line, `"msg":"test ready"`) {
			cancel()
		}
	}
	svc := newService(t, &logs, struct{}{})
	if err := svc.Run(ctx, recorder("a", &journal, nil), recorder("b", &journal, nil)); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(journal, ","); got != "start a,start b,stop b,stop a" {
		t.Fatalf("journal %q", got)
	}
	if !strings.Contains(logs.String(), `"timeout":"5s"`) {
		t.Fatalf("shutdown line without a readable timeout:\n%s", logs.String())
	}
}

func TestAFailureAfterStartShutsDown(t *testing.T) {
	var journal []string
	var logs syncBuffer
	svc := newService(t, &logs, struct{}{})
	lost := errors.New("lost the connection")
	failing := platform.Component{Name: "f", Start: func(context.Context) error {
		go svc.Fail(lost)
		return nil
	}}
	err := svc.Run(context.Background(), recorder("a", &journal, nil), failing)
	if !errors.Is(err, lost) || strings.Join(journal, ",") != "start a,stop a" {
		t.Fatalf("err = %v, journal %v", err, journal)
	}
}

func TestHTTPIsBoundBeforeReady(t *testing.T) {
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type probe struct {
		addr string
		err  error
	}
	probed := make(chan probe, 1)
	// The line is handled while it is being logged, so a connection accepted here proves the listener was
	// bound before "ready", not soon after.
	logs.onLine = func(line string) {
		if !strings.Contains(line, `"msg":"test ready"`) {
			return
		}
		var rec map[string]any
		_ = json.Unmarshal([]byte(line), &rec)
		addr, _ := rec["http"].(string)
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		probed <- probe{addr, err}
	}
	svc := newService(t, &logs, struct{}{})
	srv := &http.Server{ReadHeaderTimeout: time.Second}
	done := make(chan error, 1)
	go func() {
		done <- svc.Run(ctx, svc.HTTP(platform.HTTP{Name: "http", Addr: "127.0.0.1:0", Server: srv,
			Handler: func() (http.Handler, error) {
				return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }), nil
			}}))
	}()
	p := <-probed
	if p.err != nil {
		t.Fatalf("ready logged but %s refused a connection: %v", p.addr, p.err)
	}
	resp, err := http.Get("http://" + p.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(body) != "ok" {
		t.Fatalf("body %q", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestHTTPListenFailureIsAStartError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	var journal []string
	var logs syncBuffer
	svc := newService(t, &logs, struct{}{})
	err = svc.Run(context.Background(), recorder("a", &journal, nil),
		svc.HTTP(platform.HTTP{Name: "http", Addr: taken.Addr().String(), Server: &http.Server{ReadHeaderTimeout: time.Second},
			Handler: func() (http.Handler, error) { return http.NotFoundHandler(), nil }}))
	if err == nil || !strings.Contains(err.Error(), "start http: listen on "+taken.Addr().String()) ||
		strings.Join(journal, ",") != "start a,stop a" {
		t.Fatalf("err = %v, journal %v", err, journal)
	}
}

type secretConfig struct {
	Token string `env:"ADMIN_TOKEN" secret:"true"`
	URL   string `env:"REDIS_URL"`
	platform.Logging
}

func TestStartingLogsTheConfigurationMasked(t *testing.T) {
	var logs syncBuffer
	newService(t, &logs, secretConfig{Token: "hunter2", URL: "redis://:pw@redis:6379/0", Logging: platform.Logging{LogLevel: "info"}})
	out := logs.String()
	if strings.Contains(out, "hunter2") || strings.Contains(out, ":pw@") ||
		!strings.Contains(out, `"ADMIN_TOKEN":"***"`) || !strings.Contains(out, `"LOG_LEVEL":"info"`) {
		t.Fatalf("starting line:\n%s", out)
	}
}
