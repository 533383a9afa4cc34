package natstest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/shared/poll"
)

// Cluster is a JetStream cluster of in-process NATS servers joined by routes on free ports. A server can
// be stopped (what a lost node looks like to the others and to clients) and started again with its store.
type Cluster struct {
	tb testing.TB
	// Servers are the nodes, n1..nN.
	Servers []*Server
}

// StartCluster runs n JetStream servers (n >= 3 for R3 streams) in one cluster and waits until they have
// elected a meta leader, so streams can be created. They are shut down when the test ends.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	c := &Cluster{tb: tb}
	clientPorts, routePorts := make([]int, n), make([]int, n)
	for i := range n {
		clientPorts[i], routePorts[i] = freePort(tb), freePort(tb)
	}
	var routes []*url.URL
	for _, p := range routePorts {
		routes = append(routes, &url.URL{Scheme: "nats", Host: "127.0.0.1:" + strconv.Itoa(p)})
	}
	for i := range n {
		s := &Server{tb: tb}
		s.opts = server.Options{
			ServerName: "n" + strconv.Itoa(i+1),
			Host:       "127.0.0.1",
			Port:       clientPorts[i],
			JetStream:  true,
			StoreDir:   tb.TempDir(),
			NoLog:      true,
			NoSigs:     true,
			Cluster: server.ClusterOpts{
				Name: "smsconv-test",
				Host: "127.0.0.1",
				Port: routePorts[i],
			},
			Routes: routes,
		}
		s.URL = "nats://127.0.0.1:" + strconv.Itoa(clientPorts[i])
		c.Servers = append(c.Servers, s)
	}
	// The servers start concurrently: each waits for its routes, and JetStream needs a quorum of them.
	for _, s := range c.Servers {
		srv, err := server.NewServer(&s.opts)
		if err != nil {
			tb.Fatalf("natstest: new cluster server: %v", err)
		}
		go srv.Start()
		s.srv = srv
	}
	for _, s := range c.Servers {
		if !s.srv.ReadyForConnections(20 * time.Second) {
			tb.Fatalf("natstest: %s not ready in 20s", s.opts.ServerName)
		}
		tb.Cleanup(s.Stop)
	}
	c.WaitMetaLeader(30 * time.Second)
	// The meta group may still drop the first API requests after electing its leader: wait until one is
	// answered through a client, as the tests' own requests will be.
	nc, js := c.Connect(tb)
	c.waitFor(30*time.Second, "jetstream API answers", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err
	})
	nc.Close()
	return c
}

// URL is every server's client URL, comma-separated, as NATS_URL takes them.
func (c *Cluster) URL() string {
	urls := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		urls[i] = s.URL
	}
	return strings.Join(urls, ",")
}

// Connect returns a client connection to the cluster (every server's URL) and a JetStream context on it,
// closed when the test ends.
func (c *Cluster) Connect(tb testing.TB, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	return connect(tb, c.URL(), opts...)
}

// WaitMetaLeader waits until a running server is the JetStream meta leader with every server as its peer,
// and every running server is current with it (before that, stream requests may go unanswered).
func (c *Cluster) WaitMetaLeader(within time.Duration) {
	c.tb.Helper()
	c.waitFor(within, "jetstream meta leader", func() error {
		leader := false
		for _, s := range c.Servers {
			if s.srv == nil {
				continue
			}
			if !s.srv.JetStreamIsCurrent() {
				return fmt.Errorf("%s not current with the meta leader", s.Name())
			}
			if s.srv.JetStreamIsLeader() && len(s.srv.JetStreamClusterPeers()) == len(c.Servers) {
				leader = true
			}
		}
		if !leader {
			return fmt.Errorf("no meta leader yet")
		}
		return nil
	})
}

// StreamLeader returns the server leading stream in the global account, waiting until one does.
func (c *Cluster) StreamLeader(stream string, within time.Duration) *Server {
	c.tb.Helper()
	var leader *Server
	c.waitFor(within, "leader of stream "+stream, func() error {
		for _, s := range c.Servers {
			if s.srv != nil && s.srv.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
				leader = s
				return nil
			}
		}
		return fmt.Errorf("stream %s has no leader", stream)
	})
	return leader
}

// Name is the server's name in the cluster.
func (s *Server) Name() string { return s.opts.ServerName }

// Running says whether the server is up.
func (s *Server) Running() bool { return s.srv != nil }

// waitFor polls check every 20 ms until it returns nil, failing the test with the last error after within.
func (c *Cluster) waitFor(within time.Duration, what string, check func() error) {
	c.tb.Helper()
	if err := poll.Until(context.Background(), within, 20*time.Millisecond, func(context.Context) error { return check() }); err != nil {
		c.tb.Fatalf("natstest: %s: not within %s: %v", what, within, err)
	}
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("natstest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
