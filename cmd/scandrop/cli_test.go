package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func runBin(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

func TestCLIExitCodes(t *testing.T) {
	good := t.TempDir()
	for name, b := range realseeDrop(t, 2, 128) {
		p := filepath.Join(good, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, b, 0o644)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "manifest.json"), []byte(`{"version":"1.0","floor_map":{"0":0},"scan_list":[{"id":"a","floor":0}]}`), 0o644)
	badConfig := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(badConfig, []byte("watches:\n  - dir: x\n    polll: 1s\n"), 0o644)

	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"version"}, 0, "scandrop "},
		{[]string{"check", good}, 0, "valid realsee drop"},
		{[]string{"check", bad}, 1, "images/a.jpg: missing"},
		{[]string{"check"}, 2, "usage"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"run", "--config", badConfig}, 2, `unknown key "polll"`},
		{[]string{"process", "--config", badConfig, good}, 2, `config.yaml:3:`},
	}
	for _, tc := range cases {
		out, code := runBin(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("scandrop %s: exit %d, output %q; want exit %d containing %q", strings.Join(tc.args, " "), code, out, tc.code, tc.want)
		}
	}
	// check touches nothing.
	if _, err := os.Stat(filepath.Join(bad, ".scandrop")); err == nil {
		t.Error("check wrote into the folder")
	}
}
