package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/scandrop/scandrop/pipeline"
)

// rawControl reports a byte a terminal acts on, or the UTF-8 of a C1
// control or a bidi override, or invalid UTF-8.
func rawControl(b []byte) string {
	if !utf8.Valid(b) {
		return "invalid UTF-8"
	}
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			return fmt.Sprintf("byte %#x", c)
		}
	}
	for _, r := range string(b) {
		if r >= 0x80 && r <= 0x9f || r == '\u202e' || r == '\u2066' {
			return fmt.Sprintf("rune %U", r)
		}
	}
	return ""
}

// Names and problems from a hostile drop reach the status report escaped
// and bounded, in every form: text, JSON and HTML.
func TestReportHostileNames(t *testing.T) {
	root := t.TempDir()
	for _, sub := range []string{"inbox", "processing", "done", "failed"} {
		os.MkdirAll(filepath.Join(root, sub), 0o755)
	}
	names := []string{"a-red\x1b[31mname", "a-cr\rover", "a-bidi\u202egpj.exe", "a-bad\xffutf8", "a-bell\a\u0085c1"}
	for _, n := range names {
		d := filepath.Join(root, "inbox", n)
		os.MkdirAll(filepath.Join(d, "images"), 0o755)
		// A manifest whose one problem is a huge id with control characters.
		id := strings.Repeat("\x1b]0;x\a", 20_000)
		m, _ := json.Marshal(map[string]any{"version": "1.0", "scan_list": []map[string]any{{"id": id}, {"id": id}}})
		os.WriteFile(filepath.Join(d, "manifest.json"), m, 0o644)
	}
	os.Symlink(t.TempDir(), filepath.Join(root, "inbox", "link\x1bname"))
	for i := range maxInboxShown + 20 {
		os.Mkdir(filepath.Join(root, "inbox", fmt.Sprintf("plain-%04d", i)), 0o755)
	}
	// A failed job whose result.json (written by scandrop) names the drop.
	fd := filepath.Join(root, "failed", "fail\x1b[2Jed")
	os.MkdirAll(fd, 0o755)
	writeResult(t, fd, pipeline.Result{Status: "failed", Error: &pipeline.ResultError{Stage: "validate", Message: "id \x1b[2J" + strings.Repeat("y", 50_000)}})

	rep := reporter().Report(context.Background(), []Source{{Dir: root}})
	ws := rep.Watches[0]
	if len(ws.Inbox) != maxInboxShown || ws.InboxMore != len(names)+1+maxInboxShown+20-maxInboxShown {
		t.Errorf("inbox: %d listed, %d more", len(ws.Inbox), ws.InboxMore)
	}
	var text bytes.Buffer
	if err := WriteText(&text, rep); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(rep)
	rec := httptest.NewRecorder()
	(&Server{Report: func(context.Context) Report { return rep }}).Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	for form, b := range map[string][]byte{"text": text.Bytes(), "json": js, "html": rec.Body.Bytes()} {
		if bad := rawControl(b); bad != "" {
			t.Errorf("%s: raw %s", form, bad)
		}
		if len(b) > 512<<10 {
			t.Errorf("%s: %d bytes", form, len(b))
		}
	}
	for _, want := range []string{`red\x1b[31mname`, `bidi\u202egpj.exe`, `bad\xffutf8`, `link\x1bname`, "symlink", "copy the folder in instead", `fail\x1b[2Jed`, "and 26 more, not listed"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q", want)
		}
	}
}
