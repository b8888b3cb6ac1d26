package config

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written in YAML as a Go duration string:
// "10s", "5m", "2h30m". A bare number such as 10 is an error rather than a
// guess, since seconds and nanoseconds would both be plausible readings; 0 is
// accepted because it is unambiguous.
type Duration time.Duration

// String returns the duration in Go syntax ("10s", "2h0m0s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes the duration so that it parses back.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a Go duration string; see Duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func parseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	v, err := time.ParseDuration(s)
	if err == nil {
		return Duration(v), nil
	}
	if _, ferr := strconv.ParseFloat(s, 64); ferr == nil {
		return 0, fmt.Errorf("%q is not a duration; write it with a unit, e.g. %ss", s, s)
	}
	return 0, fmt.Errorf("%q is not a duration; write it like 10s, 5m or 2h", s)
}

// ByteSize is a number of bytes written in YAML as "16MiB", "8MB", "1GiB" or
// a plain integer of bytes. Binary units (KiB, MiB, GiB, TiB) are powers of
// 1024, decimal units (KB, MB, GB, TB) powers of 1000; units are matched
// case-insensitively and may be separated from the number by a space.
type ByteSize int64

// Byte size units.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
	TiB ByteSize = 1 << 40
)

var sizeUnits = []struct {
	name string
	mult ByteSize
}{
	{"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
	{"B", 1},
}

// String returns the size in the unit that divides it exactly into the
// smallest number ("16MiB", "6GB", "1000001B").
func (b ByteSize) String() string {
	if b == 0 {
		return "0"
	}
	best := sizeUnits[len(sizeUnits)-1] // B divides everything
	for _, u := range sizeUnits {
		if b%u.mult == 0 && u.mult > best.mult {
			best = u
		}
	}
	return strconv.FormatInt(int64(b/best.mult), 10) + best.name
}

// MarshalText writes the size so that it parses back.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText parses a size; see ByteSize.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := parseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

func parseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%q is not a size; write it like 16MiB, 8MB or a number of bytes", s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, bad
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is too large", s)
	}
	unit := strings.TrimSpace(s[i:])
	if unit == "" {
		return ByteSize(n), nil
	}
	for _, u := range sizeUnits {
		if strings.EqualFold(unit, u.name) {
			if n > math.MaxInt64/int64(u.mult) {
				return 0, fmt.Errorf("%q is too large", s)
			}
			return ByteSize(n) * u.mult, nil
		}
	}
	return 0, bad
}

// Secret is a credential read from the configuration. Every way of printing
// or encoding it — fmt verbs, String, GoString, JSON, text, YAML, slog —
// yields "[redacted]", so that a config dumped into a log or an error never
// carries it. Reveal returns the value, for the one place that signs with it.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// minFoundLen is the length from which FoundIn looks inside values.
const minFoundLen = 8

// FoundIn reports whether v holds the secret: is it, or, for a secret of
// at least 8 bytes, contains it. A shorter secret is matched whole only,
// so that it does not turn up in every other string.
func (s Secret) FoundIn(v string) bool {
	switch {
	case s == "":
		return false
	case len(s) >= minFoundLen:
		return strings.Contains(v, string(s))
	}
	return v == string(s)
}

// String returns "[redacted]".
func (Secret) String() string { return redacted }

// GoString returns "[redacted]".
func (Secret) GoString() string { return redacted }

// Format writes "[redacted]" whatever the verb, so %x or %q cannot leak it.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalJSON returns "[redacted]" as a JSON string.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[redacted]"; it is also what yaml.v3 uses.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue returns "[redacted]" to log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
