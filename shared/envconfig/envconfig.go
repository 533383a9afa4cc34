// Package envconfig fills a configuration struct from environment variables (github.com/caarlos0/env tags)
// and reports a value that does not parse by its variable's name, which is what an operator sees. It also
// lists a struct's variables, for -h and for the masked configuration dump at start.
//
// Tags, besides env's own: `desc:"..."` is the one-line description -h prints; `secret:"true"` masks the
// value in Vars (API keys, tokens, private keys).
package envconfig

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Parse fills a copy of defaults from environ (KEY=value strings, as os.Environ returns them). A field with
// an `envDefault` tag takes that default; a field without one keeps its value in defaults, which is how two
// services embedding the same struct give one variable different defaults.
func Parse[T any](environ []string, defaults T) (T, error) {
	v := defaults
	err := env.ParseWithOptions(&v, env.Options{Environment: toMap(environ)})
	if err == nil {
		return v, nil
	}
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return v, fmt.Errorf("config: %w", err)
	}
	t := reflect.TypeFor[T]()
	var errs []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			name := pe.Name
			if f, ok := t.FieldByName(pe.Name); ok {
				name, _, _ = strings.Cut(f.Tag.Get("env"), ",")
			}
			errs = append(errs, fmt.Errorf("%s: cannot parse as %s: %w", name, pe.Type, errors.Unwrap(pe.Err)))
			continue
		}
		errs = append(errs, e)
	}
	return v, errors.Join(errs...)
}

func toMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// Var is one environment variable of a configuration struct.
type Var struct {
	// Name is the variable, e.g. NATS_URL.
	Name string
	// Default is the envDefault tag, or else the value the struct holds: listed from a service's defaults,
	// that is its per-service default.
	Default string
	// Value is the value held now, masked when Secret, with any URL password redacted.
	Value string
	// Desc is the one-line description of the desc tag.
	Desc string
	// Secret says the value is masked.
	Secret bool
}

// Vars lists the variables of the struct v (a struct or a pointer to one), embedded structs included, in
// field order.
func Vars(v any) []Var {
	rv := reflect.Indirect(reflect.ValueOf(v))
	var out []Var
	collect(rv, &out)
	return out
}

func collect(rv reflect.Value, out *[]Var) {
	t := rv.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), rv.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if f.Anonymous && f.Type.Kind() == reflect.Struct && name == "" {
			collect(fv, out)
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		val := fmt.Sprint(fv.Interface())
		if list, ok := fv.Interface().([]string); ok {
			val = strings.Join(list, ",") // as it is written in the variable, not as Go prints a slice
		}
		if fv.IsZero() {
			val = ""
		}
		def, ok := f.Tag.Lookup("envDefault")
		if !ok {
			def = val
		}
		secret := f.Tag.Get("secret") == "true"
		val, def = mask(val, secret), mask(def, secret)
		*out = append(*out, Var{Name: name, Default: def, Value: val, Desc: f.Tag.Get("desc"), Secret: secret})
	}
}

// mask hides a secret's value (an unset secret stays empty, which says it is unset) and a URL's password.
func mask(val string, secret bool) string {
	if secret && val != "" {
		return "***"
	}
	return RedactURL(val)
}

// RedactURL hides the password (or token) of a URL such as redis://:pw@host:6379/0, for logs and errors;
// other values pass unchanged. A comma-separated list of URLs (NATS_URL of a cluster) is redacted URL by URL.
func RedactURL(s string) string {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s
	}
	if strings.Contains(s, ",") {
		parts := strings.Split(s, ",")
		for i, p := range parts {
			parts[i] = RedactURL(p)
		}
		return strings.Join(parts, ",")
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); !ok {
		u.User = url.User("xxxxx") // a lone user part is a token (nats://TOKEN@host)
		return u.String()
	}
	return u.Redacted()
}
