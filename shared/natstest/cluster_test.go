package natstest_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/shared/natstest"
)

// TestClusterKeepsAnR3StreamThroughTheLossOfItsLeader publishes to an R3 stream, stops its leader, and
// reads every message back from the two servers left.
func TestClusterKeepsAnR3StreamThroughTheLossOfItsLeader(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	_, js := c.Connect(t, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A new cluster may drop or refuse the first stream create (a meta leader still placing peers): the
	// setup retries it within the test's deadline; what is tested comes after.
	for {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := js.CreateStream(cctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3, Storage: jetstream.FileStorage})
		ccancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("create the R3 stream: %v", err)
		}
		t.Logf("create the R3 stream: %v; retrying", err)
		time.Sleep(100 * time.Millisecond)
	}
	for i := range 10 {
		if _, err := js.Publish(ctx, "t.x", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	leader := c.StreamLeader("T", 10*time.Second)
	leader.Stop()
	if next := c.StreamLeader("T", 30*time.Second); next == leader {
		t.Fatalf("leader %s still leads after it stopped", leader.Name())
	}
	var info *jetstream.StreamInfo
	for info == nil || info.State.Msgs != 10 {
		s, err := js.Stream(ctx, "T")
		if err == nil {
			info, err = s.Info(ctx)
		}
		if ctx.Err() != nil {
			t.Fatalf("stream after the leader's loss: %+v, %v", info, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
