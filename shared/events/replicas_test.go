package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/natstest"
)

// TestR3TopologyServesTheHeadCheckFromTheLeader creates the topology at three replicas on a three-server
// cluster: every stream and consumer has three replicas, and the conversation stream answers no direct gets,
// so the worker's "anything older pending?" get goes to the stream leader, never to a lagging replica.
func TestR3TopologyServesTheHeadCheckFromTheLeader(t *testing.T) {
	cl := natstest.StartCluster(t, 3)
	_, js := cl.Connect(t)
	// A bound on set-up, not a measurement: R3 stream creation waits for elections, slow on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o := events.DefaultStreamOptions()
	o.Partitions, o.Replicas, o.AckWait = 2, 3, 3*time.Second
	if err := events.EnsureStreams(ctx, js, o); err != nil {
		t.Fatal(err)
	}
	if err := events.EnsureConsumers(ctx, js, o); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{events.StreamConversations, events.StreamEvents, events.StreamDeadLetters} {
		t.Run(name, func(t *testing.T) {
			s, err := js.Stream(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			cfg := s.CachedInfo().Config
			if cfg.Replicas != 3 {
				t.Errorf("replicas %d, want 3", cfg.Replicas)
			}
			if name == events.StreamConversations && cfg.AllowDirect {
				t.Errorf("direct gets allowed at R3: a lagging replica could answer the head check")
			}
			for info := range s.ListConsumers(ctx).Info() {
				if info.Config.Replicas != 3 {
					t.Errorf("consumer %s has %d replicas, want 3", info.Name, info.Config.Replicas)
				}
			}
		})
	}
}
