package textsafe

import (
	"fmt"
	"log/slog"
)

// MaxLogValue bounds one value in a log line (the message, a folder name,
// an error). A line has a handful of values, so a line stays within a few
// KB whatever a drop holds: a log line of 29 MB is a log nobody can read,
// and some collectors drop or split lines over 16 KB.
const MaxLogValue = 2 << 10

// LogAttr is a slog.HandlerOptions.ReplaceAttr that cleans every string,
// error and Stringer value (and the message) with Clean(…, MaxLogValue):
// log lines carry drop-supplied names, ids and messages, and must neither
// drive the terminal that tails them nor grow without bound. It also masks
// every secret given to AddSecret (Redact): a vendor's error may echo one.
func LogAttr(_ []string, a slog.Attr) slog.Attr {
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		if s := Redact(v.String()); len(s) > MaxLogValue || !safe(s) {
			a.Value = slog.StringValue(Clean(s, MaxLogValue))
		} else if s != v.String() {
			a.Value = slog.StringValue(s)
		}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			a.Value = slog.StringValue(Clean(Redact(x.Error()), MaxLogValue))
		case fmt.Stringer:
			a.Value = slog.StringValue(Clean(Redact(x.String()), MaxLogValue))
		case []byte:
			a.Value = slog.StringValue(Clean(Redact(string(x)), MaxLogValue))
		}
	}
	return a
}
