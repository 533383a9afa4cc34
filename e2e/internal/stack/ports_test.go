package stack

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePortsAreDistinctBindableAndBelowTheEphemeralRange: no port is handed out twice, a child can bind
// each, and each is outside the range outgoing connections take their local ports from.
func TestFreePortsAreDistinctBindableAndBelowTheEphemeralRange(t *testing.T) {
	lo, hi := listenRange()
	seen := map[int]bool{}
	for range 20 {
		ps, err := freePorts(5)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 5 {
			t.Fatalf("%d ports, want 5", len(ps))
		}
		for _, p := range ps {
			if seen[p] {
				t.Fatalf("port %d handed out twice", p)
			}
			seen[p] = true
			if hi > lo && (p < lo || p >= hi) {
				t.Errorf("port %d outside [%d, %d)", p, lo, hi)
			}
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				t.Fatalf("port %d: %v", p, err)
			}
			l.Close()
		}
	}
}
