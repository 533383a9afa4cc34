package stack

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name     string
		stat     string
		children bool
		want     time.Duration
		err      bool
	}{
		{"plain", "4242 (ingress) S 1 4242 4242 0 -1 4194560 2303 0 0 0 150 25 0 0 20 0 9 0 12345 1000 200 18446744073709551615",
			false, 1750 * time.Millisecond, false},
		{"reaped children counted", "4242 (redis-server) S 1 4242 4242 0 -1 4194560 2303 0 0 0 150 25 60 5 20 0 9 0 12345 1000 200",
			true, 2400 * time.Millisecond, false},
		{"reaped children left out", "4242 (redis-server) S 1 4242 4242 0 -1 4194560 2303 0 0 0 150 25 60 5 20 0 9 0 12345 1000 200",
			false, 1750 * time.Millisecond, false},
		{"name with spaces and parens", "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 1 1 1", true, 70 * time.Millisecond, false},
		{"no name", "7 a R 1", false, 0, true},
		{"truncated", "7 (x) R 1 2 3", false, 0, true},
		{"not numbers", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 u s 0 0", false, 0, true},
		{"children not numbers", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 1 1 u s", true, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.stat), tt.children)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("parseStatCPU = %v, %v; want %v (error %v)", got, err, tt.want, tt.err)
			}
		})
	}
}

// TestPIDCPUTimeMoves burns CPU in this process until /proc reports it. It waits on the reading rather than
// burning for a fixed wall time: on a loaded machine this process may get little CPU in any given 150 ms.
func TestPIDCPUTimeMoves(t *testing.T) {
	before, err := PIDCPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(nil)
	for deadline := time.Now().Add(time.Minute); ; {
		for range 20000 {
			sum = sha256.Sum256(sum[:])
		}
		after, err := PIDCPUTime(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after-before >= 5*clockTick {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute of hashing showed as %v of CPU time", after-before)
		}
	}
}

func TestCPUTimeOfStoppedProc(t *testing.T) {
	p := &Proc{Name: "sleep", Path: "sleep", Args: []string{"30"}, Dir: t.TempDir()}
	if _, err := p.CPUTime(); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("CPUTime before start: %v, want ErrNotRunning", err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.PID() == 0 {
		t.Fatal("PID of a running process is 0")
	}
	if _, err := p.CPUTime(); err != nil {
		t.Fatalf("CPUTime of a running process: %v", err)
	}
	p.Kill()
	if _, err := p.CPUTime(); !errors.Is(err, ErrNotRunning) || p.PID() != 0 {
		t.Fatalf("after kill: CPUTime err %v, PID %d; want ErrNotRunning and 0", err, p.PID())
	}
}
