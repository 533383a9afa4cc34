// Package envconfig fills a configuration struct from environment variables (github.com/caarlos0/env tags)
// and reports a value that does not parse by its variable's name, which is what an operator sees.
package envconfig

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Parse fills a T from the environment.
func Parse[T any]() (T, error) {
	v, err := env.ParseAs[T]()
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
