package flow_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/flow"
	"github.com/smsconv/smsconv/shared/sms"
)

// engineFlow exercises every matcher, action and template feature; its rules are small so each case shows one
// behaviour.
const engineFlow = `
name: engine
version: v2
initial_state: start
time_format: "%d/%m/%Y %H:%M"
time_zone: Europe/Paris
expiry: 1h
states:
  start:
    rules:
      - id: name
        regex: '(?i)^my name is (?P<name>\w+)$'
        next: named
        actions:
          - set: {name: "{{ .Match.name }}", greeting: "Hi {{ .Match.name }}"}
        reply: '{{ .Vars.greeting }}! ({{ .State }} -> {{ .Next }}, whole "{{ index .Match "0" }}")'
  named:
    rules:
      - id: who
        keywords: [who am i, whoami]
        reply: You are {{ .Vars.name }}.
      - id: forget
        keywords: [forget]
        actions: [end]
        reply: Forgetting {{ .Vars.name }} ({{ .State }} -> {{ .Next }}).
rules:
  - id: photo
    media: true
    reply: '{{ .MediaCount }} file(s): {{ range $i, $m := .Media }}{{ if $i }}, {{ end }}{{ $m.ContentType }}{{ end }}'
  - id: stop
    keywords: [stop]
    actions: [opt_out]
    reply: Bye.
  - id: start
    keywords: [start]
    actions: [opt_in]
    next: start
  - id: reset
    keywords: [reset]
    actions: [reset, set: {after: "yes"}]
    reply: 'Reset at {{ .Now | time }}; {{ .Count }} messages since {{ .Created }}; {{ len .Vars }} vars; next {{ .Next }}'
  - id: silent
    keywords: [shh]
    reply: '{{ if false }}never{{ end }}'
  - id: echo
    keywords: [info]
    reply: '{{ .State }} {{ .Count }} [{{ .Keyword }}] [{{ upper .Text }}] [{{ trim .Text | lower }}] {{ .CreatedAt.Year }}'
  - id: broken
    keywords: [first]
    reply: '{{ (index .Media 0).URL }}'
`

var t0 = time.Date(2026, 6, 18, 12, 0, 0, 0, time.UTC)

func mustParse(tb testing.TB, src string) *flow.Flow {
	tb.Helper()
	f, err := flow.Parse("test.yaml", []byte(src))
	if err != nil {
		tb.Fatalf("parse: %v", err)
	}
	return f
}

// conv is a conversation that has seen count messages, the last one a minute before t0.
func conv(state string, count int, vars map[string]string) conversation.Conversation {
	return conversation.Conversation{State: state, MessageCount: count, CreatedAt: t0.Add(-time.Hour + time.Minute),
		UpdatedAt: t0.Add(-time.Minute), Vars: vars, FlowVersion: "v2"}
}

func TestStep(t *testing.T) {
	f := mustParse(t, engineFlow)
	named := map[string]string{"name": "Ann", "greeting": "Hi Ann"}
	jpeg := conversation.Media{URL: "https://m.example/1.jpg", ContentType: "image/jpeg", Size: 10}
	png := conversation.Media{URL: "https://m.example/2.png", ContentType: "image/png"}
	created := t0.Add(-time.Hour + time.Minute)

	type want struct {
		reply   string // "" with noReply: no reply expected
		noReply bool
		state   string
		count   int
		vars    map[string]string
		optOut  bool
		created time.Time
		rule    string // Detail.Rule
		from    string // Detail.From
		expired bool
		unknown string
		changed bool
		err     bool
	}
	tests := []struct {
		name string
		c    conversation.Conversation
		in   conversation.Inbound
		now  time.Time
		want want
	}{
		{"keyword is trimmed, lower-cased and whitespace-collapsed", conv("named", 3, named),
			conversation.Inbound{Text: "  WHO \t am\n I "}, t0,
			want{reply: "You are Ann.", state: "named", count: 4, vars: named, created: created, rule: "who", from: "named"}},
		{"keyword is the whole message", conv("named", 3, named), conversation.Inbound{Text: "who am i?"}, t0,
			want{noReply: true, state: "named", count: 4, vars: named, created: created, from: "named"}},
		{"regex captures named groups into Match and set", conv("start", 1, nil),
			conversation.Inbound{Text: "  My name is Bob "}, t0,
			want{reply: `Hi Bob! (start -> named, whole "My name is Bob")`, state: "named", count: 2,
				vars: map[string]string{"name": "Bob", "greeting": "Hi Bob"}, created: created, rule: "name", from: "start"}},
		{"state rules apply only in their state", conv("named", 3, named), conversation.Inbound{Text: "my name is Bob"}, t0,
			want{noReply: true, state: "named", count: 4, vars: named, created: created, from: "named"}},
		{"media matches an MMS without text", conv("start", 1, nil),
			conversation.Inbound{Media: []conversation.Media{jpeg, png}}, t0,
			want{reply: "2 file(s): image/jpeg, image/png", state: "start", count: 2, created: created, rule: "photo", from: "start"}},
		{"first matching rule wins: media before a keyword", conv("start", 1, nil),
			conversation.Inbound{Text: "stop", Media: []conversation.Media{jpeg}}, t0,
			want{reply: "1 file(s): image/jpeg", state: "start", count: 2, created: created, rule: "photo", from: "start"}},
		{"opt_out", conv("named", 3, named), conversation.Inbound{Text: "STOP"}, t0,
			want{reply: "Bye.", state: "named", count: 4, vars: named, optOut: true, created: created, rule: "stop", from: "named"}},
		{"opt_in with no reply", func() conversation.Conversation {
			c := conv("named", 3, named)
			c.OptedOut = true
			return c
		}(), conversation.Inbound{Text: "start"}, t0,
			want{noReply: true, state: "start", count: 4, vars: named, created: created, rule: "start", from: "named"}},
		{"reset replaces the conversation; the reply sees it as the message found it", conv("named", 3, named),
			conversation.Inbound{Text: "reset"}, t0,
			want{reply: "Reset at 18/06/2026 14:00; 4 messages since 18/06/2026 13:01; 3 vars; next start",
				state: "start", count: 1, vars: map[string]string{"after": "yes"}, created: t0, rule: "reset", from: "named"}},
		{"end returns to the initial state and clears variables, keeping the count", conv("named", 3, named),
			conversation.Inbound{Text: "forget"}, t0,
			want{reply: "Forgetting Ann (named -> start).", state: "start", count: 4, created: created, rule: "forget", from: "named"}},
		{"a reply rendering to nothing is no reply", conv("start", 1, nil), conversation.Inbound{Text: "shh"}, t0,
			want{noReply: true, state: "start", count: 2, created: created, rule: "silent", from: "start"}},
		{"text, keyword, functions and times in the flow's zone", conv("start", 1, nil), conversation.Inbound{Text: "  INFO "}, t0,
			want{reply: "start 2 [info] [  INFO ] [info] 2026", state: "start", count: 2, created: created, rule: "echo", from: "start"}},
		{"a template failing at run time withholds the reply", conv("start", 1, nil), conversation.Inbound{Text: "first"}, t0,
			want{noReply: true, state: "start", count: 2, created: created, rule: "broken", from: "start", err: true}},
		{"new conversation starts in the initial state", conversation.New(t0), conversation.Inbound{Text: "info"}, t0,
			want{reply: "start 1 [info] [INFO] [info] 2026", state: "start", count: 1, created: t0, rule: "echo", from: "start"}},
		{"a new conversation put in a state on purpose stays there", func() conversation.Conversation {
			c := conversation.New(t0)
			c.State, c.Vars = "named", named
			return c
		}(), conversation.Inbound{Text: "whoami"}, t0,
			want{reply: "You are Ann.", state: "named", count: 1, vars: named, created: t0, rule: "who", from: "named"}},
		{"idle longer than expiry starts afresh, keeping opt-out", func() conversation.Conversation {
			c := conv("named", 3, named)
			c.UpdatedAt, c.OptedOut = t0.Add(-time.Hour-time.Second), true
			return c
		}(), conversation.Inbound{Text: "whoami"}, t0,
			want{noReply: true, state: "start", count: 1, optOut: true, created: t0, from: "start", expired: true}},
		{"idle exactly the expiry is not expired", func() conversation.Conversation {
			c := conv("named", 3, named)
			c.UpdatedAt = t0.Add(-time.Hour)
			return c
		}(), conversation.Inbound{Text: "whoami"}, t0,
			want{reply: "You are Ann.", state: "named", count: 4, vars: named, created: created, rule: "who", from: "named"}},
		{"unknown state restarts at the initial state keeping count and vars", conv("gone", 5, named),
			conversation.Inbound{Text: "my name is Cy"}, t0,
			want{reply: `Hi Cy! (start -> named, whole "my name is Cy")`, state: "named", count: 6,
				vars: map[string]string{"name": "Cy", "greeting": "Hi Cy"}, created: created, rule: "name", from: "start", unknown: "gone"}},
		{"a different stored version is reported", func() conversation.Conversation {
			c := conv("start", 1, nil)
			c.FlowVersion = "v1"
			return c
		}(), conversation.Inbound{Text: "shh"}, t0,
			want{noReply: true, state: "start", count: 2, created: created, rule: "silent", from: "start", changed: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inVars := maps.Clone(tc.c.Vars)
			res, det := f.StepDetail(tc.c, tc.in, tc.now)
			c, w := res.Conversation, tc.want
			if res.HasReply == w.noReply || res.Reply != w.reply {
				t.Errorf("reply %q (has %v), want %q (has %v)", res.Reply, res.HasReply, w.reply, !w.noReply)
			}
			if c.State != w.state || c.MessageCount != w.count || c.OptedOut != w.optOut {
				t.Errorf("state %q count %d opted out %v, want %q %d %v", c.State, c.MessageCount, c.OptedOut, w.state, w.count, w.optOut)
			}
			if !maps.Equal(c.Vars, w.vars) {
				t.Errorf("vars %v, want %v", c.Vars, w.vars)
			}
			if !c.CreatedAt.Equal(w.created) || !c.UpdatedAt.Equal(tc.now) || c.FlowVersion != "v2" {
				t.Errorf("created %v updated %v version %q, want %v %v v2", c.CreatedAt, c.UpdatedAt, c.FlowVersion, w.created, tc.now)
			}
			if det.Rule != w.rule || det.From != w.from || det.To != c.State || det.Expired != w.expired ||
				det.UnknownState != w.unknown || det.VersionChanged != w.changed || (det.Err != nil) != w.err {
				t.Errorf("detail %+v, want rule %q from %q to %q expired %v unknown %q changed %v err %v",
					det, w.rule, w.from, c.State, w.expired, w.unknown, w.changed, w.err)
			}
			if !maps.Equal(tc.c.Vars, inVars) {
				t.Errorf("Step changed the caller's vars: %v, was %v", tc.c.Vars, inVars)
			}
			if again := f.Step(tc.c, tc.in, tc.now); again.Reply != res.Reply || again.Conversation.State != c.State {
				t.Errorf("not deterministic: %+v then %+v", res, again)
			}
		})
	}
}

func TestStepDetailNames(t *testing.T) {
	f := mustParse(t, `
name: ids
version: "1"
states:
  new:
    rules:
      - keywords: [a]
        reply: A
rules:
  - regex: '^b$'
    reply: B
`)
	tests := []struct {
		text, rule, matcher string
		line                int
	}{
		{"a", "new#1", "keywords", 7},
		{"b", "global#1", "regex", 10},
		{"c", "", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			_, det := f.StepDetail(conversation.New(t0), conversation.Inbound{Text: tc.text}, t0)
			if det.Rule != tc.rule || det.Matcher != tc.matcher || det.Line != tc.line {
				t.Errorf("rule %q matcher %q line %d, want %q %q %d", det.Rule, det.Matcher, det.Line, tc.rule, tc.matcher, tc.line)
			}
		})
	}
}

func TestUnknownStatePolicies(t *testing.T) {
	const src = `
name: policy
version: "2"
unknown_state: %s
states: [new, asked]
rules:
  - keywords: [ask]
    next: asked
    reply: "{{ .State }} {{ .Count }} {{ .Vars.x }}"
  - any: true
    actions: [set: {x: "1"}]
`
	tests := []struct {
		policy    string
		wantReply string
		wantCount int
		wantVars  int
	}{
		{"restart", "new 8 kept", 8, 1},
		{"reset", "new 1 ", 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.policy, func(t *testing.T) {
			f := mustParse(t, strings.Replace(src, "%s", tc.policy, 1))
			c := conv("removed_in_v2", 7, map[string]string{"x": "kept"})
			res, det := f.StepDetail(c, conversation.Inbound{Text: "ask"}, t0)
			if res.Reply != tc.wantReply || res.Conversation.MessageCount != tc.wantCount || len(res.Conversation.Vars) != tc.wantVars {
				t.Errorf("reply %q count %d vars %v, want %q %d %d vars", res.Reply, res.Conversation.MessageCount,
					res.Conversation.Vars, tc.wantReply, tc.wantCount, tc.wantVars)
			}
			if det.UnknownState != "removed_in_v2" || res.Conversation.State != "asked" || res.Conversation.FlowVersion != "2" {
				t.Errorf("detail %+v, conversation %+v", det, res.Conversation)
			}
		})
	}
}

func TestFlowSettings(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		fname   string
		version string
		initial string
		expiry  time.Duration
	}{
		{"defaults", "name: a\nversion: 3\nstates: [new]\nrules: [{any: true}]\n", "a", "3", "new", 0},
		{"days", "name: b\nversion: x\nexpiry: 7d\ninitial_state: s\nstates: [s]\nrules: [{any: true}]\n", "b", "x", "s", 7 * 24 * time.Hour},
		{"go duration", "name: c\nversion: y\nexpiry: 90m\nstates: [new]\nrules: [{any: true}]\n", "c", "y", "new", 90 * time.Minute},
		{"off", "name: d\nversion: z\nexpiry: off\nstates: [new]\nrules: [{any: true}]\n", "d", "z", "new", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := mustParse(t, tc.src)
			if f.Name() != tc.fname || f.Version() != tc.version || f.InitialState() != tc.initial || f.Expiry() != tc.expiry {
				t.Errorf("got %q %q %q %v, want %q %q %q %v", f.Name(), f.Version(), f.InitialState(), f.Expiry(),
					tc.fname, tc.version, tc.initial, tc.expiry)
			}
			if !f.HasState(tc.initial) || f.HasState("nope") {
				t.Errorf("HasState wrong")
			}
		})
	}
}

func TestTimeFormats(t *testing.T) {
	at := time.Date(2026, 1, 5, 17, 4, 9, 0, time.UTC)
	tests := []struct{ format, zone, want string }{
		{"", "", "2026-01-05 17:04"},
		{"2006-01-02T15:04:05Z07:00", "Asia/Kolkata", "2026-01-05T22:34:09+05:30"},
		{"%Y-%m-%d %H:%M:%S %Z", "America/New_York", "2026-01-05 12:04:09 EST"},
		{"%a %e %b %y, %I:%M %p (%z) %%", "UTC", "Mon  5 Jan 26, 05:04 PM (+0000) %"},
		{"%A %B %j", "UTC", "Monday January 005"},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			src := "name: t\nversion: \"1\"\nstates: [new]\nrules: [{any: true, reply: \"{{ .Created }}\"}]\n"
			if tc.format != "" {
				src += "time_format: \"" + tc.format + "\"\n"
			}
			if tc.zone != "" {
				src += "time_zone: " + tc.zone + "\n"
			}
			res := mustParse(t, src).Step(conversation.New(at), conversation.Inbound{}, at)
			if res.Reply != tc.want {
				t.Errorf("got %q, want %q", res.Reply, tc.want)
			}
		})
	}
}

func TestAliasesAndSharedRules(t *testing.T) {
	f := mustParse(t, `
name: anchors
version: "1"
states:
  new:
    rules:
      - &hi {keywords: [hi], reply: "Hi from {{ .State }}", next: other}
  other:
    rules:
      - *hi
`)
	res := f.Step(conv("other", 1, nil), conversation.Inbound{Text: "hi"}, t0)
	if res.Reply != "Hi from other" || res.Conversation.State != "other" {
		t.Errorf("got %q in %q", res.Reply, res.Conversation.State)
	}
}

// TestRepliesBounded: whatever a template renders, the reply fits Telnyx's 10 segments; a quoted .Text is
// shortened and the template's own words kept, anything else is cut with the marker.
func TestRepliesBounded(t *testing.T) {
	f, err := flow.Parse("bounded.yaml", []byte(`
name: bounded
version: v1
initial_state: start
states: [start]
rules:
  - id: match
    regex: '^say (?P<what>.*)$'
    reply: 'Saying {{ .Match.what }} (end)'
  - id: quote
    any: true
    reply: 'Got "{{ .Text }}" and "{{ .Text }}" (end)'
`))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("ab€ ", 2000)
	tests := []struct {
		name, text, wantTail string
	}{
		{"quoted twice, words kept", long, sms.Marker + `" (end)`},
		{"regex group cut", "say " + long, sms.Marker},
		{"short quotation untouched", "hello", `Got "hello" and "hello" (end)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.Step(conversation.New(time.Time{}), conversation.Inbound{Text: tc.text}, time.Unix(0, 0))
			if !res.HasReply || !sms.Fits(res.Reply, sms.MaxParts) || !strings.HasSuffix(res.Reply, tc.wantTail) {
				t.Fatalf("reply of %d segments, tail %q, want tail %q", sms.Count(res.Reply).Parts, res.Reply[max(0, len(res.Reply)-20):], tc.wantTail)
			}
		})
	}
}
