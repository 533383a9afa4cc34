package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/smsconv/smsconv/shared/poll"
)

// clusterSize is the number of NATS servers, and of Redis masters (each with one replica), of a cluster stack.
const clusterSize = 3

// startClusters starts, for Options.Cluster, NATS as three JetStream servers joined by routes and Redis as a
// Redis Cluster of three masters with one replica each (redis-cli --cluster create), and points the services
// at them (NATS_URL with the three servers, NATS_REPLICAS=3, REDIS_CLUSTER_ADDRS).
func (s *Stack) startClusters(ctx context.Context) error {
	if err := s.startNATSCluster(ctx); err != nil {
		return err
	}
	return s.startRedisCluster(ctx)
}

func (s *Stack) startNATSCluster(ctx context.Context) error {
	ports, err := freePorts(3 * clusterSize)
	if err != nil {
		return err
	}
	var routes, urls []string
	for i := range clusterSize {
		routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(ports[3*i+2]))
		urls = append(urls, "nats://127.0.0.1:"+strconv.Itoa(ports[3*i]))
	}
	var monitors []string
	for i := range clusterSize {
		client, monitor := ports[3*i], ports[3*i+1]
		name := "nats-" + strconv.Itoa(i+1)
		store := filepath.Join(s.dir, name)
		if err := os.MkdirAll(store, 0o755); err != nil {
			return err
		}
		// Ready when it takes clients: JetStream needs a quorum, so the first server cannot be healthy
		// before the others start; the cluster's health is awaited once all run.
		p := &Proc{Name: name, Path: s.bins.NATS, Dir: s.dir, Args: []string{"-a", "127.0.0.1", "-p", strconv.Itoa(client),
			"-m", strconv.Itoa(monitor), "-js", "-sd", store, "-n", "n" + strconv.Itoa(i+1),
			"--cluster_name", "smsconv", "--cluster", routes[i], "--routes", strings.Join(routes, ",")},
			ready: tcpReady("127.0.0.1:" + strconv.Itoa(client))}
		if err := p.Start(ctx); err != nil {
			return err
		}
		s.NATSNodes = append(s.NATSNodes, p)
		monitors = append(monitors, "http://127.0.0.1:"+strconv.Itoa(monitor)+"/healthz")
	}
	s.NATSURL = strings.Join(urls, ",")
	for _, m := range monitors {
		if err := waitReady(ctx, httpReady(m), 60*time.Second); err != nil {
			return fmt.Errorf("nats cluster not healthy (%s): %w", m, err)
		}
	}
	return nil
}

func (s *Stack) startRedisCluster(ctx context.Context) error {
	var addrs []string
	for i := range 2 * clusterSize {
		port, err := freeClusterPort()
		if err != nil {
			return err
		}
		name := "redis-" + strconv.Itoa(i+1)
		data := filepath.Join(s.dir, name)
		if err := os.MkdirAll(data, 0o755); err != nil {
			return err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		p := &Proc{Name: name, Path: "redis-server", Dir: s.dir, Args: []string{"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1", "--dir", data, "--appendonly", "yes", "--appendfsync", "always", "--save", "",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000"},
			ready: tcpReady(addr)}
		if err := p.Start(ctx); err != nil {
			return err
		}
		s.RedisNodes = append(s.RedisNodes, p)
		addrs = append(addrs, addr)
	}
	args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out)
	}
	s.RedisClusterAddrs = addrs
	s.RedisURL = "redis://" + addrs[0] + "/0"
	return waitReady(ctx, func(ctx context.Context) error { return s.redisClusterHealthy(ctx) }, 60*time.Second)
}

// redisClusterHealthy checks that every running node reports cluster_state:ok and that half of them are
// replicas in sync with their master (roles are assigned after the slots).
func (s *Stack) redisClusterHealthy(ctx context.Context) error {
	running, inSync := 0, 0
	for _, p := range s.RedisNodes {
		if !p.Running() {
			continue
		}
		running++
		c := redis.NewClient(&redis.Options{Addr: redisAddr(p)})
		info, err := c.ClusterInfo(ctx).Result()
		repl, rerr := c.Info(ctx, "replication").Result()
		_ = c.Close()
		if err = errors.Join(err, rerr); err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("%s: cluster_state not ok", p.Name)
		}
		if strings.Contains(repl, "role:slave") && strings.Contains(repl, "master_link_status:up") {
			inSync++
		}
	}
	if inSync < running/2 {
		return fmt.Errorf("%d of %d redis nodes are replicas in sync", inSync, running)
	}
	return nil
}

// NATSStreamLeader returns the NATS node leading stream (the JetStream API names it), waiting up to 30 s
// while an election is under way.
func (s *Stack) NATSStreamLeader(ctx context.Context, stream string) (*Proc, error) {
	var leader *Proc
	err := waitReady(ctx, func(ctx context.Context) error {
		var err error
		leader, err = s.streamLeader(ctx, stream)
		return err
	}, 30*time.Second)
	return leader, err
}

func (s *Stack) streamLeader(ctx context.Context, stream string) (*Proc, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	nc, err := nats.Connect(s.NATSURL, nats.Name("stack-leader"))
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return nil, fmt.Errorf("stream %s has no leader", stream)
	}
	for i, p := range s.NATSNodes {
		if info.Cluster.Leader == "n"+strconv.Itoa(i+1) {
			return p, nil
		}
	}
	return nil, fmt.Errorf("stream %s leader %q is not a node of the stack", stream, info.Cluster.Leader)
}

// RedisMaster returns a running Redis node that is a master now.
func (s *Stack) RedisMaster(ctx context.Context) (*Proc, error) {
	for _, p := range s.RedisNodes {
		if !p.Running() {
			continue
		}
		c := redis.NewClient(&redis.Options{Addr: redisAddr(p)})
		repl, err := c.Info(ctx, "replication").Result()
		_ = c.Close()
		if err == nil && strings.Contains(repl, "role:master") {
			return p, nil
		}
	}
	return nil, errors.New("no running redis master")
}

// WaitRedisClusterHealthy waits until the Redis Cluster is whole again (after a node came back).
func (s *Stack) WaitRedisClusterHealthy(ctx context.Context, within time.Duration) error {
	return waitReady(ctx, func(ctx context.Context) error { return s.redisClusterHealthy(ctx) }, within)
}

// redisAddr is the address of a Redis node of the cluster stack (its first arguments are --port N).
func redisAddr(p *Proc) string { return "127.0.0.1:" + p.Args[1] }

// waitReady polls check every 50 ms until it succeeds or within passes.
func waitReady(ctx context.Context, check func(context.Context) error, within time.Duration) error {
	return poll.Until(ctx, within, 50*time.Millisecond, check)
}

// freeClusterPort is a free port whose Redis cluster bus port (the port + 10000) is free too.
func freeClusterPort() (int, error) {
	for range 100 {
		ps, err := freePorts(1)
		if err != nil {
			return 0, err
		}
		if ps[0]+10000 > 65535 {
			continue
		}
		var lc net.ListenConfig
		l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:"+strconv.Itoa(ps[0]+10000))
		if err != nil {
			continue
		}
		_ = l.Close()
		return ps[0], nil
	}
	return 0, errors.New("no free port pair for a redis cluster node")
}
