package platform

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name, level, format string
		wantErr             string
	}{
		{"json", "info", "json", ""},
		{"text", "debug", "text", ""},
		{"bad level", "loud", "json", "LOG_LEVEL"},
		{"bad format", "info", "xml", "LOG_FORMAT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := newLogger(&buf, "svc", tc.level, tc.format)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestJSONDurationsAreReadable(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "svc", "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("shutting down", "timeout", 1500*time.Millisecond, "nested", map[string]any{"x": 1})
	log.WithGroup("g").Info("grouped", "wait", 2*time.Second)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if first["timeout"] != "1.5s" || first["service"] != "svc" {
		t.Fatalf("line %s", lines[0])
	}
	if g, _ := second["g"].(map[string]any); g["wait"] != "2s" {
		t.Fatalf("line %s", lines[1])
	}
}
