package flow

import (
	"errors"
	"fmt"
	"sort"
)

// ErrInvalid matches every *ValidationError with errors.Is, so a caller can tell a bad flow file from a failure
// to read it without unpacking the joined list.
var ErrInvalid = errors.New("invalid flow")

// ValidationError is one problem found in a flow file. Parse reports every problem it finds at once, joined with
// errors.Join, so an author fixes a file in one round.
type ValidationError struct {
	File    string // the name given to Parse (a path for Load)
	Line    int    // 1-based line of the offending YAML node; 0 when the problem concerns the whole file
	Problem string // what is wrong, prefixed with where (e.g. `rule 3 of state "greeted"`)
}

// Error formats the problem as file:line: problem, the form editors and CI annotations understand.
func (e *ValidationError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Problem)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Problem)
}

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// joinProblems orders problems by line, keeping discovery order within a line, and joins them.
func joinProblems(list []*ValidationError) error {
	if len(list) == 0 {
		return nil
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].Line < list[j].Line })
	errs := make([]error, len(list))
	for i, e := range list {
		errs[i] = e
	}
	return errors.Join(errs...)
}
