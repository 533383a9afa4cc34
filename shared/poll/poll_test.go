package poll

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	notYet := errors.New("not yet")
	cases := []struct {
		name    string
		okAfter int // calls before check succeeds; -1 never
		wantErr bool
	}{
		{"holds at once", 0, false},
		{"holds after some checks", 3, false},
		{"never holds", -1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := Until(context.Background(), 200*time.Millisecond, time.Millisecond, func(context.Context) error {
				calls++
				if tc.okAfter >= 0 && calls > tc.okAfter {
					return nil
				}
				return notYet
			})
			if tc.wantErr {
				if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not yet") {
					t.Fatalf("Until = %v, want the deadline with the last check error", err)
				}
				return
			}
			if err != nil || calls != tc.okAfter+1 {
				t.Fatalf("Until = %v after %d checks, want nil after %d", err, calls, tc.okAfter+1)
			}
		})
	}
}
