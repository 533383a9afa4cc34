package stack

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestMain builds the binaries once for a test package into a temporary directory, runs the package's
// tests and removes the directory. Use it as: func TestMain(m *testing.M) { stack.TestMain(m, &bins) }.
func TestMain(m *testing.M, bins *Binaries) {
	os.Exit(runTests(m, bins))
}

func runTests(m *testing.M, bins *Binaries) int {
	dir, err := os.MkdirTemp("", "smsconv-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	*bins, err = Build(ctx, dir, false)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "building binaries:", err)
		return 1
	}
	return m.Run()
}

// StartT starts a stack for t in the test's temporary directory (o.Dir is set) and stops it when the test
// ends; a failed test logs the tail of each service's log.
func StartT(t testing.TB, bins Binaries, o Options) *Stack {
	t.Helper()
	o.Dir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, bins, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		if t.Failed() {
			for _, p := range append([]*Proc{s.Ingress, s.Sandbox}, s.Workers...) {
				t.Logf("--- %s log tail:\n%s", p.Name, p.Tail(3000))
			}
		}
	})
	return s
}
