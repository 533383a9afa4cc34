package platform

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// newLogger returns a slog logger writing JSON (format "json", the default) or text to w at the given level
// ("debug", "info", "warn", "error"), tagged with the service name.
func newLogger(w io.Writer, service, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToLower(strings.TrimSpace(level)))); err != nil {
		return nil, fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: readableDuration}
	var h slog.Handler
	switch strings.ToLower(format) {
	case "", "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("LOG_FORMAT %q: want json or text", format)
	}
	return slog.New(h).With("service", service), nil
}

// readableDuration writes durations as "1.5s" rather than JSON's integer nanoseconds, so a log line reads
// the way the configuration is written.
func readableDuration(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}
