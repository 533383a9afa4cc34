package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/store"
)

func TestRevokeSession(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	if err := s.RevokeSession(ctx, "a", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, "expired", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"a": true, "b": false, "expired": false} {
		if got, err := s.SessionRevoked(ctx, id); err != nil || got != want {
			t.Errorf("SessionRevoked(%q) = %v, %v; want %v", id, got, err, want)
		}
	}
}

// Taking a conversation over moves its version, so a worker holding it in its cache reloads it instead of
// committing its old state (and with it taken_over=0) back.
func TestSetTakenOverMovesTheVersion(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	k := store.Key{Our: "+12125550100", User: "+13125550123"}
	before, err := s.Load(ctx, k, "m1", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetTakenOver(ctx, k, true); err != nil {
		t.Fatal(err)
	}
	after, err := s.Load(ctx, k, "m1", "")
	if err != nil {
		t.Fatal(err)
	}
	if !after.Conversation.TakenOver || after.Version == before.Version {
		t.Fatalf("after SetTakenOver: taken over %v, version %d (was %d); want taken over and a new version",
			after.Conversation.TakenOver, after.Version, before.Version)
	}
	if err := s.SetTakenOver(ctx, k, false); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Conversation(ctx, k); err != nil || c.TakenOver {
		t.Fatalf("handed back: %+v, %v", c, err)
	}
}
