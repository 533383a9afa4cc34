package main

import "testing"

// TestResultsDir keeps smoke runs away from the committed figures in bench/.
func TestResultsDir(t *testing.T) {
	tests := []struct {
		name  string
		short bool
		want  string
	}{
		{name: "full run", short: false, want: "/repo/bench"},
		{name: "short run", short: true, want: "/repo/.run/bench-short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resultsDir("/repo", tt.short); got != tt.want {
				t.Errorf("resultsDir(short=%v) = %s, want %s", tt.short, got, tt.want)
			}
		})
	}
}
