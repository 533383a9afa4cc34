package flow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/smsconv/smsconv/shared/conversation"
)

// Defaults of the optional top-level keys.
const (
	DefaultInitialState = "new"
	DefaultTimeFormat   = "2006-01-02 15:04"
	DefaultTimeZone     = "UTC"
)

// Parse validates and compiles a flow file. name is used in error messages (normally the file's path). On
// failure the error joins one *ValidationError per problem found, in line order; errors.Is(err, ErrInvalid)
// holds.
func Parse(name string, data []byte) (*Flow, error) {
	p := &parser{file: name}
	f := p.parse(data)
	if err := joinProblems(p.errs); err != nil {
		return nil, err
	}
	return f, nil
}

type parser struct {
	file     string
	errs     []*ValidationError
	badState bool // some next or initial_state names a state that is not defined
}

func (p *parser) addf(line int, format string, args ...any) {
	p.errs = append(p.errs, &ValidationError{File: p.file, Line: line, Problem: fmt.Sprintf(format, args...)})
}

// where prefixes a problem with its location inside the flow, e.g. `rule 3 of state "greeted": `.
func (p *parser) at(line int, where, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = where + ": " + msg
	}
	p.addf(line, "%s", msg)
}

// rawRule is a rule as read from YAML, before it is compiled; nodes are kept for their line numbers.
type rawRule struct {
	where    string // `rule 3 of state "greeted"` or `global rule 2`
	id       string
	line     int
	state    string // "" for a global rule
	matchers []string
	keywords []*yaml.Node
	regex    *yaml.Node
	reply    *yaml.Node
	next     *yaml.Node
	actions  []rawAction
	broken   bool // not a mapping: already reported, nothing more to say about it
}

type rawAction struct {
	kind actionKind
	line int
	sets []rawSet
}

type rawSet struct {
	name  string
	value *yaml.Node
}

type rawState struct {
	name  string
	line  int
	rules []*rawRule
}

var (
	yamlLineRE  = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	tmplErrRE   = regexp.MustCompile(`^template: [^:]*:(\d+):(?:\d+:)? ?(.*)$`)
	stateNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	varNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

var topKeys = []string{"name", "version", "description", "initial_state", "time_format", "time_zone", "expiry",
	"unknown_state", "states", "rules"}

func (p *parser) parse(data []byte) *Flow {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.addf(0, "empty flow: the file holds no YAML document")
		} else {
			p.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.addf(extra.Line, "a second YAML document; a flow file holds exactly one")
	} else if !errors.Is(err, io.EOF) {
		p.yamlError(err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
		p.addf(0, "empty flow: the file holds no YAML document")
		return nil
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		p.addf(root.Line, "the top level must be a mapping (name, version, states, rules, ...)")
		return nil
	}
	top := p.mapping(root, "", topKeys)

	f := &Flow{initial: DefaultInitialState, layout: DefaultTimeFormat, loc: time.UTC,
		unknownState: UnknownRestart, states: map[string]*scope{}}
	f.name = p.required(top, root, "name")
	f.version = p.required(top, root, "version")
	if n := top["initial_state"]; n != nil {
		f.initial, _ = p.scalar(n, "", "initial_state")
	}
	if n := top["time_format"]; n != nil {
		if s, ok := p.scalar(n, "", "time_format"); ok {
			layout, err := goLayout(s)
			if err == nil {
				err = checkLayout(layout)
			}
			if err != nil {
				p.addf(n.Line, "time_format %q: %v", s, err)
			}
			f.layout = layout
		}
	}
	if n := top["time_zone"]; n != nil {
		if s, ok := p.scalar(n, "", "time_zone"); ok {
			loc, err := time.LoadLocation(s)
			if err != nil || s == "" || strings.EqualFold(s, "local") {
				// Local would make replies depend on the host running the worker.
				p.addf(n.Line, "time_zone %q is not an IANA time zone name (e.g. UTC, Europe/Paris)", s)
			} else {
				f.loc = loc
			}
		}
	}
	if n := top["expiry"]; n != nil {
		if s, ok := p.scalar(n, "", "expiry"); ok {
			d, err := parseExpiry(s)
			if err != nil {
				p.addf(n.Line, "expiry: %v", err)
			}
			f.expiry = d
		}
	}
	if n := top["unknown_state"]; n != nil {
		if s, ok := p.scalar(n, "", "unknown_state"); ok {
			switch s {
			case UnknownRestart, UnknownReset:
				f.unknownState = s
			default:
				p.addf(n.Line, "unknown_state %q: want %s or %s", s, UnknownRestart, UnknownReset)
			}
		}
	}

	var states []*rawState
	if n := top["states"]; n != nil {
		states = p.states(n)
	}
	var global []*rawRule
	if n := top["rules"]; n != nil {
		global = p.rules(n, "")
	}
	p.compile(f, top, root, states, global)
	return f
}

// yamlError reports a YAML syntax error with the line the decoder names.
func (p *parser) yamlError(err error) {
	msg := err.Error()
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(line)
		if m := yamlLineRE.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			p.addf(n, "YAML: %s", m[2])
			return
		}
	}
	p.addf(0, "YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

// resolve follows YAML aliases, so anchors can share a rule or a reply.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mapping reads a mapping's keys, reporting keys not in allowed and keys given twice. Values that are YAML null
// are left out, so `next:` with nothing after it means the same as no next.
func (p *parser) mapping(n *yaml.Node, where string, allowed []string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.at(k.Line, where, "keys must be plain words")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			p.at(k.Line, where, "key %q given twice (first on line %d)", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		if !slices.Contains(allowed, k.Value) {
			p.at(k.Line, where, "unknown key %q (want %s)", k.Value, strings.Join(allowed, ", "))
			continue
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue
		}
		out[k.Value] = v
	}
	return out
}

// scalar reads a string value; a list or mapping where a string belongs is an error.
func (p *parser) scalar(n *yaml.Node, where, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.at(n.Line, where, "%s must be a string, not a %s", key, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (p *parser) required(top map[string]*yaml.Node, root *yaml.Node, key string) string {
	n := top[key]
	if n == nil {
		p.addf(root.Line, "%s is required", key)
		return ""
	}
	s, ok := p.scalar(n, "", key)
	if ok && strings.TrimSpace(s) == "" {
		p.addf(n.Line, "%s must not be empty", key)
	}
	return s
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	}
	return "scalar"
}

// states reads the states: a list of names, or a mapping from name to nothing or to {rules: [...]}.
func (p *parser) states(n *yaml.Node) []*rawState {
	var out []*rawState
	switch n.Kind {
	case yaml.SequenceNode:
		for _, item := range n.Content {
			item = resolve(item)
			if item.Kind != yaml.ScalarNode {
				p.addf(item.Line, "states: a list holds state names only; use a mapping (name: {rules: [...]}) to give a state rules")
				continue
			}
			out = append(out, &rawState{name: item.Value, line: item.Line})
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
			st := &rawState{name: k.Value, line: k.Line}
			out = append(out, st)
			if k.Kind != yaml.ScalarNode {
				p.addf(k.Line, "states: state names must be plain words")
				continue
			}
			where := fmt.Sprintf("state %q", k.Value)
			switch {
			case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
			case v.Kind == yaml.MappingNode:
				m := p.mapping(v, where, []string{"description", "rules"})
				if r := m["rules"]; r != nil {
					st.rules = p.rules(r, k.Value)
				}
			default:
				p.at(v.Line, where, "must be empty or a mapping with rules")
			}
		}
	default:
		p.addf(n.Line, "states must be a list of names or a mapping of name to rules")
	}
	return out
}

var ruleKeys = []string{"id", "description", "keywords", "regex", "media", "any", "reply", "next", "actions"}

// rules reads a rule list; state is "" for the global rules.
func (p *parser) rules(n *yaml.Node, state string) []*rawRule {
	if n.Kind != yaml.SequenceNode {
		if state == "" {
			p.addf(n.Line, "rules must be a list")
		} else {
			p.addf(n.Line, "state %q: rules must be a list", state)
		}
		return nil
	}
	var out []*rawRule
	for i, item := range n.Content {
		item = resolve(item)
		r := &rawRule{line: item.Line, state: state}
		if state == "" {
			r.where, r.id = fmt.Sprintf("global rule %d", i+1), fmt.Sprintf("global#%d", i+1)
		} else {
			r.where, r.id = fmt.Sprintf("rule %d of state %q", i+1, state), fmt.Sprintf("%s#%d", state, i+1)
		}
		out = append(out, r)
		if item.Kind != yaml.MappingNode {
			p.at(item.Line, r.where, "must be a mapping (keywords/regex/media/any, reply, next, actions)")
			r.broken = true
			continue
		}
		m := p.mapping(item, r.where, ruleKeys)
		if v := m["id"]; v != nil {
			if s, ok := p.scalar(v, r.where, "id"); ok && s != "" {
				r.id = s
			}
		}
		for _, key := range []string{"keywords", "regex", "media", "any"} {
			if m[key] != nil {
				r.matchers = append(r.matchers, key)
			}
		}
		if v := m["keywords"]; v != nil {
			switch v.Kind {
			case yaml.ScalarNode:
				r.keywords = []*yaml.Node{v}
			case yaml.SequenceNode:
				for _, k := range v.Content {
					k = resolve(k)
					if k.Kind != yaml.ScalarNode {
						p.at(k.Line, r.where, "keywords must be strings")
						continue
					}
					r.keywords = append(r.keywords, k)
				}
				if len(v.Content) == 0 {
					p.at(v.Line, r.where, "keywords is an empty list")
				}
			default:
				p.at(v.Line, r.where, "keywords must be a list of strings")
			}
		}
		if v := m["regex"]; v != nil {
			if _, ok := p.scalar(v, r.where, "regex"); ok {
				r.regex = v
			}
		}
		for _, key := range []string{"media", "any"} {
			if v := m[key]; v != nil {
				var b bool
				if v.Kind != yaml.ScalarNode || v.Decode(&b) != nil || !b {
					p.at(v.Line, r.where, "%s must be true (leave it out otherwise)", key)
				}
			}
		}
		if v := m["reply"]; v != nil {
			if _, ok := p.scalar(v, r.where, "reply"); ok {
				r.reply = v
			}
		}
		if v := m["next"]; v != nil {
			if _, ok := p.scalar(v, r.where, "next"); ok {
				r.next = v
			}
		}
		if v := m["actions"]; v != nil {
			r.actions = p.actions(v, r.where)
		}
	}
	return out
}

var actionNames = map[string]actionKind{"reset": actReset, "end": actEnd, "opt_out": actOptOut, "opt_in": actOptIn}

func (p *parser) actions(n *yaml.Node, where string) []rawAction {
	if n.Kind != yaml.SequenceNode {
		p.at(n.Line, where, "actions must be a list")
		return nil
	}
	var out []rawAction
	for _, item := range n.Content {
		item = resolve(item)
		switch item.Kind {
		case yaml.ScalarNode:
			kind, ok := actionNames[item.Value]
			if !ok {
				if item.Value == "set" {
					p.at(item.Line, where, "action set needs variables: set: {name: template}")
				} else {
					p.at(item.Line, where, "unknown action %q (want set, reset, end, opt_out or opt_in)", item.Value)
				}
				continue
			}
			out = append(out, rawAction{kind: kind, line: item.Line})
		case yaml.MappingNode:
			if len(item.Content) != 2 || resolve(item.Content[0]).Value != "set" {
				key := resolve(item.Content[0]).Value
				if _, ok := actionNames[key]; ok {
					p.at(item.Line, where, "action %s takes no value", key)
				} else {
					p.at(item.Line, where, "unknown action %q (want set, reset, end, opt_out or opt_in)", key)
				}
				continue
			}
			vars := resolve(item.Content[1])
			if vars.Kind != yaml.MappingNode || len(vars.Content) == 0 {
				p.at(vars.Line, where, "set needs a mapping of variable names to templates")
				continue
			}
			a := rawAction{kind: actSet, line: item.Line}
			for i := 0; i+1 < len(vars.Content); i += 2 {
				k, v := resolve(vars.Content[i]), resolve(vars.Content[i+1])
				if !varNameRE.MatchString(k.Value) {
					p.at(k.Line, where, "variable name %q must be letters, digits and _, not starting with a digit", k.Value)
					continue
				}
				if v.Kind != yaml.ScalarNode {
					p.at(v.Line, where, "set %s: the value must be a string template", k.Value)
					continue
				}
				a.sets = append(a.sets, rawSet{name: k.Value, value: v})
			}
			out = append(out, a)
		default:
			p.at(item.Line, where, "an action is a word (reset, end, opt_out, opt_in) or set: {name: template}")
		}
	}
	return out
}

// compile checks what needs the whole file (states referenced, reachability, duplicates, templates against the
// flow's variables) and builds the runtime structures.
func (p *parser) compile(f *Flow, top map[string]*yaml.Node, root *yaml.Node, states []*rawState, global []*rawRule) {
	stateLine := map[string]int{}
	for _, st := range states {
		if st.name == "" || !stateNameRE.MatchString(st.name) {
			p.addf(st.line, "state name %q must be letters, digits, _, . or - (not starting with . or -)", st.name)
			continue
		}
		if first, dup := stateLine[st.name]; dup {
			p.addf(st.line, "state %q is defined twice (first on line %d)", st.name, first)
			continue
		}
		stateLine[st.name] = st.line
	}
	if len(states) == 0 {
		line := root.Line
		if n := top["states"]; n != nil {
			line = n.Line
		}
		p.addf(line, "no states defined")
	} else if _, ok := stateLine[f.initial]; !ok {
		line := root.Line
		if n := top["initial_state"]; n != nil {
			line = n.Line
		}
		p.addf(line, "initial_state %q is not a defined state", f.initial)
		p.badState = true
	}

	// Every variable some set action assigns; templates may only read these.
	vars := map[string]bool{}
	all := slices.Clone(global)
	for _, st := range states {
		all = append(all, st.rules...)
	}
	for _, r := range all {
		for _, a := range r.actions {
			for _, s := range a.sets {
				vars[s.name] = true
			}
		}
	}
	if len(all) == 0 {
		p.addf(root.Line, "empty flow: no rules in any state or in the global rules")
	}
	funcs := f.funcs()

	ids := map[string]int{}
	compileScope := func(raw []*rawRule) scope {
		sc := scope{keywords: map[string]int{}}
		kwLine := map[string]string{}
		catchAll := ""
		for i, rr := range raw {
			r := p.compileRule(f, rr, vars, funcs, stateLine)
			sc.rules = append(sc.rules, r)
			if first, dup := ids[r.id]; dup {
				p.at(rr.line, rr.where, "id %q already used by the rule on line %d", r.id, first)
			} else {
				ids[r.id] = rr.line
			}
			if catchAll != "" {
				p.at(rr.line, rr.where, "never reached: %s above it matches every message", catchAll)
			}
			if r.matcher == matchAny {
				catchAll = rr.where
			}
			for _, k := range rr.keywords {
				kw := conversation.Keyword(k.Value)
				if kw == "" {
					p.at(k.Line, rr.where, "empty keyword (use regex: '^$' to match an empty message)")
					continue
				}
				if other, dup := kwLine[kw]; dup {
					p.at(k.Line, rr.where, "keyword %q is already used by %s", kw, other)
					continue
				}
				kwLine[kw] = rr.where
				if r.matcher == matchKeywords {
					sc.keywords[kw] = i
				}
			}
		}
		return sc
	}
	f.global = compileScope(global)
	for _, st := range states {
		if _, ok := f.states[st.name]; ok {
			continue
		}
		sc := compileScope(st.rules)
		f.states[st.name] = &sc
	}
	// A misspelt next or initial state leaves its intended target unreachable; reporting that too would only
	// repeat the typo.
	if !p.badState {
		p.reachability(f, states)
	}
}

// reachability reports states that no message can ever lead to: not the initial state and not the target of a
// rule in a reachable state or of a global rule.
func (p *parser) reachability(f *Flow, states []*rawState) {
	reached := map[string]bool{f.initial: true}
	queue := []string{f.initial}
	for _, r := range f.global.rules {
		if t := r.target("", f.initial); t != "" && !reached[t] {
			reached[t] = true
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		st := f.states[s]
		if st == nil {
			continue
		}
		for _, r := range st.rules {
			if t := r.target(s, f.initial); !reached[t] {
				reached[t] = true
				queue = append(queue, t)
			}
		}
	}
	for _, st := range states {
		if !reached[st.name] {
			p.addf(st.line, "state %q is unreachable: it is not the initial state and no rule leads to it", st.name)
		}
	}
}

func (p *parser) compileRule(f *Flow, rr *rawRule, vars map[string]bool, funcs template.FuncMap, states map[string]int) *rule {
	r := &rule{id: rr.id, line: rr.line}
	switch len(rr.matchers) {
	case 0:
		if !rr.broken {
			p.at(rr.line, rr.where, "no matcher: give one of keywords, regex, media or any")
		}
	case 1:
		switch rr.matchers[0] {
		case "keywords":
			r.matcher = matchKeywords
		case "regex":
			r.matcher = matchRegex
		case "media":
			r.matcher = matchMedia
		case "any":
			r.matcher = matchAny
		}
	default:
		p.at(rr.line, rr.where, "more than one matcher (%s): give exactly one, or split the rule", strings.Join(rr.matchers, ", "))
	}
	env := &tmplEnv{vars: vars, funcs: funcs}
	if rr.regex != nil {
		re, err := regexp.Compile(rr.regex.Value)
		if err != nil {
			p.at(rr.regex.Line, rr.where, "regex: %v", err)
			// The regex's groups are unknown, so .Match is not checked: a second error about it would be noise.
			env.skipMatch = true
		} else {
			r.regex = re
			env.groups = map[string]bool{}
			for _, name := range re.SubexpNames() {
				if name != "" {
					env.groups[name] = true
				}
			}
		}
	}
	if rr.next != nil {
		r.next = rr.next.Value
		if _, ok := states[r.next]; !ok {
			p.at(rr.next.Line, rr.where, "next state %q is not defined", r.next)
			p.badState = true
		}
	}
	optOut, optIn := 0, 0
	for _, a := range rr.actions {
		ca := action{kind: a.kind}
		switch a.kind {
		case actSet:
			for _, s := range a.sets {
				ca.sets = append(ca.sets, setVar{name: s.name, value: p.compileText(s.value, rr.where, "set "+s.name, env)})
			}
		case actReset, actEnd:
			r.restarts = true
		case actOptOut:
			optOut = a.line
		case actOptIn:
			optIn = a.line
		}
		r.actions = append(r.actions, ca)
	}
	if optOut > 0 && optIn > 0 {
		p.at(max(optOut, optIn), rr.where, "opt_out and opt_in in the same rule")
	}
	if rr.reply != nil {
		r.reply = p.compileText(rr.reply, rr.where, "reply", env)
	}
	r.constant = (r.reply == nil || r.reply.tmpl == nil) && !slices.ContainsFunc(r.actions, func(a action) bool { return a.kind == actSet })
	return r
}

// compileText parses a template and checks its field references. A text without "{{" is kept as is.
func (p *parser) compileText(n *yaml.Node, where, what string, env *tmplEnv) *text {
	src := n.Value
	if !strings.Contains(src, "{{") {
		return &text{static: src}
	}
	t, err := template.New(what).Funcs(env.funcs).Option("missingkey=zero").Parse(src)
	if err != nil {
		line, msg := n.Line, err.Error()
		if m := tmplErrRE.FindStringSubmatch(msg); m != nil {
			msg = m[2]
			if tl, _ := strconv.Atoi(m[1]); n.Style&yaml.LiteralStyle != 0 {
				// A literal block's text starts on the line after its "|".
				line = n.Line + tl
			}
		}
		p.at(line, where, "%s: bad template: %s", what, msg)
		return &text{static: src}
	}
	for _, problem := range checkTemplate(t, env) {
		line := n.Line
		if n.Style&yaml.LiteralStyle != 0 && problem.pos <= len(src) {
			line += 1 + strings.Count(src[:problem.pos], "\n")
		}
		p.at(line, where, "%s: %s", what, problem.msg)
	}
	return &text{tmpl: t}
}

// funcs are the functions templates may call besides text/template's builtins.
func (f *Flow) funcs() template.FuncMap {
	layout, loc := f.layout, f.loc
	return template.FuncMap{
		// time formats a time with the flow's time_format in its time_zone.
		"time":  func(t time.Time) string { return t.In(loc).Format(layout) },
		"upper": strings.ToUpper,
		"lower": strings.ToLower,
		"trim":  strings.TrimSpace,
	}
}
