// Package flow is a declarative conversation engine: a YAML file describes states, keyword, regular-expression,
// media and catch-all rules, reply templates and actions, and a *Flow compiled from it implements
// conversation.Dialog. Parsing and validation do the work once; Step is pure and deterministic, so the same
// conversation, message and time always give the same result. The file format is described in FORMAT.md.
package flow

import (
	_ "embed" // the default flow is compiled into every binary that imports the package
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
	_ "time/tzdata" // a flow valid on a developer's machine must stay valid in a container without zoneinfo

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/sms"
)

//go:embed default.yaml
var defaultYAML []byte

// defaultFlow is compiled once; a broken embedded file is a build defect that the package tests catch.
var defaultFlow = func() *Flow {
	f, err := Parse("default.yaml", defaultYAML)
	if err != nil {
		panic(fmt.Sprintf("flow: embedded default flow: %v", err))
	}
	return f
}()

// Default returns the embedded default flow, which reproduces the seed's dialog byte for byte.
func Default() *Flow { return defaultFlow }

// Load reads and parses the flow file at path; validation errors name the path.
func Load(path string) (*Flow, error) {
	data, err := os.ReadFile(path) //nolint:gosec // G304: the path is the operator's FLOW_FILE setting, not user input
	if err != nil {
		return nil, fmt.Errorf("load flow: %w", err)
	}
	return Parse(path, data)
}

// Unknown-state policies: what Step does with a stored conversation whose state the flow no longer defines.
const (
	// UnknownRestart moves the conversation to the initial state, keeping its count, creation time and variables.
	UnknownRestart = "restart"
	// UnknownReset replaces the conversation as the reset action does: new creation time, count restarts, variables
	// cleared.
	UnknownReset = "reset"
)

// Flow is a validated, compiled flow. It is immutable and safe for concurrent use.
type Flow struct {
	name         string
	version      string
	initial      string
	states       map[string]*scope
	global       scope
	layout       string
	loc          *time.Location
	expiry       time.Duration
	unknownState string
}

// Name returns the flow's name.
func (f *Flow) Name() string { return f.name }

// Version returns the flow's version, which Step stores in Conversation.FlowVersion.
func (f *Flow) Version() string { return f.version }

// Expiry returns how long a conversation may stay idle before its next message starts it afresh; 0 means never.
func (f *Flow) Expiry() time.Duration { return f.expiry }

// InitialState returns the state a new (or expired, or reset) conversation starts in.
func (f *Flow) InitialState() string { return f.initial }

// HasState reports whether the flow defines state.
func (f *Flow) HasState(state string) bool { _, ok := f.states[state]; return ok }

// scope is an ordered rule list (one state's, or the global one) with a keyword index: the first rule of the
// scope using each normalised keyword.
type scope struct {
	rules    []*rule
	keywords map[string]int
}

type matcher int

const (
	matchKeywords matcher = iota + 1
	matchRegex
	matchMedia
	matchAny
)

var matcherNames = [...]string{matchKeywords: "keywords", matchRegex: "regex", matchMedia: "media", matchAny: "any"}

func (m matcher) String() string { return matcherNames[m] }

type rule struct {
	id      string
	line    int
	matcher matcher
	regex   *regexp.Regexp
	reply   *text // nil: the rule sends no reply
	next    string
	actions []action
	// restarts is set when the rule resets or ends the conversation, which sends it to the initial state unless
	// next says otherwise.
	restarts bool
	// constant is set when the rule has no template to execute and no variable to set.
	constant bool
}

type actionKind int

const (
	actSet actionKind = iota + 1
	actReset
	actEnd
	actOptOut
	actOptIn
)

type action struct {
	kind actionKind
	sets []setVar
}

type setVar struct {
	name  string
	value *text
}

// text is a compiled template; a template made only of literal text is kept as a string and never executed,
// which makes most replies free.
type text struct {
	static string
	tmpl   *template.Template
}

func (t *text) render(d *Data) (string, error) {
	if t.tmpl == nil {
		return t.static, nil
	}
	var b strings.Builder
	if err := t.tmpl.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Data is what reply and set templates see. Templates describe the message and the conversation it found: State,
// Count and CreatedAt are as on arrival (Count already includes this message), Next is where the conversation
// goes, and Vars includes what this rule's set actions assigned so far.
type Data struct {
	State      string               // the state the message found the conversation in
	Next       string               // the state after this message
	Count      int                  // messages in the conversation, this one included
	CreatedAt  time.Time            // when the conversation started, in the flow's time zone
	Now        time.Time            // when the message is handled, in the flow's time zone
	Vars       map[string]string    // conversation variables; a missing one renders as ""
	Text       string               // the message text exactly as received
	Keyword    string               // the text trimmed, lower-cased, inner whitespace collapsed
	Media      []conversation.Media // attachments of an MMS
	MediaCount int                  // len(Media)
	Match      map[string]string    // the regex rule's groups: named ones by name, all by number ("0" = whole match)
	layout     string
}

// Created returns CreatedAt formatted with the flow's time_format.
func (d *Data) Created() string { return d.CreatedAt.Format(d.layout) }

// Detail tells the caller what a step did, for logs and metrics; Step's result alone is what the dialog decided.
type Detail struct {
	Rule           string // id of the rule that matched ("" if none did): its id, or "<state>#<n>" / "global#<n>"
	Line           int    // line of that rule in the flow file
	Matcher        string // keywords, regex, media or any; "" if no rule matched
	From           string // state the message was matched in (after expiry and unknown-state handling)
	To             string // state after the message
	Expired        bool   // the conversation was idle longer than the flow's expiry and started afresh
	UnknownState   string // the stored state, when the flow does not define it and the unknown_state policy applied
	VersionChanged bool   // the conversation was last advanced by a different flow version
	Err            error  // template execution errors; the reply is withheld when its own template failed
}

// Step advances c by one inbound message; it implements conversation.Dialog.
func (f *Flow) Step(c conversation.Conversation, in conversation.Inbound, now time.Time) conversation.Result {
	res, _ := f.StepDetail(c, in, now)
	return res
}

// StepDetail is Step, also returning what happened.
func (f *Flow) StepDetail(c conversation.Conversation, in conversation.Inbound, now time.Time) (conversation.Result, Detail) {
	now = now.UTC()
	var det Detail
	det.VersionChanged = c.FlowVersion != "" && c.FlowVersion != f.version
	switch {
	case c.MessageCount == 0:
		// A conversation that has not seen a message starts in the initial state, unless the caller put it in a
		// state of this flow on purpose (e.g. after sending a question first). conversation.New's "new" is only a
		// placeholder for flows whose initial state has another name.
		if f.states[c.State] == nil || c.State == conversation.StateNew {
			c.State = f.initial
		}
		if c.CreatedAt.IsZero() {
			c.CreatedAt = now
		}
	case f.expiry > 0 && !c.UpdatedAt.IsZero() && now.Sub(c.UpdatedAt) > f.expiry:
		det.Expired = true
		c = f.fresh(c, now)
	case f.states[c.State] == nil:
		det.UnknownState = c.State
		if f.unknownState == UnknownReset {
			c = f.fresh(c, now)
		} else {
			c.State = f.initial
		}
	}
	c.MessageCount++
	c.UpdatedAt = now
	c.FlowVersion = f.version
	det.From = c.State

	kw := conversation.Keyword(in.Text)
	r, match := f.match(c.State, kw, in)
	if r == nil {
		det.To = c.State
		return conversation.Result{Conversation: c}, det
	}
	det.Rule, det.Line, det.Matcher = r.id, r.line, r.matcher.String()
	next := r.target(c.State, f.initial)
	if r.constant {
		// Nothing to render: skip building template data, the one allocation left in this path.
		c = f.apply(r, c, now)
		c.State, det.To = next, next
		res := conversation.Result{Conversation: c}
		if r.reply != nil && r.reply.static != "" {
			// Fixed text over the limit is refused when the flow is checked; Fit keeps even that answerable.
			res.Reply, _ = sms.Fit(r.reply.static, sms.MaxParts)
			res.HasReply = true
		}
		return res, det
	}

	d := &Data{
		State:      c.State,
		Next:       next,
		Count:      c.MessageCount,
		CreatedAt:  c.CreatedAt.In(f.loc),
		Now:        now.In(f.loc),
		Vars:       c.Vars,
		Text:       in.Text,
		Keyword:    kw,
		Media:      in.Media,
		MediaCount: len(in.Media),
		Match:      match,
		layout:     f.layout,
	}
	var errs []error
	// The caller's map is never written: both the stored variables and the template view are copied on their
	// first write, so Step stays pure even though maps are shared by reference.
	viewOwned, storedOwned := false, false
	for _, a := range r.actions {
		switch a.kind {
		case actSet:
			for _, s := range a.sets {
				v, err := s.value.render(d)
				if err != nil {
					errs = append(errs, fmt.Errorf("set %s: %w", s.name, err))
					continue
				}
				if !viewOwned {
					d.Vars, viewOwned = cloneVars(d.Vars), true
				}
				d.Vars[s.name] = v
				if !storedOwned {
					c.Vars, storedOwned = cloneVars(c.Vars), true
				}
				c.Vars[s.name] = v
			}
		default:
			c = f.act(a.kind, c, now)
			if c.Vars == nil {
				storedOwned = false
			}
		}
	}
	c.State = d.Next
	det.To = c.State

	res := conversation.Result{Conversation: c}
	if r.reply != nil {
		reply, err := r.renderReply(d)
		if err != nil {
			errs = append(errs, fmt.Errorf("reply: %w", err))
		} else if reply != "" {
			res.Reply, res.HasReply = reply, true
		}
	}
	if len(errs) > 0 {
		det.Err = fmt.Errorf("flow %s rule %s: %w", f.name, r.id, errors.Join(errs...))
	}
	return res, det
}

// renderReply renders the rule's reply within Telnyx's limit of sms.MaxParts segments. A reply that quotes the
// message (.Text) is bounded by shortening the quotation, as the seed dialog does, so the reply's own words
// survive; anything else too long is cut with sms.Marker. Telnyx refuses a longer message, and the user would
// get nothing.
func (r *rule) renderReply(d *Data) (string, error) {
	return sms.Quote(d.Text, sms.MaxParts, func(quoted string) (string, error) {
		if quoted == d.Text {
			return r.reply.render(d)
		}
		clipped := *d
		clipped.Text = quoted
		return r.reply.render(&clipped)
	})
}

// apply runs the actions of a rule that sets no variables.
func (f *Flow) apply(r *rule, c conversation.Conversation, now time.Time) conversation.Conversation {
	for _, a := range r.actions {
		c = f.act(a.kind, c, now)
	}
	return c
}

// act runs one action other than set.
func (f *Flow) act(kind actionKind, c conversation.Conversation, now time.Time) conversation.Conversation {
	switch kind {
	case actReset:
		// As the seed's reset: a new conversation whose first message is this one.
		c = f.fresh(c, now)
		c.MessageCount = 1
	case actEnd:
		c.State, c.Vars = f.initial, nil
	case actOptOut:
		c.OptedOut = true
	case actOptIn:
		c.OptedOut = false
	}
	return c
}

// fresh is c started over now, as expiry and the reset action do: only the opt-out flag and flow version survive,
// because consent outlives any conversation.
func (f *Flow) fresh(c conversation.Conversation, now time.Time) conversation.Conversation {
	return conversation.Conversation{
		State:       f.initial,
		CreatedAt:   now,
		UpdatedAt:   now,
		OptedOut:    c.OptedOut,
		FlowVersion: c.FlowVersion,
	}
}

// target is the state a rule leaves the conversation in.
func (r *rule) target(current, initial string) string {
	switch {
	case r.next != "":
		return r.next
	case r.restarts:
		return initial
	default:
		return current
	}
}

// match finds the first rule of the state's scope, then of the global scope, that matches the message.
func (f *Flow) match(state, kw string, in conversation.Inbound) (*rule, map[string]string) {
	if st := f.states[state]; st != nil {
		if r, m := st.match(kw, in); r != nil {
			return r, m
		}
	}
	return f.global.match(kw, in)
}

func (s *scope) match(kw string, in conversation.Inbound) (*rule, map[string]string) {
	kwRule, ok := s.keywords[kw]
	if !ok {
		kwRule = -1
	}
	var trimmed string
	trimmedDone := false
	for i, r := range s.rules {
		switch r.matcher {
		case matchKeywords:
			if i == kwRule {
				return r, nil
			}
		case matchMedia:
			if len(in.Media) > 0 {
				return r, nil
			}
		case matchAny:
			return r, nil
		case matchRegex:
			if !trimmedDone {
				trimmed, trimmedDone = strings.TrimSpace(in.Text), true
			}
			if idx := r.regex.FindStringSubmatchIndex(trimmed); idx != nil {
				return r, groups(r.regex, trimmed, idx)
			}
		}
	}
	return nil, nil
}

// groups maps a regex match to template data: every group by number, named groups also by name. A group that
// did not take part in the match is "".
func groups(re *regexp.Regexp, s string, idx []int) map[string]string {
	names := re.SubexpNames()
	m := make(map[string]string, len(names)*2)
	for i, name := range names {
		var v string
		if idx[2*i] >= 0 {
			v = s[idx[2*i]:idx[2*i+1]]
		}
		m[strconv.Itoa(i)] = v
		if name != "" {
			m[name] = v
		}
	}
	return m
}

func cloneVars(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
