package textsafe

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain name.jpg", "plain name.jpg"},
		{"中文 ok", "中文 ok"},
		{"a\x1b[31mred", `a\x1b[31mred`},
		{"cr\rlf\nbel\a", `cr\rlf\nbel\a`},
		{"tab\there", `tab\there`},
		{"del\x7f", `del\x7f`},
		{"c1\u0085\u009b", `c1\u0085\u009b`},
		{"evil\u202egpj.exe", `evil\u202egpj.exe`},
		{"iso\u2066x\u2069", `iso\u2066x\u2069`},
		{"line\u2028sep", `line\u2028sep`},
		{"bad\xff\xfeutf8", `bad\xff\xfeutf8`},
		{`back\slash`, `back\slash`},
	} {
		got := Escape(c.in)
		if got != c.want {
			t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.want)
		}
		if !utf8.ValidString(got) || !safe(got) {
			t.Errorf("Escape(%q) = %q: not safe", c.in, got)
		}
	}
}

func TestCleanBounds(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("x", 1<<20),
		strings.Repeat("\x1b", 1<<20),
		strings.Repeat("中", 1<<18),
		strings.Repeat("\xff", 5000),
	} {
		got := Clean(in, 200)
		if len(got) > 200 || !utf8.ValidString(got) || !safe(got) {
			t.Errorf("Clean(%d bytes) = %d bytes %q", len(in), len(got), got)
		}
		if !strings.Contains(got, " bytes]") {
			t.Errorf("Clean(%d bytes) = %q: no truncation marker", len(in), got)
		}
	}
	if got := Clean("short\x1b", 200); got != `short\x1b` {
		t.Errorf("Clean(short) = %q", got)
	}
	// Fits after escaping: no marker.
	if got := Clean(strings.Repeat("a", 190), 200); got != strings.Repeat("a", 190) {
		t.Errorf("Clean(190 a) = %q", got)
	}
}

func TestCut(t *testing.T) {
	s := strings.Repeat("é", 1000)
	got := Cut(s, 100)
	if len(got) > 100 || !utf8.ValidString(got) || !strings.HasSuffix(got, "bytes]") {
		t.Errorf("Cut = %q", got)
	}
	if Cut("abc", 100) != "abc" {
		t.Error("Cut changed a short string")
	}
}

func TestShortPath(t *testing.T) {
	deep := strings.Repeat("level/", 700) + "images/last.jpg"
	got := ShortPath(deep, 160)
	if len(got) > 160 || !strings.HasPrefix(got, "level/") || !strings.HasSuffix(got, "images/last.jpg") || !strings.Contains(got, "/…/") {
		t.Errorf("ShortPath(deep) = %q (%d bytes)", got, len(got))
	}
	one := strings.Repeat("n", 5000) + ".jpg"
	if got := ShortPath("images/"+one, 160); len(got) > 160 || !strings.HasPrefix(got, "images/nnn") || !strings.HasSuffix(got, "nnn.jpg") || !strings.Contains(got, "…") {
		t.Errorf("ShortPath(long element) = %q (%d bytes)", got, len(got))
	}
	if got := ShortPath(one, 160); len(got) > 160 || !strings.HasSuffix(got, ".jpg") {
		t.Errorf("ShortPath(one element) = %q (%d bytes)", got, len(got))
	}
	first := strings.Repeat("f", 3000) + "/" + strings.Repeat("mid/", 50) + "z.jpg"
	if got := ShortPath(first, 160); len(got) > 160 || !strings.HasSuffix(got, "/mid/z.jpg") || !strings.HasPrefix(got, "fff") {
		t.Errorf("ShortPath(long first element) = %q (%d bytes)", got, len(got))
	}
	for n := 16; n < 300; n += 7 {
		for _, p := range []string{deep, one, first, "a/" + one, strings.Repeat("é/", 400)} {
			if got := ShortPath(p, n); len(got) > n || !utf8.ValidString(got) {
				t.Fatalf("ShortPath(%d bytes, %d) = %q (%d bytes)", len(p), n, got, len(got))
			}
		}
	}
	if got := ShortPath("images/a.jpg", 160); got != "images/a.jpg" {
		t.Errorf("ShortPath(short) = %q", got)
	}
}

func TestLogAttr(t *testing.T) {
	var b strings.Builder
	log := slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{ReplaceAttr: LogAttr}))
	log.Warn("job failed \x1b]0;owned\a", "folder", "evil\u202egpj.\x1b[2J", "error", errors.New(strings.Repeat("\x9b", 1<<20)), "n", 3)
	line := b.String()
	if len(line) > 3*MaxLogValue || strings.ContainsAny(line, "\x1b\a\u202e\u009b") {
		t.Errorf("log line (%d bytes) not bounded or not escaped: %.300q", len(line), line)
	}
	if !strings.Contains(line, `evil\\u202egpj.\\x1b[2J`) || !strings.Contains(line, `"n":3`) {
		t.Errorf("log line = %.300s", line)
	}
}

func TestEscapeJSON(t *testing.T) {
	in := map[string]string{"name": "bidi\u202e c1\u0085 esc\x1b ok 中 tag\U000E0001"}
	b, _ := json.Marshal(in)
	got := EscapeJSON(b)
	if strings.ContainsAny(string(got), "\u202e\u0085\x1b\U000E0001") {
		t.Errorf("EscapeJSON = %s", got)
	}
	var back map[string]string
	if err := json.Unmarshal(got, &back); err != nil || back["name"] != in["name"] {
		t.Errorf("EscapeJSON changed the meaning: %s → %q (%v)", got, back["name"], err)
	}
}

func TestCheckField(t *testing.T) {
	for _, c := range []struct {
		s    string
		says string // "" = fit
	}{
		{"nave-{{timestamp}}", ""},
		{"中殿 项目　一 👩‍👩‍👧", ""}, // ideographic space and an emoji joined by ZWJ
		{"a\x1b[31mred", `\x1b (character 2)`},
		{"bell\a", `\a`},
		{"rtl\u202eevil", `\u202e`},
		{"iso\u2066x", `\u2066`},
		{"c1\u0085", `\u0085`},
		{"line\u2028sep", `\u2028`},
		{"bad\xff", `\xff`},
		{strings.Repeat("é", 201), "201 characters long, over the limit of 200"},
		{strings.Repeat("é", 200), ""},
	} {
		err := CheckField(c.s, 200)
		switch {
		case c.says == "" && err != nil:
			t.Errorf("%q: %v", c.s, err)
		case c.says != "" && (err == nil || !strings.Contains(err.Error(), c.says)):
			t.Errorf("%q: %v, want it to say %s", c.s, err, c.says)
		}
	}
}
