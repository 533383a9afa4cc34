package consumer

import "testing"

func TestSessionRuns(t *testing.T) {
	type delivery struct{ cons, stream, delivered, wantStart uint64 }
	tests := []struct {
		name string
		in   []delivery
	}{
		{"a new consumer's first deliveries are one run", []delivery{{1, 10, 1, 10}, {2, 11, 1, 10}, {3, 14, 1, 10}}},
		{"a session joining a consumer starts a run", []delivery{{41, 90, 1, 90}, {42, 91, 1, 90}}},
		{"a redelivery asks the stream, the run goes on", []delivery{{5, 20, 1, 20}, {6, 3, 2, 0}, {7, 21, 1, 20}}},
		{"a run that begins with a redelivery starts at the next first delivery", []delivery{{8, 3, 3, 0}, {9, 30, 1, 30}, {10, 31, 1, 30}}},
		{"a gap (a delivery went elsewhere) starts a new run", []delivery{{1, 10, 1, 10}, {3, 12, 1, 12}, {4, 13, 1, 12}}},
		{"a sequence going back starts a new run", []delivery{{7, 10, 1, 10}, {8, 11, 1, 10}, {5, 11, 1, 11}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &session{order: &partitionOrder{}}
			for i, d := range tt.in {
				if got := s.observe(d.cons, d.stream, d.delivered); got != d.wantStart {
					t.Errorf("delivery %d (consumer seq %d, stream seq %d, delivered %d): run start %d, want %d",
						i, d.cons, d.stream, d.delivered, got, d.wantStart)
				}
			}
		})
	}
}

func TestFloorCoversRunStart(t *testing.T) {
	o := &partitionOrder{}
	if o.covers(0) {
		t.Error("start 0 (no run) covered")
	}
	if o.covers(5) {
		t.Error("start 5 covered by floor 0")
	}
	o.raise(4)
	if !o.covers(5) || o.covers(6) {
		t.Errorf("floor 4: covers(5)=%v covers(6)=%v, want true, false", o.covers(5), o.covers(6))
	}
	o.raise(2) // never down
	if got := o.floor.Load(); got != 4 {
		t.Errorf("floor %d after raising to 2, want 4", got)
	}
}
