package flowcmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// flows holds the example flows; the default flow (embedded) is in shared/flow.
const (
	flows       = "../../../../deploy/flows/"
	defaultFlow = "../../../../shared/flow/default"
)

func TestRun(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.transcript")
	if err := os.WriteFile(bad, []byte("> hello\n< Goodbye!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
		wantOut string
	}{
		{"check default", []string{"check", defaultFlow + ".yaml"}, "", "is valid"},
		{"check notes a UCS-2 reply", []string{"check", defaultFlow + ".yaml"}, "",
			"default.yaml:24: rule help: the reply is UCS-2 because of '•' (U+2022): 3 segment(s)"},
		{"default transcript", []string{"test", defaultFlow + ".yaml", defaultFlow + ".transcript"}, "", "ok   "},
		{"appointment transcript", []string{"test", flows + "appointment.yaml", flows + "appointment.transcript"}, "", "ok   "},
		{"wrong reply fails", []string{"test", defaultFlow + ".yaml", bad}, "1 of 1 transcripts failed", "Goodbye!"},
		{"missing file", []string{"check", "nope.yaml"}, "nope.yaml", ""},
		{"record", []string{"record", defaultFlow + ".yaml", bad}, "", "Hello! Welcome to Telnyx SMS."},
		{"no args", []string{"test"}, "usage", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Run(tc.args, &out)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Run: %v\n%s", err, out.String())
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Run err = %v, want %q", err, tc.wantErr)
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("output %q does not contain %q", out.String(), tc.wantOut)
			}
		})
	}
}
