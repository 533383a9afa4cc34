package connlimit_test

import (
	"bufio"
	"net"
	"net/http"
	"testing"

	"github.com/smsconv/smsconv/services/ingress/internal/connlimit"
)

// dial connects to addr from 127.0.0.ip.
func dial(t *testing.T, addr string, ip byte) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, ip)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestCaps(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := connlimit.New(ln, 3, 2)
	refused := make(chan struct{}, 10)
	l.OnRefuse = func() { refused <- struct{}{} }
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() { _ = l.Close() })
	addr := ln.Addr().String()

	tests := []struct {
		name   string
		ip     byte
		accept bool
	}{
		{"first from .2", 2, true},
		{"second from .2", 2, true},
		{"third from .2: over the per-IP cap", 2, false},
		{"first from .3", 3, true},
		{"second from .3: over the total cap", 3, false},
	}
	var held []net.Conn
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr, tc.ip)
			if tc.accept {
				held = append(held, <-accepted)
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err == nil {
				_ = resp.Body.Close()
			}
			if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("refused connection read %v %v, want a 503", resp, err)
			}
			<-refused
		})
	}
	if n := l.Open(); n != 3 {
		t.Fatalf("%d open, want 3", n)
	}
	// Closing gives the place back, once however often it is closed.
	_ = held[0].Close()
	_ = held[0].Close()
	if n := l.Open(); n != 2 {
		t.Fatalf("%d open after a close, want 2", n)
	}
	dial(t, addr, 2)
	<-accepted
	if n := l.Open(); n != 3 {
		t.Fatalf("%d open, want 3 again", n)
	}
}
