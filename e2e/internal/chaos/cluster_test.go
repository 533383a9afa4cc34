//go:build e2e

package chaos

import (
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
	r := runT(t, o, 4*time.Minute)
	expect(t, r, 40*7, []check{
		{"a redis master killed and back", r.Faults.RedisRestarts == 1},
		{"two nats stream leaders killed and back", r.Faults.NATSRestarts == 2},
		{"workers killed", r.Faults.WorkerKills > 0},
	})
	t.Logf("chaos short, cluster profile: %d replies, %d kills, %d 503s, %.1fs", r.RepliesReceived, r.Faults.WorkerKills, r.Webhook503, r.WallSeconds)
}
