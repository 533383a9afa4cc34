package main

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

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

// TestShortDefaults: -short is seen before the flags are defined, since it chooses their defaults.
func TestShortDefaults(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"-short"}, true},
		{[]string{"--short=true", "-runs", "1"}, true},
		{[]string{"-runs", "1", "-short"}, true},
		{[]string{"-short=false"}, false},
		{[]string{"-short=maybe"}, false}, // left for the flag parser to refuse
		{[]string{"--", "-short"}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if got := wantsShort(tt.args); got != tt.want {
				t.Errorf("wantsShort(%q) = %v, want %v", tt.args, got, tt.want)
			}
		})
	}
}

// TestListFlags: the comma-separated flags replace the default list, and refuse a bad element.
func TestListFlags(t *testing.T) {
	var rates []float64
	var workers []int
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(floats(&rates), "rates", "")
	fs.Var(ints(&workers), "workers", "")
	if err := fs.Parse([]string{"-rates", "1.5, 2", "-workers", "4"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rates, []float64{1.5, 2}) || !slices.Equal(workers, []int{4}) {
		t.Fatalf("rates %v workers %v", rates, workers)
	}
	if err := fs.Parse([]string{"-workers", "1,x"}); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Fatalf("bad element: err = %v", err)
	}
}
