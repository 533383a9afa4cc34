package connect_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/shared/connect"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/natstest"
	"github.com/smsconv/smsconv/shared/platform"
	"github.com/smsconv/smsconv/shared/platform/platformtest"
)

func TestStreamsRefusePartitionMismatchAtOnce(t *testing.T) {
	srv := natstest.Start(t)
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	so := events.DefaultStreamOptions()
	so.Storage, so.Partitions = jetstream.MemoryStorage, 4
	if err := events.EnsureStreams(context.Background(), js, so); err != nil {
		t.Fatalf("first set-up: %v", err)
	}

	logs := platformtest.NewLogs()
	log := slog.New(slog.NewTextHandler(logs, nil))
	svc := platform.New("test", "v1", log, 5*time.Second, struct{}{})
	conns := connect.For(svc)
	so.Partitions = 8
	err = svc.Run(context.Background(), conns.NATSComponent(platform.Queue{NATSURL: srv.URL}, "second"), conns.StreamsComponent(so))
	if !errors.Is(err, events.ErrPartitionMismatch) || !strings.Contains(err.Error(), "start streams:") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(logs.String(), "waiting for JetStream streams") {
		t.Fatalf("a partition mismatch was retried:\n%s", logs.String())
	}
	if !conns.NC.IsClosed() {
		t.Fatal("the NATS connection was not closed when the streams failed")
	}
}

// TestConsumersWaitForTheStreams: a worker started before the ingress waits, saying so, until the streams
// exist, then creates its consumers.
func TestConsumersWaitForTheStreams(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	so := events.DefaultStreamOptions()
	so.Storage, so.Partitions = jetstream.MemoryStorage, 2

	logs := platformtest.NewLogs()
	log := slog.New(slog.NewTextHandler(logs, nil))
	svc := platform.New("test", "v1", log, 5*time.Second, struct{}{})
	conns := connect.For(svc)
	conns.Options.RetryEvery = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- svc.Run(ctx, conns.NATSComponent(platform.Queue{NATSURL: srv.URL}, "worker"), conns.ConsumersComponent(so),
			platform.Component{Name: "ready", Start: func(context.Context) error { close(ready); return nil }})
	}()
	for !strings.Contains(logs.String(), "waiting for JetStream streams (created by the ingress)") {
		select {
		case err := <-done:
			t.Fatalf("the worker stopped before the streams existed: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := events.EnsureStreams(ctx, js, so); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("the worker stopped: %v", err)
	}
	if _, err := js.Consumer(ctx, events.StreamEvents, events.ReceiptsConsumer); err != nil {
		t.Fatalf("receipts consumer after the streams appeared: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
