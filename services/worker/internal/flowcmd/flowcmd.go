// Package flowcmd is the worker's offline flow tool: `worker flow check FILE` validates a flow (and warns
// about replies over Telnyx's 10 segments or turned UCS-2 by a stray character),
// `worker flow test FILE TRANSCRIPT...` runs transcripts through it and reports every difference, and
// `worker flow record FILE TRANSCRIPT` prints what the flow answers, as a transcript.
package flowcmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/smsconv/smsconv/shared/flow"
)

// Usage describes the subcommands.
const Usage = `usage:
  worker flow check FILE                 validate a flow file; warn about costly replies (segments, UCS-2)
  worker flow test FILE TRANSCRIPT...    run transcripts through the flow; exit 1 on any difference
  worker flow record FILE TRANSCRIPT     print the flow's actual replies to a transcript's messages`

// start is the transcript clock's origin: the first message arrives 2026-06-18 12:00 UTC, as the shipped
// transcripts say in their header.
var start = time.Date(2026, 6, 18, 12, 0, 0, 0, time.UTC)

// Run runs the subcommand in args (the words after "flow").
func Run(args []string, stdout io.Writer) error {
	if len(args) < 2 {
		return errors.New(Usage)
	}
	f, err := flow.Load(args[1])
	if err != nil {
		return err
	}
	switch args[0] {
	case "check":
		fmt.Fprintf(stdout, "%s: flow %q version %s is valid\n", args[1], f.Name(), f.Version())
		// Warnings do not fail the check: the flow works, its replies just cost more segments than they seem to.
		for _, w := range f.Warnings() {
			fmt.Fprintf(stdout, "%s:%s\n", args[1], strings.TrimPrefix(w.String(), "line "))
		}
		return nil
	case "test":
		if len(args) < 3 {
			return errors.New(Usage)
		}
		failed := 0
		for _, path := range args[2:] {
			t, err := readTranscript(path)
			if err != nil {
				return err
			}
			if err := flow.Check(stdout, f, t, start); err != nil {
				failed++
				continue
			}
			fmt.Fprintf(stdout, "ok   %s (%d messages)\n", path, len(t.Turns))
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d transcripts failed", failed, len(args)-2)
		}
		return nil
	case "record":
		if len(args) != 3 {
			return errors.New(Usage)
		}
		t, err := readTranscript(args[2])
		if err != nil {
			return err
		}
		return flow.Record(stdout, f, t, start)
	}
	return errors.New(Usage)
}

func readTranscript(path string) (flow.Transcript, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the operator names the transcript on the command line
	if err != nil {
		return flow.Transcript{}, err
	}
	return flow.ParseTranscript(path, b)
}
