package obs_test

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/smsconv/smsconv/shared/obs"
)

func TestDeferredWritesWhatSlogWrites(t *testing.T) {
	tests := []struct {
		name string
		use  func(l *slog.Logger)
	}{
		{"attrs", func(l *slog.Logger) { l.With("a", 1).With("b", "x").Info("hello", "c", true) }},
		{"no attrs", func(l *slog.Logger) { l.Warn("bare") }},
		{"group after attrs", func(l *slog.Logger) { l.With("a", 1).WithGroup("g").With("b", 2).Info("grouped", "c", 3) }},
		{"below the level", func(l *slog.Logger) { l.With("a", 1).Debug("never") }},
		{"siblings do not share attrs", func(l *slog.Logger) {
			base := l.With("a", 1)
			base.With("b", 2).Info("one")
			base.With("c", 3).Info("two")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want, got bytes.Buffer
			opts := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			}}
			tc.use(slog.New(slog.NewJSONHandler(&want, opts)))
			tc.use(obs.Deferred(slog.New(slog.NewJSONHandler(&got, opts))))
			if got.String() != want.String() {
				t.Fatalf("deferred wrote\n%s\nslog wrote\n%s", got.String(), want.String())
			}
		})
	}
}

// counting counts WithAttrs calls of the handler under a deferred logger.
type counting struct {
	slog.Handler
	n *int
}

func (c counting) WithAttrs(a []slog.Attr) slog.Handler {
	*c.n++
	return counting{c.Handler.WithAttrs(a), c.n}
}

func TestDeferredFormatsOnlyWrittenLines(t *testing.T) {
	n := 0
	var buf bytes.Buffer
	l := obs.Deferred(slog.New(counting{slog.NewJSONHandler(&buf, nil), &n}))
	for range 100 {
		l.With("msg_id", "m1").With("attempt", 1).Debug("not written at info")
	}
	if n != 0 {
		t.Fatalf("%d WithAttrs for 100 lines not written, want 0", n)
	}
	l.With("msg_id", "m1").Info("written")
	if n != 1 || !bytes.Contains(buf.Bytes(), []byte(`"msg_id":"m1"`)) {
		t.Fatalf("after one written line: %d WithAttrs, output %s", n, buf.String())
	}
}
