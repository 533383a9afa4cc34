package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsconv/smsconv/services/ingress/internal/app"
	"github.com/smsconv/smsconv/services/ingress/internal/config"
	"github.com/smsconv/smsconv/shared/natstest"
	"github.com/smsconv/smsconv/shared/platform/platformtest"
	"github.com/smsconv/smsconv/shared/redistest"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
)

// ingress is the real ingress (app.Run) on a free loopback port.
type ingress struct {
	addr   string
	logs   *platformtest.Logs
	cancel context.CancelFunc
	done   chan error
}

// startIngress runs the ingress with environ plus what every test needs, and waits until it is ready.
func startIngress(t *testing.T, signer *fakeapi.Signer, natsURL, redisURL string, environ ...string) *ingress {
	t.Helper()
	cfg, err := config.Load(append([]string{"NATS_URL=" + natsURL, "REDIS_URL=" + redisURL, "HTTP_ADDR=127.0.0.1:0",
		"TELNYX_PUBLIC_KEY=" + signer.PublicKeyBase64(), "TELNYX_PHONE_NUMBER=+12125550100", "NATS_PARTITIONS=2"}, environ...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &ingress{logs: platformtest.NewLogs(), cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- app.Run(ctx, cfg, "test", in.logs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-in.done; err != nil {
			t.Logf("ingress stopped: %v", err) // the tests that care read Run's error themselves
		}
	})
	in.addr = platformtest.Field(t, in.logs.WaitFor(t, `"msg":"ingress ready"`), "http")
	return in
}

// webhook posts a signed inbound from the given local address and returns the answer's status and body.
func (in *ingress) webhook(t *testing.T, signer *fakeapi.Signer, client *http.Client, eventID string) (int, map[string]string) {
	t.Helper()
	body := fakeapi.InboundWebhook(fakeapi.Inbound{EventID: eventID, MessageID: "m-" + eventID, From: "+13125550001", To: "+12125550100", Text: "hi"})
	resp, err := signer.Post(context.Background(), client, "http://"+in.addr+"/webhooks/sms", body)
	if err != nil {
		t.Fatalf("webhook: %v", err)
	}
	defer resp.Body.Close()
	var got map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&got)
	return resp.StatusCode, got
}

// TestConnectionFloodFromOneSource holds connections open from 127.0.0.2 until its cap refuses them, and checks
// webhooks from 127.0.0.1 are still served; an over-limit Content-Length is answered 413 without a body.
func TestConnectionFloodFromOneSource(t *testing.T) {
	ns, rs := natstest.Start(t), redistest.Start(t)
	signer, _ := fakeapi.GenerateSigner()
	in := startIngress(t, signer, ns.URL, rs.URL, "HTTP_MAX_CONNS=20", "HTTP_MAX_CONNS_PER_IP=5")

	flooder := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	refused := false
	for i := 0; i < 50 && !refused; i++ {
		c, err := flooder.Dial("tcp", in.addr)
		if err != nil {
			t.Fatalf("flood dial %d: %v", i, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if i < 5 {
			continue // within the per-IP cap: held open, idle, until the header timeout
		}
		// Over the cap: the ingress answers 503 at once and closes.
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("connection %d over the per-IP cap: %v", i, err)
		}
		_ = resp.Body.Close()
		refused = resp.StatusCode == http.StatusServiceUnavailable
	}
	if !refused {
		t.Fatal("no flood connection was refused")
	}
	client := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}).DialContext}}
	for _, id := range []string{"f1", "f2", "f3"} {
		if code, got := in.webhook(t, signer, client, id); code != 200 || got["status"] != "queued" {
			t.Fatalf("webhook during the flood: %d %v", code, got)
		}
	}

	// A declared Content-Length over WEBHOOK_MAX_BODY_BYTES is answered before any body is sent.
	c, err := net.Dial("tcp", in.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST /webhooks/sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
		t.Fatalf("over-limit Content-Length answered %d (close %v), want 413 and the connection closed", resp.StatusCode, resp.Close)
	}
}

// TestIdleConnectionsAreClosed: a keep-alive connection left idle is closed by the ingress (HTTP_IDLE_TIMEOUT).
func TestIdleConnectionsAreClosed(t *testing.T) {
	ns, rs := natstest.Start(t), redistest.Start(t)
	signer, _ := fakeapi.GenerateSigner()
	in := startIngress(t, signer, ns.URL, rs.URL, "HTTP_IDLE_TIMEOUT=100ms")
	c, err := net.Dial("tcp", in.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: read %v, want EOF (closed by the ingress)", err)
	}
}

// natsProxy forwards TCP to a NATS server and can play the server dropping its clients for a protocol
// violation: it sends what nats-server sends then ("-ERR 'Maximum Control Line Exceeded'"), after which
// nats.go closes the connection for good instead of reconnecting.
type natsProxy struct {
	ln      net.Listener
	mu      sync.Mutex
	clients []net.Conn
}

func startProxy(t *testing.T, target string) *natsProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &natsProxy{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.clients = append(p.clients, c)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); _ = s.Close() }()
			go func() {
				buf := make([]byte, 32<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						p.mu.Lock()
						_, _ = c.Write(buf[:n])
						p.mu.Unlock()
					}
					if err != nil {
						_ = c.Close()
						return
					}
				}
			}()
		}
	}()
	return p
}

func (p *natsProxy) url() string { return "nats://" + p.ln.Addr().String() }

// dropClients sends every client the server's fatal error and closes it.
func (p *natsProxy) dropClients() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.clients {
		_, _ = io.WriteString(c, "-ERR 'Maximum Control Line Exceeded'\r\n")
		_ = c.Close()
	}
	p.clients = nil
}

// TestNATSClosedForGoodExitsToBeRestarted: when the server drops the ingress for a protocol error (nats.go then
// closes the connection for good), the ingress exits with an error instead of answering 503 forever, and a
// restarted ingress serves webhooks again.
func TestNATSClosedForGoodExitsToBeRestarted(t *testing.T) {
	ns, rs := natstest.Start(t), redistest.Start(t)
	proxy := startProxy(t, strings.TrimPrefix(ns.URL, "nats://"))
	signer, _ := fakeapi.GenerateSigner()
	in := startIngress(t, signer, proxy.url(), rs.URL)
	if code, got := in.webhook(t, signer, http.DefaultClient, "c1"); code != 200 || got["status"] != "queued" {
		t.Fatalf("webhook before: %d %v", code, got)
	}
	proxy.dropClients()
	select {
	case err := <-in.done:
		in.done <- err
		if err == nil || !strings.Contains(err.Error(), "nats connection closed for good") {
			t.Fatalf("ingress returned %v, want the closed connection named", err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("ingress still running with its NATS connection closed:\n%s", in.logs.String())
	}
	restarted := startIngress(t, signer, proxy.url(), rs.URL)
	if code, got := restarted.webhook(t, signer, http.DefaultClient, "c2"); code != 200 || got["status"] != "queued" {
		t.Fatalf("webhook after the restart: %d %v", code, got)
	}
}
