// Package platformtest helps tests of services started by shared/platform: a log destination a test can
// wait on, since a service says what it is doing (waiting for NATS, ready on an address) in its log.
package platformtest

import (
	"bufio"
	"bytes"
	"encoding/json"
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
		sc := bufio.NewScanner(strings.NewReader(l.String()))
		for sc.Scan() {
			if strings.Contains(sc.Text(), want) {
				return sc.Text()
			}
		}
		select {
		case <-l.added:
		case <-timeout:
			tb.Fatalf("log never said %q:\n%s", want, l.String())
		}
	}
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
