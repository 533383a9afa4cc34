// Package platformtest helps tests of services started by shared/platform: a log destination a test can
// wait on, since a service says what it is doing (waiting for NATS, ready on an address) in its log.
package platformtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Logs collects a service's log lines; safe for concurrent writers.
type Logs struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	added chan struct{}
}

// NewLogs returns an empty log.
func NewLogs() *Logs { return &Logs{added: make(chan struct{}, 1)} }

// Write appends p and wakes waiters.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	select {
	case l.added <- struct{}{}:
	default:
	}
	return len(p), nil
}

// String is everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// WaitFor blocks until a line contains want and returns that line. It fails the test if none does within a
// minute, which only a hung service takes.
func (l *Logs) WaitFor(tb testing.TB, want string) string {
	tb.Helper()
	timeout := time.After(time.Minute)
	for {
		if line, ok := l.find(want); ok {
			return line
		}
		select {
		case <-l.added:
		case <-timeout:
			tb.Fatalf("log never said %q:\n%s", want, l.String())
		}
	}
}

// find returns the first line containing want.
func (l *Logs) find(want string) (string, bool) {
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), want) {
			return sc.Text(), true
		}
	}
	return "", false
}

// Field returns a string field of a JSON log line ("" if absent).
func Field(tb testing.TB, line, key string) string {
	tb.Helper()
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		tb.Fatalf("log line is not JSON: %v: %s", err, line)
	}
	s, _ := rec[key].(string)
	return s
}

// Running is a service started by a test with Start.
type Running struct {
	// Logs is what it logged; Ready is its ready line.
	Logs   *Logs
	Ready  string
	cancel context.CancelFunc
	done   chan error
}

// Start runs run (a service's run function, logging JSON to logOut) in the background and waits until it
// logs "<name> ready". The service is stopped when the test ends, if the test did not stop it.
func Start(tb testing.TB, name string, run func(ctx context.Context, logOut io.Writer) error) *Running {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{Logs: NewLogs(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- run(ctx, r.Logs) }()
	tb.Cleanup(func() { cancel(); err := <-r.done; r.done <- err })
	timeout := time.After(time.Minute)
	for {
		if line, ok := r.Logs.find(`"msg":"` + name + ` ready"`); ok {
			r.Ready = line
			return r
		}
		select {
		case <-r.Logs.added:
		case err := <-r.done:
			r.done <- err
			tb.Fatalf("%s stopped before ready: %v\n%s", name, err, r.Logs.String())
		case <-timeout:
			tb.Fatalf("%s not ready within a minute:\n%s", name, r.Logs.String())
		}
	}
}

// Addr is the bound address the ready line gives for an HTTP component.
func (r *Running) Addr(tb testing.TB, component string) string {
	tb.Helper()
	return Field(tb, r.Ready, component)
}

// Stop cancels the service as SIGTERM does, fails the test unless it stopped cleanly, and returns its log.
// A clean stop logs no disconnection warning.
func (r *Running) Stop(tb testing.TB) string {
	tb.Helper()
	r.cancel()
	err := <-r.done
	r.done <- err
	out := r.Logs.String()
	if err != nil {
		tb.Fatalf("stopped with %v\n%s", err, out)
	}
	if strings.Contains(out, "nats disconnected") || !strings.Contains(out, `"msg":"stopped"`) {
		tb.Fatalf("not a clean stop:\n%s", out)
	}
	return out
}

// Get answers the status code of GET path on the HTTP component's bound address.
func (r *Running) Get(tb testing.TB, component, path string) int {
	tb.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+r.Addr(tb, component)+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// RunFunc is a binary's run function: main passes it os.Args[1:] and os.Environ().
type RunFunc func(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error

// CheckHelpAndVersion runs -h, --help, help and version with refused, an environment the service would
// refuse, and fails the test unless each succeeds without logging (so nothing was loaded or started), help
// names every string of wantHelp, and version prints the version.
func CheckHelpAndVersion(t *testing.T, run RunFunc, refused []string, wantHelp ...string) {
	t.Helper()
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"-h"}, wantHelp},
		{[]string{"--help"}, wantHelp},
		{[]string{"help"}, wantHelp},
		{[]string{"version"}, []string{"dev\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.args[0], func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := run(context.Background(), tc.args, refused, &out, &errOut); err != nil {
				t.Fatalf("run %v: %v", tc.args, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if errOut.Len() != 0 {
				t.Errorf("logged something: %s", errOut.String())
			}
		})
	}
}

// LoadCase is one environment for a service's configuration loader, and the text its error must contain
// ("" when it must load).
type LoadCase struct {
	Name, WantErr string
	Env           []string
}

// CheckLoad runs load on each case as a subtest: a case with WantErr must fail mentioning it, and a case
// without must load and pass loaded (which checks the defaults were applied).
func CheckLoad[C any](t *testing.T, load func(environ []string) (C, error), loaded func(testing.TB, C), cases []LoadCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			c, err := load(tc.Env)
			switch {
			case tc.WantErr == "" && err != nil:
				t.Fatalf("Load: %v", err)
			case tc.WantErr == "":
				loaded(t, c)
			case err == nil || !strings.Contains(err.Error(), tc.WantErr):
				t.Fatalf("Load err = %v, want it to mention %q", err, tc.WantErr)
			}
		})
	}
}
