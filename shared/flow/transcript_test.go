package flow_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/flow"
)

// flowsDir holds the shipped example flows and their transcripts; the default flow and its transcript are
// in this package (default.yaml is embedded).
const flowsDir = "../../deploy/flows"

// TestShippedTranscripts runs every X.transcript, here and in deploy/flows, against the X.yaml beside it.
func TestShippedTranscripts(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(flowsDir, "*.transcript"))
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, "default.transcript")
	if len(paths) < 2 {
		t.Fatalf("found %d transcripts in %s, want at least appointment", len(paths)-1, flowsDir)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := flow.Load(strings.TrimSuffix(path, ".transcript") + ".yaml")
			if err != nil {
				t.Fatal(err)
			}
			tr := loadTranscript(t, path)
			var out bytes.Buffer
			if err := flow.Check(&out, f, tr, dialogtest0); err != nil {
				t.Errorf("%v\n%s", err, out.String())
			}
		})
	}
}

// dialogtest0 is the start of every shipped transcript, as the header comments of the files say.
var dialogtest0 = time.Date(2026, 6, 18, 12, 0, 0, 0, time.UTC)

func loadTranscript(tb testing.TB, path string) flow.Transcript {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	tr, err := flow.ParseTranscript(path, data)
	if err != nil {
		tb.Fatal(err)
	}
	return tr
}

func TestParseTranscript(t *testing.T) {
	src := `# a comment
> hello
< line one
<
< line three
= state greeted
= count 1
= var name Ann Lee
= var empty
= opted_out false

~ 2h
~ 30m
> "  spaced\t"
+ image/png https://m.example/a.png 1234
+ video/mp4 https://m.example/b.mp4
>
`
	tr, err := flow.ParseTranscript("x.transcript", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []flow.Turn{
		{Line: 2, In: conversation.Inbound{Text: "hello"}, Reply: "line one\n\nline three", WantReply: true, Expect: []flow.Expectation{
			{Line: 6, Field: "state", Value: "greeted"},
			{Line: 7, Field: "count", Value: "1"},
			{Line: 8, Field: "var", Var: "name", Value: "Ann Lee"},
			{Line: 9, Field: "var", Var: "empty"},
			{Line: 10, Field: "opted_out", Value: "false"},
		}},
		{Line: 14, Wait: 150 * time.Minute, In: conversation.Inbound{Text: "  spaced\t", Media: []conversation.Media{
			{ContentType: "image/png", URL: "https://m.example/a.png", Size: 1234},
			{ContentType: "video/mp4", URL: "https://m.example/b.mp4"},
		}}},
		{Line: 17},
	}
	if len(tr.Turns) != len(want) {
		t.Fatalf("got %d turns, want %d: %+v", len(tr.Turns), len(want), tr.Turns)
	}
	for i := range want {
		got, w := tr.Turns[i], want[i]
		if got.Line != w.Line || got.Wait != w.Wait || got.In.Text != w.In.Text || got.Reply != w.Reply ||
			got.WantReply != w.WantReply || !slices.Equal(got.In.Media, w.In.Media) || !slices.Equal(got.Expect, w.Expect) {
			t.Errorf("turn %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
}

func TestParseTranscriptErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"reply before message", "< hi\n", "t:1: a reply (<) before any message (>)"},
		{"check before message", "= state x\n", "t:1: an expectation (=) before any message (>)"},
		{"no space after tag", ">hello\n", `t:1: want a space after ">"`},
		{"unknown line", "> hi\nhello\n", "t:2: unknown line; lines start with > (message), + (attachment), < (reply), = (check), ~ (wait) or # (comment)"},
		{"two reply blocks", "> hi\n< a\n\n< b\n", "t:4: a second reply block for the message on line 1; one message gets one reply"},
		{"attachment after reply", "> hi\n< a\n+ image/png https://x\n", "t:3: an attachment (+) must follow its message (>) directly"},
		{"bad attachment", "> hi\n+ image/png\n", "t:2: attachment: want: + CONTENT_TYPE URL [SIZE]"},
		{"bad size", "> hi\n+ image/png https://x big\n", `t:2: attachment: size "big" is not a byte count`},
		{"bad wait", "~ soon\n> hi\n", `t:1: wait "soon": want a duration such as 90m or 25h`},
		{"bad check", "> hi\n= mood happy\n", `t:2: unknown check "mood" (want state, count, opted_out or var)`},
		{"bad count", "> hi\n= count many\n", `t:2: = count "many": want a number`},
		{"bad bool", "> hi\n= opted_out yes\n", `t:2: = opted_out "yes": want true or false`},
		{"bad quote", "> \"a\\qb\"\n", `t:1: message: bad quoted string "a\qb"`},
		{"empty", "# nothing\n", "t: no messages (lines starting with \"> \")"},
		{"several", "< a\n> hi\n= count x\n", "t:1: a reply (<) before any message (>)\nt:3: = count \"x\": want a number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := flow.ParseTranscript("t", []byte(tc.src))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v, want %s", err, tc.want)
			}
		})
	}
}

func TestCheckReportsMismatches(t *testing.T) {
	src := `> help
< Available commands:
< • 'info' - Learn about Telnyx
< • 'status' - Check your stats
< • 'reset' - Start over
< • 'stop' - End conversation
= state helped
> hello
= count 3
> hi
< Hello!
`
	tr, err := flow.ParseTranscript("d.transcript", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = flow.Check(&out, flow.Default(), tr, dialogtest0)
	if !errors.Is(err, flow.ErrMismatch) {
		t.Fatalf("got %v, want ErrMismatch", err)
	}
	want := `d.transcript:1: turn 1 "help": reply differs (- want, + got)
      Available commands:
      • 'info' - Learn about Telnyx
    - • 'status' - Check your stats
    + • 'status' - Check your conversation stats
      • 'reset' - Start over
      • 'stop' - End conversation
d.transcript:7: turn 1 "help": state is "new", want "helped"
d.transcript:8: turn 2 "hello": reply differs (- want, + got)
    - (no reply)
    + Hello! Welcome to Telnyx SMS. Type 'help' for available commands or 'info' to learn more about our services.
d.transcript:9: turn 2 "hello": count is "2", want "3"
d.transcript:10: turn 3 "hi": reply differs (- want, + got)
    - Hello!
    + Hello! Welcome to Telnyx SMS. Type 'help' for available commands or 'info' to learn more about our services.
FAIL d.transcript: 5 mismatches in 3 turns (flow default default-1)
`
	if out.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", out.String(), want)
	}
	ms := flow.RunTranscript(flow.Default(), tr, dialogtest0)
	if len(ms) != 5 || ms[1] != (flow.Mismatch{Line: 7, Turn: 1, Input: "help", Field: "state", Want: "helped", Got: "new"}) {
		t.Errorf("mismatches: %+v", ms)
	}
}

func TestCheckPasses(t *testing.T) {
	tr, err := flow.ParseTranscript("ok.transcript", []byte("> info\n< Telnyx provides programmable SMS, Voice, and IoT connectivity APIs. Visit telnyx.com to get started with our developer-friendly platform!\n= state informed\n"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := flow.Check(&out, flow.Default(), tr, dialogtest0); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "ok   ok.transcript: 1 turns (flow default default-1)\n" {
		t.Errorf("report %q", got)
	}
}

// TestRecordRoundTrip records what the appointment flow does with the shipped transcript's messages; checking
// the recording against the flow must pass, which proves Record writes what ParseTranscript reads.
func TestRecordRoundTrip(t *testing.T) {
	f, err := flow.Load(filepath.Join(flowsDir, "appointment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tr := loadTranscript(t, filepath.Join(flowsDir, "appointment.transcript"))
	tr.Turns = append(tr.Turns, flow.Turn{In: conversation.Inbound{Text: "\"quoted\" and\ttab "}})
	var rec bytes.Buffer
	if err := flow.Record(&rec, f, tr, dialogtest0); err != nil {
		t.Fatal(err)
	}
	back, err := flow.ParseTranscript("recorded", rec.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, rec.String())
	}
	if len(back.Turns) != len(tr.Turns) {
		t.Fatalf("recorded %d turns, want %d", len(back.Turns), len(tr.Turns))
	}
	for i := range tr.Turns {
		if back.Turns[i].In.Text != tr.Turns[i].In.Text || back.Turns[i].Wait != tr.Turns[i].Wait ||
			!slices.Equal(back.Turns[i].In.Media, tr.Turns[i].In.Media) {
			t.Errorf("turn %d: recorded %+v, want input %+v", i, back.Turns[i], tr.Turns[i])
		}
	}
	if ms := flow.RunTranscript(f, back, dialogtest0); len(ms) != 0 {
		t.Errorf("recording does not check: %+v\n%s", ms, rec.String())
	}
}
