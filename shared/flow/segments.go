package flow

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"text/template/parse"

	"github.com/smsconv/smsconv/shared/sms"
)

// Warning is something `worker flow check` reports about a valid flow: it loads and runs, but a reply costs
// more than it seems to, or cannot be sent whole.
type Warning struct {
	// Line is the rule's line in the flow file.
	Line int
	// Rule is the rule's id (or its position when it has none) and State its state, "" for a global rule.
	Rule, State string
	// Message says what and why.
	Message string
}

func (w Warning) String() string {
	where := "rule " + w.Rule
	if w.State != "" {
		where += " in state " + w.State
	}
	return fmt.Sprintf("line %d: %s: %s", w.Line, where, w.Message)
}

// maxUCS2Culprits bounds the distinct characters a note names: a reply with more is UCS-2 by design (another
// script), not because of a stray character.
const maxUCS2Culprits = 3

// Warnings checks every reply's fixed text, the part of its template sent whatever the message (the text
// outside any action; an {{if}} branch may not be sent, so it is not counted): a fixed text over
// sms.MaxParts segments means every reply of the rule is cut; a fixed text that is UCS-2 because of one to
// three characters (a bullet, a curly quote, an emoji) costs up to 2.3 times the segments it would as GSM-7.
// The warnings are in line order.
func (f *Flow) Warnings() []Warning {
	var out []Warning
	check := func(state string, rules []*rule) {
		for i, r := range rules {
			if r.reply == nil {
				continue
			}
			id := r.id
			if id == "" {
				id = fmt.Sprintf("#%d", i+1)
			}
			for _, msg := range replyWarnings(r.reply.fixed()) {
				out = append(out, Warning{Line: r.line, Rule: id, State: state, Message: msg})
			}
		}
	}
	check("", f.global.rules)
	for name, st := range f.states {
		check(name, st.rules)
	}
	slices.SortFunc(out, func(a, b Warning) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), strings.Compare(a.Message, b.Message))
	})
	return out
}

// fixed is the text a reply sends whatever the data: a static text whole, else the template's top-level text.
func (t *text) fixed() string {
	if t.tmpl == nil || t.tmpl.Tree == nil || t.tmpl.Root == nil {
		return t.static
	}
	var b strings.Builder
	for _, n := range t.tmpl.Root.Nodes {
		if tn, ok := n.(*parse.TextNode); ok {
			b.Write(tn.Text)
		}
	}
	return b.String()
}

func replyWarnings(fixed string) []string {
	var out []string
	c := sms.Count(fixed)
	if c.Parts > sms.MaxParts {
		out = append(out, fmt.Sprintf("the reply's fixed text alone is %d segments (%s), over Telnyx's %d: every reply is cut to fit",
			c.Parts, c.Encoding, sms.MaxParts))
	}
	if c.Encoding != sms.UCS2 {
		return out
	}
	var culprits []rune
	for _, r := range fixed {
		if sms.Count(string(r)).Encoding == sms.UCS2 && !slices.Contains(culprits, r) {
			culprits = append(culprits, r)
		}
	}
	if len(culprits) > maxUCS2Culprits {
		return out
	}
	gsm := fixed
	names := make([]string, len(culprits))
	for i, r := range culprits {
		gsm = strings.ReplaceAll(gsm, string(r), "-")
		names[i] = fmt.Sprintf("%q (U+%04X)", r, r)
	}
	g := sms.Count(gsm)
	out = append(out, fmt.Sprintf("the reply is UCS-2 because of %s: %d segment(s) of 70 characters instead of %d of 160 as GSM-7",
		strings.Join(names, ", "), c.Parts, g.Parts))
	return out
}
