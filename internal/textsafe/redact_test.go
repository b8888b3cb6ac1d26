package textsafe

import (
	"log/slog"
	"strings"
	"testing"
)

// TestRedactForms: a secret is masked as it is, URL-encoded and
// JSON-escaped, in strings and in log values; one under MinSecretLen is
// left alone, since masking it would mangle ordinary text.
func TestRedactForms(t *testing.T) {
	sec := `rs/B "SECRET"&+x`
	AddSecret(sec)
	AddSecret("short")
	for _, in := range []string{
		"app_secret=" + sec,
		"app_secret=rs%2FB+%22SECRET%22%26%2Bx",
		`{"m":"rs/B \"SECRET\"&+x"}`,
	} {
		if got := Redact(in); strings.Contains(got, "SECRET") || !strings.Contains(got, Redacted) {
			t.Errorf("Redact(%q) = %q", in, got)
		}
	}
	if got := Redact("a short word"); got != "a short word" {
		t.Errorf("a secret under %d bytes was masked: %q", MinSecretLen, got)
	}
	a := LogAttr(nil, slog.String("msg", "sign error, secret "+sec))
	if strings.Contains(a.Value.String(), "SECRET") {
		t.Errorf("LogAttr kept the secret: %q", a.Value)
	}
}
