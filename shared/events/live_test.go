package events_test

import (
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/natstest"
)

func TestAnnounceChange(t *testing.T) {
	nc, _ := natstest.Start(t).Connect(t)
	sub, err := nc.SubscribeSync(events.ChangesSubject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	want := events.Change{Our: "+12125550100", User: "+13125550123", MessageID: "m1"}
	events.Announcer{NC: nc}.Announce(want)
	events.Announcer{}.Announce(want) // no connection: a no-op, not a panic
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.DecodeChange(m.Data)
	if err != nil || got != want {
		t.Fatalf("announced %+v, %v; want %+v", got, err, want)
	}
	if _, err := events.DecodeChange([]byte("{")); err == nil {
		t.Fatal("DecodeChange accepted broken JSON")
	}
}
