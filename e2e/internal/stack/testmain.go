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
