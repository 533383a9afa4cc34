// Package natstest runs a real NATS server with JetStream in-process for tests.
package natstest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/shared/events"
)

// Server is an in-process NATS server that can be stopped and started again on the same port and store
// directory, to test what happens while NATS is down.
type Server struct {
	tb   testing.TB
	opts server.Options
	srv  *server.Server
	// URL is the client URL; it stays the same across Stop and Restart.
	URL string
}

// Start runs a JetStream-enabled NATS server on a free port with its store in a temporary directory. It is
// shut down when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{tb: tb}
	s.opts = server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  tb.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}
	s.start()
	s.opts.Port = s.srv.Addr().(*net.TCPAddr).Port
	s.URL = s.srv.ClientURL()
	tb.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.tb.Helper()
	opts := s.opts
	srv, err := server.NewServer(&opts)
	if err != nil {
		s.tb.Fatalf("natstest: new server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		s.tb.Fatalf("natstest: server not ready in 10s")
	}
	s.srv = srv
}

// Stop shuts the server down; clients see it as gone.
func (s *Server) Stop() {
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}

// Restart starts the server again on the same port with the same store, keeping streams and messages.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	s.start()
}

// Connect returns a client connection to the server and a JetStream context on it, closed when the test
// ends.
func (s *Server) Connect(tb testing.TB, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	return connect(tb, s.URL, opts...)
}

// connect connects to url (one server or several, comma-separated), closing the connection when the test ends.
func connect(tb testing.TB, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		tb.Fatalf("natstest: connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("natstest: jetstream: %v", err)
	}
	return nc, js
}

// Topology creates what the ingress and the workers each ensure at start: the streams and the consumers.
func Topology(tb testing.TB, js jetstream.JetStream, o events.StreamOptions) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := events.EnsureStreams(ctx, js, o); err != nil {
		tb.Fatalf("natstest: ensure streams: %v", err)
	}
	if err := events.EnsureConsumers(ctx, js, o); err != nil {
		tb.Fatalf("natstest: ensure consumers: %v", err)
	}
}

// WaitIdle waits until every partition consumer of the conversation stream has nothing pending and nothing
// unacknowledged: the workers are done with all they were given, so what they sent is all they will send. It
// fails the test if that takes over a minute.
func WaitIdle(tb testing.TB, js jetstream.JetStream, partitions int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for p := 0; p < partitions; {
		c, err := js.Consumer(ctx, events.StreamConversations, events.PartitionConsumer(p))
		if err != nil {
			tb.Fatalf("natstest: partition consumer %d: %v", p, err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			tb.Fatalf("natstest: consumers never idle: %v", err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			p++
			continue
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Subscribers returns how many client subscriptions on the server match the literal subject: what a publish
// on it would be delivered to.
func (s *Server) Subscribers(tb testing.TB, subject string) int {
	tb.Helper()
	sz, err := s.srv.Subsz(&server.SubszOptions{Subscriptions: true, Test: subject})
	if err != nil {
		tb.Fatalf("natstest: subscriptions of %s: %v", subject, err)
	}
	return sz.Total
}
