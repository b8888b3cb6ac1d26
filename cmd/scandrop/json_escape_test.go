//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// htmlEscapes are how encoding/json writes <, > and & by default.
var htmlEscapes = []string{`\u003c`, `\u003e`, `\u0026`}

// result.json, `process` and `status --json` write <, > and & as they are:
// a folder "site <B> & co" reads as such, not as "site \u003cB\u003e \u0026 co".
func TestJSONForPeopleNotHTMLEscaped(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}})
	const name = "site <B> & co"
	bad := map[string][]byte{"manifest.json": []byte(`{"version":"1.0","floor_map":{"0":0},"scan_list":[{"id":"a<1>&b","floor":0}]}`)}
	r.drop(name, bad)
	r.start()
	r.waitResult(name, 30*time.Second)
	raw, err := os.ReadFile(r.path("failed", name, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(what, text string, wants ...string) {
		t.Helper()
		for _, e := range htmlEscapes {
			if strings.Contains(text, e) {
				t.Errorf("%s has %s:\n%s", what, e, text)
			}
		}
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s does not contain %q:\n%s", what, w, text)
			}
		}
	}
	check("result.json", string(raw), `"folder": "site <B> & co"`, "a<1>&b")

	out, _, code := runCmd(t, "status", "--json", "--config", r.cfgPath)
	if code != 0 {
		t.Fatalf("status --json: exit %d", code)
	}
	check("status --json", out, name)

	// process prints the result it writes.
	dir := filepath.Join(t.TempDir(), "x <y> & z")
	writeTree(t, dir, bad)
	out, _, code = runCmd(t, "process", "--config", r.cfgPath, dir)
	if code != 1 {
		t.Fatalf("process: exit %d, want 1 (invalid drop)\n%s", code, out)
	}
	check("process output", out, `"folder": "x <y> & z"`, "a<1>&b")
	raw, _ = os.ReadFile(filepath.Join(dir, "result.json"))
	check("process result.json", string(raw), "a<1>&b")
}
