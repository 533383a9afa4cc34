package obs

import (
	"context"
	"log/slog"
	"slices"
)

// Deferred returns log with its later With attributes kept aside until a record is written. slog's handlers
// format attributes when With is called, which costs every message its context (ids, numbers, attempt)
// although the hot path writes a line for few of them; here a With only appends, and the formatting happens
// for the records actually written.
func Deferred(log *slog.Logger) *slog.Logger {
	if _, ok := log.Handler().(deferredHandler); ok {
		return log
	}
	return slog.New(deferredHandler{base: log.Handler()})
}

type deferredHandler struct {
	base  slog.Handler
	attrs []slog.Attr
}

func (h deferredHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.base.Enabled(ctx, l)
}

func (h deferredHandler) Handle(ctx context.Context, r slog.Record) error {
	if len(h.attrs) == 0 {
		return h.base.Handle(ctx, r)
	}
	return h.base.WithAttrs(h.attrs).Handle(ctx, r)
}

func (h deferredHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return deferredHandler{base: h.base, attrs: append(slices.Clip(h.attrs), attrs...)}
}

// WithGroup applies what is kept aside first: the attributes before a group stay outside it.
func (h deferredHandler) WithGroup(name string) slog.Handler {
	base := h.base
	if len(h.attrs) > 0 {
		base = base.WithAttrs(h.attrs)
	}
	return deferredHandler{base: base.WithGroup(name)}
}
