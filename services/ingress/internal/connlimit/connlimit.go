// Package connlimit caps the connections an HTTP server holds open, in total and per source IP, so a flood of
// idle or slow connections from one source cannot use up the open-file limit and starve everyone else (Telnyx's
// webhooks above all). A connection over a cap is answered 503 and closed at once, before any byte is read.
package connlimit

import (
	"net"
	"sync"
	"time"
)

// refusal is written to a connection over a cap: a complete HTTP response, so a client sees why.
const refusal = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n" +
	"Content-Length: 37\r\n\r\n{\"error\":\"too many open connections\"}"

// refusalWrite bounds the write of the refusal: the accept loop must never wait on a client.
const refusalWrite = 100 * time.Millisecond

// Listener is a net.Listener that holds at most Max connections open, and at most PerIP from one IP address
// (0: no per-IP cap, as behind a load balancer that is the only source).
type Listener struct {
	net.Listener
	max, perIP int
	// OnRefuse, if set, is called for each refused connection (a metric); it must not block.
	OnRefuse func()

	mu   sync.Mutex
	open int
	byIP map[string]int
}

// New wraps l.
func New(l net.Listener, max, perIP int) *Listener {
	return &Listener{Listener: l, max: max, perIP: perIP, byIP: make(map[string]int)}
}

// Accept returns the next connection within the caps; those over a cap are refused and closed here.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := sourceIP(c)
		if l.take(ip) {
			return &conn{Conn: c, release: func() { l.give(ip) }}, nil
		}
		_ = c.SetWriteDeadline(time.Now().Add(refusalWrite))
		_, _ = c.Write([]byte(refusal))
		_ = c.Close()
		if l.OnRefuse != nil {
			l.OnRefuse()
		}
	}
}

// Open reports the connections held open now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

func (l *Listener) take(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.max || l.perIP > 0 && l.byIP[ip] >= l.perIP {
		return false
	}
	l.open++
	l.byIP[ip]++
	return true
}

func (l *Listener) give(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byIP[ip]--; l.byIP[ip] <= 0 {
		delete(l.byIP, ip)
	}
}

// sourceIP is the connection's remote IP address (the whole address when it has no port).
func sourceIP(c net.Conn) string {
	addr := c.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// conn gives its place back once, however often it is closed.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close closes the connection and frees its place.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
