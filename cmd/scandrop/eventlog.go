package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"

	"github.com/kardianos/service"

	"github.com/scandrop/scandrop/internal/textsafe"
)

// eventLogHandler writes each record, formatted as a text log line, to the
// service manager's log (the Windows event log) at the matching severity.
type eventLogHandler struct {
	el   service.Logger
	mu   *sync.Mutex
	buf  *bytes.Buffer
	text slog.Handler
}

func newEventLogHandler(el service.Logger, level string) slog.Handler {
	lv := slog.LevelInfo
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	}
	buf := &bytes.Buffer{}
	return &eventLogHandler{el: el, mu: &sync.Mutex{}, buf: buf,
		text: slog.NewTextHandler(buf, &slog.HandlerOptions{Level: lv, ReplaceAttr: dropTime})}
}

// dropTime leaves the time out: the event log records its own. The rest
// is bounded and escaped, as in every log (textsafe.LogAttr).
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return textsafe.LogAttr(groups, a)
}

func (h *eventLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.text.Enabled(ctx, l)
}

func (h *eventLogHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	if err := h.text.Handle(ctx, r); err != nil {
		return err
	}
	line := strings.TrimRight(h.buf.String(), "\n")
	switch {
	case r.Level >= slog.LevelError:
		return h.el.Error(line)
	case r.Level >= slog.LevelWarn:
		return h.el.Warning(line)
	}
	return h.el.Info(line)
}

func (h *eventLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &eventLogHandler{el: h.el, mu: h.mu, buf: h.buf, text: h.text.WithAttrs(as)}
}

func (h *eventLogHandler) WithGroup(name string) slog.Handler {
	return &eventLogHandler{el: h.el, mu: h.mu, buf: h.buf, text: h.text.WithGroup(name)}
}
