package stack

import (
	"context"
	"errors"
	"net"
	"testing"
)

// TestStartRefusesATakenPortBeforeStartingAnything checks the fixed ports first, so a clash leaves no half
// started stack behind.
func TestStartRefusesATakenPortBeforeStartingAnything(t *testing.T) {
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	tests := []struct {
		name  string
		ports Ports
	}{
		{name: "ingress", ports: Ports{Ingress: taken}},
		{name: "redis", ports: Ports{Redis: taken}},
		{name: "worker metrics", ports: Ports{WorkerMetrics: taken}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The binaries do not exist: reaching them would fail differently.
			s, err := Start(context.Background(), Binaries{NATS: "/nonexistent"}, Options{Ports: tt.ports, Dir: t.TempDir()})
			if !errors.Is(err, ErrPortInUse) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("Start = %v, want ErrPortInUse", err)
			}
		})
	}
}
