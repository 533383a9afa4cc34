//go:build e2e

package chaos

import (
	"context"
	"testing"
	"time"
)

// TestChaosShortCluster is the short run on the cluster profile: 3 NATS servers at R3 and a Redis Cluster,
// while workers are SIGKILLed, the conversation stream's leader and then the new leader are SIGKILLed and
// restarted, and a Redis master is killed (its replica takes over) and comes back as a replica. Every reply
// must arrive exactly once and in order, and the ingress keeps storing webhooks through each NATS node loss.
func TestChaosShortCluster(t *testing.T) {
	o := ClusterOptions()
	o.Conversations, o.MessagesPerConversation, o.Workers, o.Partitions = 40, 6, 3, 8
	o.Duration, o.KillEvery, o.Downtime = 24*time.Second, 10*time.Second, 3*time.Second
	o.GracefulStop = false
	o.RateLimitEvery, o.LostAnswerEvery = 8*time.Second, 6*time.Second
	o.DrainTimeout, o.Settle = 90*time.Second, 4*time.Second
	o.Dir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	r, err := Run(ctx, bins, o, &lineWriter{t: t})
	if err != nil {
		logTails(t, o.Dir)
		t.Fatal(err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"every inbound message accepted", r.InboundAccepted == r.InboundPlanned && r.InboundPlanned == 40*7},
		{"every reply received", r.RepliesReceived == r.InboundPlanned && r.Delivered == r.InboundPlanned},
		{"no dead letters", r.DeadLetters == 0},
		{"a redis master killed and back", r.Faults.RedisRestarts == 1},
		{"two nats stream leaders killed and back", r.Faults.NATSRestarts == 2},
		{"workers killed", r.Faults.WorkerKills > 0},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: not so in report %+v", c.name, r)
		}
	}
	t.Logf("chaos short, cluster profile: %d replies, %d kills, %d 503s, %.1fs", r.RepliesReceived, r.Faults.WorkerKills, r.Webhook503, r.WallSeconds)
}
