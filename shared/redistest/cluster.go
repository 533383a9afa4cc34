package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smsconv/smsconv/shared/poll"
)

// Cluster is a real Redis Cluster of redis-server child processes on free ports: three masters, each with
// one replica, created with redis-cli --cluster create.
type Cluster struct {
	tb testing.TB
	// Nodes are the six servers, masters first as redis-cli assigned them at creation.
	Nodes []*Server
	// Addrs are the nodes' host:port, the seed list of REDIS_CLUSTER_ADDRS.
	Addrs []string
}

// StartCluster creates a three-master, three-replica Redis Cluster and waits until every node reports
// cluster_state:ok. Nodes persist with AOF (appendfsync always) like Start's server.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		tb.Fatalf("redistest: redis-cli not found on PATH: install it (Debian: apt-get install -y redis-server)")
	}
	c := &Cluster{tb: tb}
	for range 6 {
		s := newServerOn(tb, freeClusterPort(tb), "--cluster-enabled", "yes", "--cluster-node-timeout", "1000",
			"--cluster-config-file", "nodes.conf")
		c.Nodes = append(c.Nodes, s)
		c.Addrs = append(c.Addrs, s.Addr)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy(30 * time.Second)
	return c
}

// Client returns a cluster client seeded with every node, closed when the test ends.
func (c *Cluster) Client() *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	c.tb.Cleanup(func() { _ = cc.Close() })
	return cc
}

// WaitHealthy waits until every running node reports cluster_state:ok and half of them are replicas in sync
// with their master: a replica that never synchronised cannot take over when its master is killed, and roles
// are assigned after the slots, so cluster_state:ok alone comes too early.
func (c *Cluster) WaitHealthy(within time.Duration) {
	c.tb.Helper()
	waitFor(c.tb, within, "redis cluster healthy", func() error {
		running, replicas := 0, 0
		for _, n := range c.Nodes {
			if n.cmd == nil {
				continue
			}
			running++
			info, err := n.call("CLUSTER", "INFO")
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("%s: cluster_state not ok", n.Addr)
			}
			in, err := n.replicaInSync()
			if err != nil {
				return err
			}
			if in {
				replicas++
			}
		}
		if replicas < running/2 {
			return fmt.Errorf("%d of %d nodes are replicas in sync", replicas, running)
		}
		return nil
	})
}

// replicaInSync says whether the node is a replica whose link to its master is up.
func (s *Server) replicaInSync() (bool, error) {
	repl, err := s.call("INFO", "replication")
	if err != nil {
		return false, err
	}
	return strings.Contains(repl, "role:slave") && strings.Contains(repl, "master_link_status:up"), nil
}

// MasterOf returns the running node that is master of the slot of key.
func (c *Cluster) MasterOf(key string) *Server {
	c.tb.Helper()
	cc := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	slot, err := cc.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		c.tb.Fatalf("redistest: cluster keyslot: %v", err)
	}
	slots, err := cc.ClusterSlots(ctx).Result() //nolint:staticcheck // SA1019: CLUSTER SLOTS still answers on Redis 7 and names each range's master first
	if err != nil {
		c.tb.Fatalf("redistest: cluster slots: %v", err)
	}
	for _, r := range slots {
		if int64(r.Start) <= slot && slot <= int64(r.End) {
			for _, n := range c.Nodes {
				if n.Addr == r.Nodes[0].Addr {
					return n
				}
			}
		}
	}
	c.tb.Fatalf("redistest: no master for slot %d", slot)
	return nil
}

// Sentinel is a Redis master with one replica watched by three Sentinels (redis-server --sentinel), all
// child processes on free ports.
type Sentinel struct {
	tb testing.TB
	// Master and Replica are the data nodes as started; after a failover their roles are swapped.
	Master, Replica *Server
	// Addrs are the Sentinels' host:port, the list of REDIS_SENTINEL_ADDRS.
	Addrs []string
	// MasterName is the name the Sentinels watch (REDIS_SENTINEL_MASTER).
	MasterName string
	sentinels  []*exec.Cmd
}

// StartSentinel starts the master, its replica and three Sentinels (quorum 2, down-after 1 s, failover
// timeout 5 s), and waits until the Sentinels know the replica.
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	s := &Sentinel{tb: tb, MasterName: "smsconv"}
	s.Master = newServer(tb)
	s.Replica = newServer(tb, "--replicaof", "127.0.0.1", strconv.Itoa(s.Master.port))
	for range 3 {
		dir := tb.TempDir()
		port := freePort(tb)
		conf := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 5000\n"+
			"sentinel parallel-syncs %s 1\nlogfile %s\n",
			port, dir, s.MasterName, s.Master.port, s.MasterName, s.MasterName, s.MasterName, filepath.Join(dir, "sentinel.log"))
		path := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			tb.Fatal(err)
		}
		cmd := exec.Command("redis-server", path, "--sentinel")
		if err := cmd.Start(); err != nil {
			tb.Fatalf("redistest: start sentinel: %v", err)
		}
		s.sentinels = append(s.sentinels, cmd)
		s.Addrs = append(s.Addrs, "127.0.0.1:"+strconv.Itoa(port))
	}
	tb.Cleanup(func() {
		for _, cmd := range s.sentinels {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	waitFor(tb, 20*time.Second, "replica in sync", func() error {
		in, err := s.Replica.replicaInSync()
		if err != nil {
			return fmt.Errorf("replica %s: %w", s.Replica.Addr, err)
		}
		if !in {
			return fmt.Errorf("replica %s not in sync with its master", s.Replica.Addr)
		}
		return nil
	})
	waitFor(tb, 20*time.Second, "sentinels see the replica", func() error {
		for _, a := range s.Addrs {
			reps, err := askSentinel(a, func(ctx context.Context, c *redis.SentinelClient) ([]map[string]string, error) {
				return c.Replicas(ctx, s.MasterName).Result()
			})
			if err != nil {
				return err
			}
			if len(reps) == 0 {
				return fmt.Errorf("sentinel %s knows no replica yet", a)
			}
		}
		return nil
	})
	return s
}

// askSentinel runs one query on a fresh client of the Sentinel at addr, with a second to answer: a Sentinel
// that is down or slow costs one query, not the whole wait.
func askSentinel[T any](addr string, query func(context.Context, *redis.SentinelClient) (T, error)) (T, error) {
	c := redis.NewSentinelClient(&redis.Options{Addr: addr})
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return query(ctx, c)
}

// MasterAddr asks the first answering Sentinel for the current master.
func (s *Sentinel) MasterAddr() (string, error) {
	var last error
	for _, a := range s.Addrs {
		hp, err := askSentinel(a, func(ctx context.Context, c *redis.SentinelClient) ([]string, error) {
			return c.GetMasterAddrByName(ctx, s.MasterName).Result()
		})
		if err == nil && len(hp) == 2 {
			return hp[0] + ":" + hp[1], nil
		}
		last = err
	}
	return "", fmt.Errorf("no sentinel answered: %w", last)
}

// WaitFailover waits until the Sentinels name a master other than old.
func (s *Sentinel) WaitFailover(old string, within time.Duration) string {
	s.tb.Helper()
	var now string
	waitFor(s.tb, within, "sentinel failover away from "+old, func() error {
		a, err := s.MasterAddr()
		if err != nil {
			return err
		}
		if a == old {
			return fmt.Errorf("master still %s", a)
		}
		now = a
		return nil
	})
	return now
}

// newServer starts one redis-server with extra arguments, killed when the test ends.
func newServer(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	return newServerOn(tb, freePort(tb), extra...)
}

// freeClusterPort is a free port whose cluster bus port (the port + 10000, fixed by Redis) is free too.
func freeClusterPort(tb testing.TB) int {
	tb.Helper()
	for range 100 {
		p := freePort(tb)
		if p+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		if err != nil {
			continue
		}
		_ = l.Close()
		return p
	}
	tb.Fatalf("redistest: no free port pair for a cluster node")
	return 0
}

func newServerOn(tb testing.TB, port int, extra ...string) *Server {
	tb.Helper()
	s := &Server{tb: tb, dir: tb.TempDir(), port: port, extra: extra}
	s.Addr = "127.0.0.1:" + strconv.Itoa(s.port)
	s.URL = "redis://" + s.Addr + "/0"
	s.start()
	tb.Cleanup(s.Kill)
	return s
}

// call runs one command on the node alone (not through a cluster client) and returns its answer as text.
func (s *Server) call(args ...any) (string, error) {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, err := c.Do(ctx, args...).Text()
	return v, err
}

// waitFor polls check every 50 ms until it returns nil, failing the test with the last error after within.
func waitFor(tb testing.TB, within time.Duration, what string, check func() error) {
	tb.Helper()
	if err := poll.Until(context.Background(), within, 50*time.Millisecond, func(context.Context) error { return check() }); err != nil {
		tb.Fatalf("redistest: %s: not within %s: %v", what, within, err)
	}
}
