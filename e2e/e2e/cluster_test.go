//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/e2e/internal/stack"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/natstest"
	"github.com/smsconv/smsconv/shared/redistest"
)

// defaultWorkerTimers are the worker's own defaults of WORKER_ACK_WAIT and WORKER_HEARTBEAT (the stack
// shortens them otherwise): the recovery measured with them is what a user gets.
var defaultWorkerTimers = []string{"WORKER_ACK_WAIT=3s", "WORKER_HEARTBEAT=1s"}

// burstResult counts what the users received against what they sent.
type burstResult struct {
	lost, duplicate, outOfOrder int
	// lastReply is when the last reply of the burst was delivered.
	lastReply time.Time
}

// burst sends per messages from each user, interleaved, calling during(i) after round i; then waits until
// every reply arrived and the system is idle, and counts lost, duplicate and out-of-order replies.
func burst(t *testing.T, s *stack.Stack, c *stack.Client, users []string, per int, tag string, during func(i int)) burstResult {
	t.Helper()
	ctx := ctxT(t, 3*time.Minute)
	for i := range per {
		for _, u := range users {
			body := stack.Inbound(fmt.Sprintf("e-%s-%s-%d", tag, u, i), fmt.Sprintf("m-%s-%s-%d", tag, u, i), u, s.OurNumber, fmt.Sprintf("m%02d", i), time.Now())
			// A webhook answered 503 (no quorum for a moment) is retried, as Telnyx does.
			for {
				status, raw, err := c.PostWebhook(ctx, body)
				if err == nil && status == 200 {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("webhook: %d %s %v", status, raw, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		during(i)
	}
	for _, u := range users {
		if _, err := c.WaitDelivered(ctx, u, per); err != nil {
			t.Error(err)
		}
	}
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	var r burstResult
	for _, u := range users {
		got, err := c.Delivered(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]bool{}
		next := 0
		for _, m := range got {
			if m.At.After(r.lastReply) {
				r.lastReply = m.At
			}
			var n int
			if _, err := fmt.Sscanf(strings.TrimPrefix(m.Text, "You said: 'm"), "%02d", &n); err != nil {
				t.Fatalf("%s got %q", u, m.Text)
			}
			switch {
			case seen[n]:
				r.duplicate++
			case n != next:
				r.outOfOrder++
			}
			seen[n] = true
			if n == next {
				next++
			}
		}
		for i := range per {
			if !seen[i] {
				r.lost++
			}
		}
	}
	return r
}

func users(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+1212555%04d", 300+i)
	}
	return out
}

// TestR3NodeLossDuringABurst runs the ingress and two workers at NATS_REPLICAS=3 on a three-server JetStream
// cluster and, during a burst, stops the conversation stream's leader, starts it again, then stops the new
// leader (another node): every reply arrives once, in order.
func TestR3NodeLossDuringABurst(t *testing.T) {
	cl := natstest.StartCluster(t, 3)
	env := []string{"NATS_REPLICAS=3"}
	s, c := start(t, stack.Options{Workers: 2, AckWait: 3 * time.Second, NATSURL: cl.URL(), IngressEnv: env, WorkerEnv: env,
		SandboxEnv: []string{"SANDBOX_LATENCY=10ms"}})
	var first, second *natstest.Server
	r := burst(t, s, c, users(8), 20, "r3", func(i int) {
		switch i {
		case 4:
			first = cl.StreamLeader(events.StreamConversations, 10*time.Second)
			t.Logf("stopping stream leader %s", first.Name())
			first.Stop()
		case 9:
			first.Restart()
			cl.StreamLeader(events.StreamConversations, 30*time.Second)
		case 12:
			second = cl.StreamLeader(events.StreamConversations, 10*time.Second)
			t.Logf("stopping stream leader %s (the first was %s)", second.Name(), first.Name())
			second.Stop()
		case 16:
			second.Restart()
		}
	})
	t.Logf("R3, stream leader then another node lost during the burst: %d lost, %d duplicate, %d out of order", r.lost, r.duplicate, r.outOfOrder)
	if r.lost+r.duplicate+r.outOfOrder != 0 {
		t.Fatalf("%+v", r)
	}
}

// TestKilledWorkerRecoveryWithDefaults SIGKILLs a worker during a burst with the worker's default timers and
// reports how long after the kill the last reply came; order and exactly-once are asserted, the time only
// reported (it is a measurement for the README, not a threshold).
func TestKilledWorkerRecoveryWithDefaults(t *testing.T) {
	s, c := start(t, stack.Options{Workers: 2, WorkerEnv: defaultWorkerTimers, SandboxEnv: []string{"SANDBOX_LATENCY=20ms"}})
	var killed time.Time
	r := burst(t, s, c, users(4), 15, "kill", func(i int) {
		if i == 3 {
			s.Workers[0].Kill()
			killed = time.Now()
		}
	})
	t.Logf("SIGKILL with default settings: last reply %.1f s after the kill; %d lost, %d duplicate, %d out of order",
		r.lastReply.Sub(killed).Seconds(), r.lost, r.duplicate, r.outOfOrder)
	if r.lost+r.duplicate+r.outOfOrder != 0 {
		t.Fatalf("%+v", r)
	}
}

// TestRedisMasterLossDuringABurst kills a Redis master during a burst, on a Redis Cluster (its replica is
// promoted) and behind Sentinel (the replica is promoted), next to the same burst on one Redis node killed
// and restarted: each reports lost, duplicate and out-of-order replies as the users' phones see them.
func TestRedisMasterLossDuringABurst(t *testing.T) {
	phones := users(6)
	tests := []struct {
		name string
		// setup returns the stack options and the fault to inject at round 5.
		setup func(t *testing.T) (stack.Options, func(s *stack.Stack))
	}{
		{"one node (REDIS_URL), killed and restarted", func(t *testing.T) (stack.Options, func(s *stack.Stack)) {
			return stack.Options{}, func(s *stack.Stack) {
				s.Redis.Kill()
				if err := s.Redis.Start(ctxT(t, 30*time.Second)); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"redis cluster, a master killed", func(t *testing.T) (stack.Options, func(s *stack.Stack)) {
			cl := redistest.StartCluster(t)
			env := []string{"REDIS_CLUSTER_ADDRS=" + strings.Join(cl.Addrs, ",")}
			return stack.Options{RedisURL: cl.Nodes[0].URL, IngressEnv: env, WorkerEnv: env}, func(*stack.Stack) {
				m := cl.MasterOf("sms:conv:{" + "+13125550100|" + phones[0] + "}")
				t.Logf("killing redis cluster master %s", m.Addr)
				m.Kill()
			}
		}},
		{"sentinel, the master killed", func(t *testing.T) (stack.Options, func(s *stack.Stack)) {
			sn := redistest.StartSentinel(t)
			env := []string{"REDIS_SENTINEL_ADDRS=" + strings.Join(sn.Addrs, ","), "REDIS_SENTINEL_MASTER=" + sn.MasterName}
			return stack.Options{RedisURL: sn.Master.URL, IngressEnv: env, WorkerEnv: env}, func(*stack.Stack) {
				old := sn.Master.Addr
				sn.Master.Kill()
				t.Logf("killed the sentinel master %s; new master %s", old, sn.WaitFailover(old, 30*time.Second))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, fault := tt.setup(t)
			o.Workers, o.AckWait = 2, 3*time.Second
			o.SandboxEnv = []string{"SANDBOX_LATENCY=10ms"}
			s, c := start(t, o)
			var faulted time.Time
			r := burst(t, s, c, phones, 15, "redis", func(i int) {
				if i == 5 {
					faulted = time.Now()
					fault(s)
				}
			})
			t.Logf("%s: %d lost, %d duplicate, %d out of order; last reply %.1f s after the fault", tt.name,
				r.lost, r.duplicate, r.outOfOrder, r.lastReply.Sub(faulted).Seconds())
			if r.duplicate+r.outOfOrder != 0 {
				t.Fatalf("%+v", r)
			}
			if r.lost != 0 {
				t.Errorf("%d replies lost", r.lost)
			}
		})
	}
}
