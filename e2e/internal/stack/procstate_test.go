package stack

import (
	"context"
	"testing"
	"time"
)

func TestExitedByItself(t *testing.T) {
	tests := []struct {
		name   string
		script string
		act    func(p *Proc)
		want   bool
	}{
		{"crashes", "exit 3", func(*Proc) {}, true},
		{"killed", "sleep 30", func(p *Proc) { p.Kill() }, false},
		{"stopped", "sleep 30", func(p *Proc) { p.Stop(5 * time.Second) }, false},
		{"still running", "sleep 30", func(*Proc) {}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &Proc{Name: "p", Path: "/bin/sh", Args: []string{"-c", tc.script}, Dir: t.TempDir()}
			if err := p.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Kill)
			tc.act(p)
			deadline := time.Now().Add(5 * time.Second)
			for tc.want && p.Running() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if got := p.ExitedByItself(); got != tc.want {
				t.Fatalf("ExitedByItself = %v, want %v (exit %v)", got, tc.want, p.ExitErr())
			}
			if p.Starts() != 1 {
				t.Fatalf("Starts = %d, want 1", p.Starts())
			}
		})
	}
	t.Run("a restart clears it", func(t *testing.T) {
		p := &Proc{Name: "p", Path: "/bin/sh", Args: []string{"-c", "sleep 30"}, Dir: t.TempDir()}
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Kill)
		if err := p.Restart(context.Background(), false); err != nil {
			t.Fatal(err)
		}
		if p.ExitedByItself() || !p.Running() || p.Starts() != 2 {
			t.Fatalf("after restart: exited by itself %v, running %v, starts %d", p.ExitedByItself(), p.Running(), p.Starts())
		}
	})
}
