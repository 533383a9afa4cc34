package flow_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/flow"
)

// TestValidationErrors loads each bad flow in testdata and compares the whole error, problem by problem: the
// messages are the product here, since an author reads them to fix the file.
func TestValidationErrors(t *testing.T) {
	tests := []struct {
		file string
		want []string // each prefixed by "testdata/<file>" in the error
	}{
		{"actions.yaml", []string{
			":6: global rule 1: unknown action \"restart\" (want set, reset, end, opt_out or opt_in)",
			":9: global rule 2: action set needs variables: set: {name: template}",
			":12: global rule 3: opt_out and opt_in in the same rule",
			":16: global rule 4: variable name \"1st\" must be letters, digits and _, not starting with a digit",
			":16: global rule 4: set list: the value must be a string template",
			":16: global rule 4: set ok: bad template: unexpected \"}\" in operand",
			":17: global rule 4: action reset takes no value",
			":20: global rule 5: actions must be a list",
		}},
		{"bad_regex.yaml", []string{
			":5: global rule 1: regex: error parsing regexp: missing closing ): `^(?P<n>\\d+$`",
			":7: global rule 2: regex: error parsing regexp: invalid named capture: `(?<=a)b`",
		}},
		{"duplicate_keywords.yaml", []string{
			":8: rule 2 of state \"new\": keyword \"hello\" is already used by rule 1 of state \"new\"",
			":14: global rule 2: keyword \"stop all\" is already used by global rule 1",
			":16: global rule 3: empty keyword (use regex: '^$' to match an empty message)",
		}},
		{"empty.yaml", []string{
			": empty flow: the file holds no YAML document",
		}},
		{"matchers.yaml", []string{
			":5: global rule 1: no matcher: give one of keywords, regex, media or any",
			":6: global rule 2: more than one matcher (keywords, regex): give exactly one, or split the rule",
			":9: global rule 3: media must be true (leave it out otherwise)",
			":11: global rule 4: any must be true (leave it out otherwise)",
		}},
		{"no_rules.yaml", []string{
			":1: empty flow: no rules in any state or in the global rules",
			":3: state \"other\" is unreachable: it is not the initial state and no rule leads to it",
		}},
		{"not_mapping.yaml", []string{
			":1: the top level must be a mapping (name, version, states, rules, ...)",
		}},
		{"settings.yaml", []string{
			":2: version must not be empty",
			":4: time_format \"YYYY-MM-DD\": contains no date or time fields (use a Go layout such as \"2006-01-02 15:04\" or strftime such as \"%Y-%m-%d %H:%M\")",
			":5: time_zone \"Mars/Olympus_Mons\" is not an IANA time zone name (e.g. UTC, Europe/Paris)",
			":6: expiry: \"3 days\" is not a duration (want e.g. 30m, 24h, 7d or off)",
			":7: unknown_state \"ignore\": want restart or reset",
			":8: unknown key \"retries\" (want name, version, description, initial_state, time_format, time_zone, expiry, unknown_state, states, rules)",
		}},
		{"settings_strftime.yaml", []string{
			":1: version is required",
			":2: time_format \"%Y-%m-%d %k\": unknown directive %k (know %Y %y %m %d %e %j %H %I %M %S %p %b %B %a %A %Z %z %%)",
			":3: time_zone \"Local\" is not an IANA time zone name (e.g. UTC, Europe/Paris)",
			":4: expiry: \"-5m\" is negative",
		}},
		{"shadowed.yaml", []string{
			":8: rule 2 of state \"new\": never reached: rule 1 of state \"new\" above it matches every message",
		}},
		{"states.yaml", []string{
			":3: initial_state \"begin\" is not a defined state",
			":6: state \"new\" is defined twice (first on line 5)",
			":7: state name \"has space\" must be letters, digits, _, . or - (not starting with . or -)",
			":8: state \"greeted\": must be empty or a mapping with rules",
		}},
		{"syntax.yaml", []string{
			":4: YAML: did not find expected ',' or ']'",
		}},
		{"template_fields.yaml", []string{
			":8: global rule 1: reply: .Match.nmae: the rule's regex has no group named \"nmae\"",
			":10: global rule 2: reply: .Vars.nmae: no set action in the flow assigns \"nmae\"",
			":10: global rule 2: reply: .Nxt: no such field (have .State .Next .Count .CreatedAt .Now .Vars .Text .Keyword .Media .MediaCount .Match .Created)",
			":10: global rule 2: reply: .CreatedAt.Yeer: no such field or method in time.Time",
			":12: global rule 3: reply: .Match: the rule has no regex, so there is nothing to match",
			":12: global rule 3: reply: .Count.Value: .Count is of type int, which has no fields",
			":14: global rule 4: reply: .Url: no such field or method in conversation.Media",
			":14: global rule 4: reply: .nmae: no set action in the flow assigns \"nmae\"",
			":14: global rule 4: reply: $.Nope: no such field (have .State .Next .Count .CreatedAt .Now .Vars .Text .Keyword .Media .MediaCount .Match .Created)",
			":18: global rule 5: reply: .Stat: no such field (have .State .Next .Count .CreatedAt .Now .Vars .Text .Keyword .Media .MediaCount .Match .Created)",
			":19: global rule 5: reply: .Match: the rule has no regex, so there is nothing to match",
			":22: global rule 6: set copy: .Vars.nope: no set action in the flow assigns \"nope\"",
		}},
		{"template_parse.yaml", []string{
			":8: global rule 1: reply: bad template: unexpected \"}\" in operand",
			":10: global rule 2: reply: bad template: function \"shout\" not defined",
			":12: global rule 3: reply: bad template: unexpected EOF",
		}},
		{"two_documents.yaml", []string{
			":7: a second YAML document; a flow file holds exactly one",
		}},
		{"unknown_keys.yaml", []string{
			":3: key \"version\" given twice (first on line 2)",
			":7: global rule 1: unknown key \"rpely\" (want id, description, keywords, regex, media, any, reply, next, actions)",
			":12: global rule 3: id \"dup\" already used by the rule on line 9",
			":15: global rule 4: must be a mapping (keywords/regex/media/any, reply, next, actions)",
		}},
		{"unknown_next.yaml", []string{
			":17: rule 3 of state \"greeted\": next state \"gretted\" is not defined",
		}},
		{"unreachable.yaml", []string{
			":10: state \"island\" is unreachable: it is not the initial state and no rule leads to it",
			":15: state \"other_island\" is unreachable: it is not the initial state and no rule leads to it",
		}},
	}
	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			f, err := flow.Load(path)
			if f != nil || err == nil {
				t.Fatalf("Load succeeded, want %d problems", len(tc.want))
			}
			var want []string
			for _, w := range tc.want {
				want = append(want, path+w)
			}
			if got := err.Error(); got != strings.Join(want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
			if !errors.Is(err, flow.ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false")
			}
			var ve *flow.ValidationError
			if !errors.As(err, &ve) || ve.File != path {
				t.Errorf("errors.As: %+v", ve)
			}
		})
	}
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !covered[filepath.Base(f)] {
			t.Errorf("%s has no expected errors in this test", f)
		}
	}
}

func TestValidationErrorFields(t *testing.T) {
	_, err := flow.Parse("flows/x.yaml", []byte("name: x\nversion: \"1\"\nstates: [new]\nrules:\n  - keywords: [hi]\n    next: gone\n"))
	var ve *flow.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *ValidationError, got %v", err)
	}
	want := flow.ValidationError{File: "flows/x.yaml", Line: 6, Problem: `global rule 1: next state "gone" is not defined`}
	if *ve != want {
		t.Errorf("got %+v, want %+v", *ve, want)
	}
	if got := ve.Error(); got != `flows/x.yaml:6: global rule 1: next state "gone" is not defined` {
		t.Errorf("Error() = %q", got)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := flow.Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, flow.ErrInvalid) {
		t.Errorf("got %v, want a not-exist error that is not ErrInvalid", err)
	}
}

// TestValidFlows are flows the validator must accept: each is a feature that an overeager check could reject.
func TestValidFlows(t *testing.T) {
	tests := []struct{ name, src string }{
		{"same keyword in a state and globally", "name: a\nversion: \"1\"\nstates:\n  new:\n    rules: [{keywords: [hi], reply: state}]\nrules: [{keywords: [hi], reply: global}]\n"},
		{"state reached only through a global rule", "name: a\nversion: \"1\"\nstates: [new, other]\nrules: [{keywords: [go], next: other}]\n"},
		{"keyword given as a single string", "name: a\nversion: \"1\"\nstates: [new]\nrules: [{keywords: stop all, reply: bye}]\n"},
		{"regex numbered groups via index", "name: a\nversion: \"1\"\nstates: [new]\nrules: [{regex: '(\\d+)', reply: '{{ index .Match \"1\" }}'}]\n"},
		{"define and template", "name: a\nversion: \"1\"\nstates: [new]\nrules: [{any: true, reply: '{{ define \"x\" }}{{ .Whatever }}{{ end }}{{ template \"x\" . }}'}]\n"},
		{"no reply and no catch-all", "name: a\nversion: \"1\"\nstates: [new]\nrules: [{keywords: [x]}]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := flow.Parse("ok.yaml", []byte(tc.src)); err != nil {
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
}

// TestFormatExample keeps the example at the top of FORMAT.md valid.
func TestFormatExample(t *testing.T) {
	doc, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("FORMAT.md has no ```yaml block")
	}
	f, err := flow.Parse("FORMAT.md example", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	c := conversation.New(t0)
	var replies []string
	for _, text := range []string{"Pizza", "large", "12 Via Roma"} {
		res := f.Step(c, conversation.Inbound{Text: text}, t0)
		c = res.Conversation
		replies = append(replies, res.Reply)
	}
	want := []string{"Small, medium or large?", "One large pizza. Where should we bring it?",
		"A large pizza to 12 Via Roma, ordered 18/06 14:00. Thanks!"}
	if strings.Join(replies, "|") != strings.Join(want, "|") {
		t.Errorf("replies %q, want %q", replies, want)
	}
}
