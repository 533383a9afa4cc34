package flow

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/smsconv/smsconv/shared/conversation"
)

// ErrMismatch is returned by Check when a transcript's expectations are not met.
var ErrMismatch = errors.New("transcript mismatch")

// Transcript is a scripted exchange for testing a flow offline: user messages and what must come of each.
// The text format is described in FORMAT.md.
type Transcript struct {
	Name  string // file name, for messages
	Turns []Turn
}

// Turn is one user message with its expectations.
type Turn struct {
	Line      int                  // line of the message in the transcript file
	Wait      time.Duration        // extra idle time before this message, on top of the minute between messages
	In        conversation.Inbound // the message
	Reply     string               // the expected reply; lines joined with "\n"
	WantReply bool                 // false: the flow must not reply
	Expect    []Expectation        // further checks on the conversation after the message
}

// Expectation checks one property of the conversation after a turn.
type Expectation struct {
	Line  int
	Field string // state, count, opted_out or var
	Var   string // the variable's name, for Field "var"
	Value string
}

// Mismatch is one expectation a run did not meet.
type Mismatch struct {
	Line  int    // transcript line of the turn or expectation
	Turn  int    // 1-based turn number
	Input string // the user's message
	Field string // reply, state, count, opted_out or "var NAME"
	Want  string // "(no reply)" when no reply was expected
	Got   string // "(no reply)" when the flow sent none
}

const noReply = "(no reply)"

// ParseTranscript reads a transcript. Problems are reported like flow problems: *ValidationError values joined,
// each naming the line.
func ParseTranscript(name string, data []byte) (Transcript, error) {
	t := Transcript{Name: name}
	var errs []*ValidationError
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &ValidationError{File: name, Line: line, Problem: fmt.Sprintf(format, args...)})
	}
	var cur *Turn
	var wait time.Duration
	replyOpen := false // the current turn's reply block has started
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			replyOpen = false // a blank line ends a reply block; more "<" lines would be a second block
			continue
		}
		if line[0] == '#' {
			continue
		}
		tag, rest := line[0], ""
		if !strings.ContainsRune("><+=~", rune(tag)) {
			bad(n, "unknown line; lines start with > (message), + (attachment), < (reply), = (check), ~ (wait) or # (comment)")
			continue
		}
		if len(line) > 1 {
			if line[1] != ' ' {
				bad(n, "want a space after %q", string(tag))
				continue
			}
			rest = line[2:]
		}
		switch tag {
		case '>':
			text, err := unquote(rest)
			if err != nil {
				bad(n, "message: %v", err)
			}
			t.Turns = append(t.Turns, Turn{Line: n, Wait: wait, In: conversation.Inbound{Text: text}})
			cur, wait, replyOpen = &t.Turns[len(t.Turns)-1], 0, false
		case '+':
			if cur == nil || cur.WantReply || len(cur.Expect) > 0 {
				bad(n, "an attachment (+) must follow its message (>) directly")
				continue
			}
			m, err := parseMedia(rest)
			if err != nil {
				bad(n, "attachment: %v", err)
				continue
			}
			cur.In.Media = append(cur.In.Media, m)
		case '<':
			switch {
			case cur == nil:
				bad(n, "a reply (<) before any message (>)")
			case cur.WantReply && !replyOpen:
				bad(n, "a second reply block for the message on line %d; one message gets one reply", cur.Line)
			case cur.WantReply:
				cur.Reply += "\n" + rest
			default:
				cur.Reply, cur.WantReply, replyOpen = rest, true, true
			}
		case '=':
			if cur == nil {
				bad(n, "an expectation (=) before any message (>)")
				continue
			}
			e, err := parseExpectation(n, rest)
			if err != nil {
				bad(n, "%v", err)
				continue
			}
			cur.Expect = append(cur.Expect, e)
			replyOpen = false
		case '~':
			d, err := time.ParseDuration(strings.TrimSpace(rest))
			if err != nil || d < 0 {
				bad(n, "wait %q: want a duration such as 90m or 25h", strings.TrimSpace(rest))
				continue
			}
			wait += d
		}
	}
	if err := sc.Err(); err != nil {
		bad(0, "read: %v", err)
	}
	if len(errs) == 0 && len(t.Turns) == 0 {
		bad(0, "no messages (lines starting with \"> \")")
	}
	return t, joinProblems(errs)
}

// unquote reads a message: literal text, or a Go double-quoted string when surrounding whitespace or escapes
// matter (editors strip trailing spaces).
func unquote(s string) (string, error) {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		u, err := strconv.Unquote(s)
		if err != nil {
			return s, fmt.Errorf("bad quoted string %s", s)
		}
		return u, nil
	}
	return s, nil
}

// quote is unquote's inverse for Record: text that would not survive the round trip as a literal is quoted.
func quote(s string) string {
	if s == strings.TrimSpace(s) && !strings.ContainsAny(s, "\n\r\t") && (len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"') {
		return s
	}
	return strconv.Quote(s)
}

func parseMedia(s string) (conversation.Media, error) {
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 {
		return conversation.Media{}, errors.New("want: + CONTENT_TYPE URL [SIZE]")
	}
	m := conversation.Media{ContentType: f[0], URL: f[1]}
	if len(f) == 3 {
		size, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || size < 0 {
			return m, fmt.Errorf("size %q is not a byte count", f[2])
		}
		m.Size = size
	}
	return m, nil
}

func parseExpectation(line int, s string) (Expectation, error) {
	field, rest, _ := strings.Cut(strings.TrimSpace(s), " ")
	rest = strings.TrimSpace(rest)
	e := Expectation{Line: line, Field: field}
	switch field {
	case "state", "count", "opted_out":
		if rest == "" {
			return e, fmt.Errorf("= %s needs a value", field)
		}
		e.Value = rest
		if field == "count" {
			if _, err := strconv.Atoi(rest); err != nil {
				return e, fmt.Errorf("= count %q: want a number", rest)
			}
		}
		if field == "opted_out" && rest != "true" && rest != "false" {
			return e, fmt.Errorf("= opted_out %q: want true or false", rest)
		}
	case "var":
		name, value, _ := strings.Cut(rest, " ")
		if name == "" {
			return e, errors.New("= var needs a name (and the value, if not empty)")
		}
		v, err := unquote(strings.TrimSpace(value))
		if err != nil {
			return e, err
		}
		e.Var, e.Value = name, v
	default:
		return e, fmt.Errorf("unknown check %q (want state, count, opted_out or var)", field)
	}
	return e, nil
}

// RunTranscript plays t against f starting from a new conversation created at start, and returns every unmet
// expectation. The first message arrives at start and each next one a minute later (plus any ~ wait). It is pure.
func RunTranscript(f *Flow, t Transcript, start time.Time) []Mismatch {
	var out []Mismatch
	c := conversation.New(start)
	now := start
	for i, turn := range t.Turns {
		if i > 0 {
			now = now.Add(time.Minute)
		}
		now = now.Add(turn.Wait)
		res := f.Step(c, turn.In, now)
		c = res.Conversation
		miss := func(line int, field, want, got string) {
			out = append(out, Mismatch{Line: line, Turn: i + 1, Input: turn.In.Text, Field: field, Want: want, Got: got})
		}
		want, got := noReply, noReply
		if turn.WantReply {
			want = turn.Reply
		}
		if res.HasReply {
			got = res.Reply
		}
		if want != got {
			miss(turn.Line, "reply", want, got)
		}
		for _, e := range turn.Expect {
			switch e.Field {
			case "state":
				if c.State != e.Value {
					miss(e.Line, "state", e.Value, c.State)
				}
			case "count":
				if got := strconv.Itoa(c.MessageCount); got != e.Value {
					miss(e.Line, "count", e.Value, got)
				}
			case "opted_out":
				if got := strconv.FormatBool(c.OptedOut); got != e.Value {
					miss(e.Line, "opted_out", e.Value, got)
				}
			case "var":
				if got := c.Vars[e.Var]; got != e.Value {
					miss(e.Line, "var "+e.Var, e.Value, got)
				}
			}
		}
	}
	return out
}

// Check runs t against f and writes a readable report to w: one line per passing transcript, or each mismatch
// with a line diff of the replies. It returns an error wrapping ErrMismatch if anything differed.
func Check(w io.Writer, f *Flow, t Transcript, start time.Time) error {
	ms := RunTranscript(f, t, start)
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%s:%d: turn %d %q: ", t.Name, m.Line, m.Turn, m.Input)
		if m.Field != "reply" {
			fmt.Fprintf(&b, "%s is %q, want %q\n", m.Field, m.Got, m.Want)
			continue
		}
		b.WriteString("reply differs (- want, + got)\n")
		for _, d := range diffLines(strings.Split(m.Want, "\n"), strings.Split(m.Got, "\n")) {
			fmt.Fprintf(&b, "    %c %s\n", d.op, d.text)
		}
	}
	if len(ms) > 0 {
		fmt.Fprintf(&b, "FAIL %s: %d mismatches in %d turns (flow %s %s)\n", t.Name, len(ms), len(t.Turns), f.name, f.version)
	} else {
		fmt.Fprintf(&b, "ok   %s: %d turns (flow %s %s)\n", t.Name, len(t.Turns), f.name, f.version)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if len(ms) > 0 {
		return fmt.Errorf("%s: %w: %d of %d turns' checks failed", t.Name, ErrMismatch, len(ms), len(t.Turns))
	}
	return nil
}

// Record runs t's messages through f and writes a transcript of what the flow actually does (replies and the
// state after each message), in the transcript format: the quickest way to write a new transcript is to record
// one and read it.
func Record(w io.Writer, f *Flow, t Transcript, start time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# recorded with flow %s %s\n", f.name, f.version)
	c := conversation.New(start)
	now := start
	for i, turn := range t.Turns {
		if i > 0 {
			now = now.Add(time.Minute)
			b.WriteByte('\n')
		}
		if turn.Wait > 0 {
			fmt.Fprintf(&b, "~ %s\n", turn.Wait)
		}
		now = now.Add(turn.Wait)
		res := f.Step(c, turn.In, now)
		c = res.Conversation
		writeTagged(&b, '>', quote(turn.In.Text))
		for _, m := range turn.In.Media {
			fmt.Fprintf(&b, "+ %s %s", m.ContentType, m.URL)
			if m.Size > 0 {
				fmt.Fprintf(&b, " %d", m.Size)
			}
			b.WriteByte('\n')
		}
		if res.HasReply {
			for _, l := range strings.Split(res.Reply, "\n") {
				writeTagged(&b, '<', l)
			}
		}
		fmt.Fprintf(&b, "= state %s\n", c.State)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write transcript: %w", err)
	}
	return nil
}

func writeTagged(b *strings.Builder, tag byte, s string) {
	b.WriteByte(tag)
	if s != "" {
		b.WriteByte(' ')
		b.WriteString(s)
	}
	b.WriteByte('\n')
}

type diffLine struct {
	op   byte // ' ', '-' or '+'
	text string
}

// diffLines is a longest-common-subsequence line diff; replies are a few lines, so quadratic is fine.
func diffLines(a, b []string) []diffLine {
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []diffLine
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			out = append(out, diffLine{' ', a[i]})
			i, j = i+1, j+1
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, diffLine{'-', a[i]})
			i++
		default:
			out = append(out, diffLine{'+', b[j]})
			j++
		}
	}
	for ; i < len(a); i++ {
		out = append(out, diffLine{'-', a[i]})
	}
	for ; j < len(b); j++ {
		out = append(out, diffLine{'+', b[j]})
	}
	return out
}
