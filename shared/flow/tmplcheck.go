package flow

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
)

// tmplEnv is what a template may refer to: the variables some set action in the flow assigns and the named
// groups of the rule's regex (nil when the rule has no regex).
type tmplEnv struct {
	vars      map[string]bool
	groups    map[string]bool
	skipMatch bool // the regex did not compile, so its groups are unknown
	funcs     template.FuncMap
}

// ttype is the static type of a template expression as far as the checker can tell; rt == nil means unknown, and
// nothing is checked below an unknown value. keys, when set, restricts the field names allowed on a map.
type ttype struct {
	rt   reflect.Type
	keys map[string]bool
	// missing explains a key not in keys, as a format taking the key.
	missing string
	// root marks the template data itself, whose map fields carry key sets.
	root bool
}

var (
	dataType    = reflect.TypeFor[*Data]()
	stringType  = reflect.TypeFor[string]()
	unknownType = ttype{}
)

// checker walks a parsed template and reports references to fields that cannot exist: a misspelt field of the
// data, a variable no set action assigns, a regex group the rule's regex does not name. text/template would
// only find these at run time, on the first message that reaches the rule, and print "" or fail.
type checker struct {
	env      *tmplEnv
	problems []tmplProblem
	vars     map[string]ttype // template variables ($x) in scope
	pos      parse.Pos        // byte offset of the node being checked, for the problem's line
}

// tmplProblem is a problem at a byte offset of the template's text.
type tmplProblem struct {
	pos int
	msg string
}

func checkTemplate(t *template.Template, env *tmplEnv) []tmplProblem {
	c := &checker{env: env}
	for _, tt := range t.Templates() {
		dot := ttype{rt: dataType, root: true}
		if tt.Name() != t.Name() {
			// A {{define}}d template can be called with any dot.
			dot = unknownType
		}
		c.vars = map[string]ttype{"$": dot}
		if tt.Tree != nil && tt.Root != nil {
			c.walk(tt.Root, dot)
		}
	}
	return c.problems
}

func (c *checker) problem(format string, args ...any) {
	p := tmplProblem{pos: int(c.pos), msg: fmt.Sprintf(format, args...)}
	if !slices.ContainsFunc(c.problems, func(q tmplProblem) bool { return q.msg == p.msg }) {
		c.problems = append(c.problems, p)
	}
}

func (c *checker) walk(n parse.Node, dot ttype) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, x := range n.Nodes {
			c.walk(x, dot)
		}
	case *parse.ActionNode:
		c.pipe(n.Pipe, dot, false)
	case *parse.IfNode:
		c.branch(&n.BranchNode, dot, false)
	case *parse.WithNode:
		c.branch(&n.BranchNode, dot, false)
	case *parse.RangeNode:
		c.branch(&n.BranchNode, dot, true)
	case *parse.TemplateNode:
		if n.Pipe != nil {
			c.pipe(n.Pipe, dot, false)
		}
	}
}

// branch checks if/with/range: with and range change dot inside their body; the else part keeps the outer dot.
// Variables declared inside go out of scope at end.
func (c *checker) branch(b *parse.BranchNode, dot ttype, isRange bool) {
	saved := c.vars
	c.vars = cloneScope(saved)
	t := c.pipe(b.Pipe, dot, isRange)
	inner := dot
	switch {
	case isRange:
		inner = elemType(t)
	case b.NodeType == parse.NodeWith:
		inner = t
	}
	c.walk(b.List, inner)
	c.vars = cloneScope(saved)
	c.walk(b.ElseList, dot)
	c.vars = saved
}

func cloneScope(m map[string]ttype) map[string]ttype {
	out := make(map[string]ttype, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// pipe checks a pipeline and returns its type; declared variables get that type (for range: key and element).
func (c *checker) pipe(p *parse.PipeNode, dot ttype, isRange bool) ttype {
	t := unknownType
	for _, cmd := range p.Cmds {
		t = c.command(cmd, dot)
	}
	switch {
	case isRange && len(p.Decl) == 1:
		c.vars[p.Decl[0].Ident[0]] = elemType(t)
	case isRange && len(p.Decl) == 2:
		c.vars[p.Decl[0].Ident[0]] = keyType(t)
		c.vars[p.Decl[1].Ident[0]] = elemType(t)
	case len(p.Decl) == 1:
		c.vars[p.Decl[0].Ident[0]] = t
	}
	return t
}

func (c *checker) command(cmd *parse.CommandNode, dot ttype) ttype {
	if len(cmd.Args) == 0 {
		return unknownType
	}
	for _, a := range cmd.Args[1:] {
		c.arg(a, dot)
	}
	if id, ok := cmd.Args[0].(*parse.IdentifierNode); ok {
		// Our own functions all return strings; builtins return various things, left unchecked.
		if _, ours := c.env.funcs[id.Ident]; ours {
			return ttype{rt: stringType}
		}
		return unknownType
	}
	return c.arg(cmd.Args[0], dot)
}

func (c *checker) arg(n parse.Node, dot ttype) ttype {
	switch n := n.(type) {
	case *parse.DotNode:
		return dot
	case *parse.FieldNode:
		c.pos = n.Pos
		return c.fields(dot, n.Ident, "")
	case *parse.VariableNode:
		c.pos = n.Pos
		base, ok := c.vars[n.Ident[0]]
		if !ok {
			return unknownType
		}
		return c.fields(base, n.Ident[1:], n.Ident[0])
	case *parse.ChainNode:
		base := c.arg(n.Node, dot)
		c.pos = n.Pos
		return c.fields(base, n.Field, "("+n.Node.String()+")")
	case *parse.PipeNode:
		return c.pipe(n, dot, false)
	case *parse.StringNode:
		return ttype{rt: stringType}
	}
	return unknownType
}

// fields resolves a chain of field names from t, reporting the first one that cannot exist.
func (c *checker) fields(t ttype, idents []string, prefix string) ttype {
	path := prefix
	for _, name := range idents {
		parent := path
		path += "." + name
		if t.rt == nil {
			return unknownType
		}
		next, ok := c.field(t, name, parent, path)
		if !ok {
			return unknownType
		}
		t = next
	}
	return t
}

func (c *checker) field(t ttype, name, parent, path string) (ttype, bool) {
	rt := t.rt
	if m, ok := rt.MethodByName(name); ok && m.IsExported() {
		if m.Type.NumOut() == 0 {
			return unknownType, true
		}
		return ttype{rt: m.Type.Out(0)}, true
	}
	base := rt
	if base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	switch base.Kind() {
	case reflect.Struct:
		if f, ok := base.FieldByName(name); ok && f.IsExported() {
			next := ttype{rt: f.Type}
			if t.root {
				switch name {
				case "Vars":
					next.keys, next.missing = c.env.vars, "no set action in the flow assigns %q"
				case "Match":
					if c.env.skipMatch {
						return unknownType, true
					}
					next.keys, next.missing = c.env.groups, "the rule's regex has no group named %q"
					if next.keys == nil {
						c.problem("%s: the rule has no regex, so there is nothing to match", path)
						return unknownType, false
					}
				}
			}
			return next, true
		}
		if t.root {
			c.problem("%s: no such field (have %s)", path, rootFields())
		} else {
			c.problem("%s: no such field or method in %s", path, base)
		}
		return unknownType, false
	case reflect.Map:
		if base.Key().Kind() != reflect.String {
			return unknownType, true
		}
		if t.keys != nil && !t.keys[name] {
			c.problem("%s: "+t.missing, path, name)
			return unknownType, false
		}
		return ttype{rt: base.Elem()}, true
	case reflect.Interface:
		return unknownType, true
	}
	if parent == "" {
		parent = "."
	}
	c.problem("%s: %s is of type %s, which has no fields", path, parent, base)
	return unknownType, false
}

func elemType(t ttype) ttype {
	if t.rt == nil {
		return unknownType
	}
	switch t.rt.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return ttype{rt: t.rt.Elem()}
	case reflect.Int:
		return ttype{rt: t.rt}
	}
	return unknownType
}

func keyType(t ttype) ttype {
	if t.rt == nil {
		return unknownType
	}
	switch t.rt.Kind() {
	case reflect.Slice, reflect.Array:
		return ttype{rt: reflect.TypeFor[int]()}
	case reflect.Map:
		return ttype{rt: t.rt.Key()}
	}
	return unknownType
}

// rootFields lists what a template can name on its data, for error messages.
func rootFields() string {
	var names []string
	for f := range dataType.Elem().Fields() {
		if f.IsExported() {
			names = append(names, "."+f.Name)
		}
	}
	for m := range dataType.Methods() {
		names = append(names, "."+m.Name)
	}
	return strings.Join(names, " ")
}
