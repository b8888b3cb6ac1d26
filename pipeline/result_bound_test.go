package pipeline

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/scandrop/scandrop/vendors"
)

// Whatever a drop makes the vendors say, result.json stays under
// MaxResultBytes, valid UTF-8, with the cut marked.
func TestResultBounded(t *testing.T) {
	dir := t.TempDir()
	deep := filepath.Join(dir, strings.Repeat("level/", 650)+"x.jpg")
	cases := map[string]error{
		"many problems": func() error {
			var ps vendors.Problems
			for range 300_000 {
				ps.Add("manifest.json", "scan id %q is listed twice", "dup")
			}
			return ps.Err("realsee: validate")
		}(),
		"huge problems": func() error {
			var ps vendors.Problems
			for range 60 {
				ps.Add(strings.Repeat("\x1b", 5000), "%s", strings.Repeat("\x1b\xff", 1<<20))
			}
			return ps.Err("realsee: validate")
		}(),
		"huge vendor answer": vendors.E(vendors.Rejected, "realsee: submit", strings.Repeat("\x00<b>", 5<<20)),
		"deep path":          vendors.E(vendors.Invalid, "aholo: open", &os.PathError{Op: "open", Path: deep, Err: errors.New("file name too long")}),
	}
	for name, err := range cases {
		res := fail(StageValidate, err)
		res.Folder = strings.Repeat("f", 100_000)
		res.Assets = map[string]string{"ply": strings.Repeat("u", 1<<20)}
		if err := writeResult(dir, res); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, ResultFile))
		if len(b) > MaxResultBytes || !utf8.Valid(b) {
			t.Errorf("%s: result.json is %d bytes (valid UTF-8: %v)", name, len(b), utf8.Valid(b))
		}
		var back Result
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		switch name {
		case "many problems":
			last := back.Error.Problems[len(back.Error.Problems)-1].Message
			if len(back.Error.Problems) != vendors.MaxProblems+1 || !strings.Contains(last, "and 299950 more problems") {
				t.Errorf("%s: %d problems, last %q", name, len(back.Error.Problems), last)
			}
		case "huge problems":
			last := back.Error.Problems[len(back.Error.Problems)-1].Message
			if !strings.Contains(last, "more problems, not listed") {
				t.Errorf("%s: last problem %q", name, last)
			}
		case "deep path":
			m := back.Error.Message
			if strings.Contains(m, dir) || !strings.Contains(m, "open level/level/") || !strings.Contains(m, "/…/level/") || !strings.Contains(m, "level/x.jpg: file name too long") || len(m) > 400 {
				t.Errorf("%s: message %q", name, m)
			}
		}
		if !strings.HasSuffix(back.Folder, "bytes]") {
			t.Errorf("%s: folder cut without a marker", name)
		}
	}
}
