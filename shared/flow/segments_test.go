package flow_test

import (
	"strings"
	"testing"

	"github.com/smsconv/smsconv/shared/flow"
)

// globalRules is the head of a one-state test flow whose global rules follow.
const globalRules = "name: t\nversion: \"1\"\ninitial_state: a\nstates: [a]\nrules:"

func TestWarnings(t *testing.T) {
	long := strings.Repeat("All work and no play. ", 80) // 1,760 GSM-7 characters: 12 segments
	tests := []struct {
		name string
		yaml string
		want []string // substrings of each warning, in order
	}{
		{"plain GSM-7 replies", globalRules + `
  - any: true
    reply: "You said: '{{ .Text }}'. Type help."
`, nil},
		{"fixed text over ten segments", globalRules + `
  - id: essay
    any: true
    reply: "` + long + `{{ .Text }}"
`, []string{"line 6: rule essay: the reply's fixed text alone is 12 segments (gsm7), over Telnyx's 10"}},
		{"a bullet turns the reply UCS-2", `
name: t
version: "1"
initial_state: a
states:
  a:
    rules:
    - id: menu
      keywords: [help]
      reply: "Commands:` + "\u2022" + ` info ` + "\u2022" + ` status"
`, []string{`rule menu in state a: the reply is UCS-2 because of '•' (U+2022): 1 segment(s) of 70 characters instead of 1 of 160`}},
		{"a text in another script is not noted", globalRules + `
  - any: true
    reply: "Привет, как дела?"
`, nil},
		{"the quoted text does not count", globalRules + `
  - any: true
    reply: "{{ if eq .Keyword \"x\" }}` + "\u2019" + `{{ end }}ok"
`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := flow.Parse("t.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := f.Warnings()
			if len(got) != len(tc.want) {
				t.Fatalf("%d warnings, want %d: %v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i].String(), w) {
					t.Fatalf("warning %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestDefaultFlowWarnings: the seed's help reply is UCS-2 because of its bullets, which flow check notes.
func TestDefaultFlowWarnings(t *testing.T) {
	ws := flow.Default().Warnings()
	if len(ws) != 1 || ws[0].Rule != "help" || !strings.Contains(ws[0].Message, "U+2022") {
		t.Fatalf("Warnings = %v", ws)
	}
	t.Log(ws[0])
}
