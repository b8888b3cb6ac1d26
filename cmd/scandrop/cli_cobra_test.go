//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeDrop writes a valid Realsee drop into a new folder and returns it.
func writeDrop(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range realseeDrop(t, 2, 128) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// commands are scandrop's commands with the flags of their own.
var commands = map[string][]string{
	"run": nil, "process": nil, "check": nil, "demo": {"--keep", "--dir"},
	"status": {"--json"}, "service": {"--user"}, "version": nil,
}

// Help, however asked, goes to stdout with exit 0 and lists every flag,
// the global ones included, and an example.
func TestCLIHelp(t *testing.T) {
	for cmd, own := range commands {
		for _, args := range [][]string{{cmd, "--help"}, {cmd, "-h"}, {"help", cmd}} {
			out, errOut, code := runCmd(t, args...)
			if code != 0 || errOut != "" {
				t.Errorf("scandrop %s: exit %d, stderr %q; want 0 and nothing", strings.Join(args, " "), code, errOut)
			}
			for _, want := range append([]string{"Usage:", "scandrop " + cmd, "Examples:", "--config", "--log-format", "--log-level", "--help"}, own...) {
				if !strings.Contains(out, want) {
					t.Errorf("scandrop %s: stdout does not contain %q:\n%s", strings.Join(args, " "), want, out)
				}
			}
		}
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		out, errOut, code := runCmd(t, args...)
		if code != 0 || errOut != "" {
			t.Errorf("scandrop %s: exit %d, stderr %q; want 0 and nothing", strings.Join(args, " "), code, errOut)
		}
		for cmd := range commands {
			if !strings.Contains(out, "\n  "+cmd+" ") {
				t.Errorf("scandrop %s: command %s not listed:\n%s", args[0], cmd, out)
			}
		}
		if !strings.Contains(out, "completion") || !strings.Contains(out, "Exit codes") {
			t.Errorf("scandrop %s: no completion command or exit codes:\n%s", args[0], out)
		}
	}
	// No command at all is a usage error: the usage, on stderr, exit 2.
	out, errOut, code := runCmd(t)
	if code != 2 || out != "" || !strings.Contains(errOut, "Usage:") || !strings.Contains(errOut, "run") {
		t.Errorf("scandrop: exit %d, stdout %q, stderr %q; want 2 and the usage on stderr", code, out, errOut)
	}
}

// -v, --version and version all print the version line.
func TestCLIVersion(t *testing.T) {
	want, _, code := runCmd(t, "version")
	if code != 0 || !strings.HasPrefix(want, "scandrop ") || strings.Count(want, "\n") != 1 {
		t.Fatalf("version: exit %d, %q", code, want)
	}
	for _, flag := range []string{"-v", "--version"} {
		if out, errOut, code := runCmd(t, flag); code != 0 || out != want || errOut != "" {
			t.Errorf("scandrop %s: exit %d, stdout %q, stderr %q; want 0 and %q", flag, code, out, errOut, want)
		}
	}
}

// Global flags work before the command as after it, and a flag given
// after a positional argument is still read.
func TestCLIGlobalFlagsAnywhere(t *testing.T) {
	good := writeDrop(t)
	badConfig := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(badConfig, []byte("watches:\n  - dir: x\n    polll: 1s\n"), 0o644)
	for _, args := range [][]string{
		{"--config", badConfig, "run"},
		{"run", "--config", badConfig},
		{"--config=" + badConfig, "status"},
		{"process", good, "--config", badConfig},
		{"--config", badConfig, "process", good},
	} {
		_, errOut, code := runCmd(t, args...)
		if code != 2 || !strings.Contains(errOut, `unknown key "polll"`) {
			t.Errorf("scandrop %s: exit %d, stderr %q; want 2 naming the config's unknown key (the config was read)", strings.Join(args, " "), code, errOut)
		}
	}
	for _, args := range [][]string{
		{"--log-level", "debug", "check", good},
		{"check", good, "--log-level", "debug"},
		{"check", "--log-format=json", good},
	} {
		if out, _, code := runCmd(t, args...); code != 0 || !strings.Contains(out, "valid realsee drop") {
			t.Errorf("scandrop %s: exit %d, %q; want 0, a valid drop", strings.Join(args, " "), code, out)
		}
	}
}

// A log level or format scandrop does not know is refused the same way by
// every command, before it does anything.
func TestCLIFlagValidationIdentical(t *testing.T) {
	good := writeDrop(t)
	argsOf := map[string][]string{"process": {good}, "check": {good}, "service": {"status"}}
	for cmd := range commands {
		for _, bad := range [][2]string{{"--log-level=trace", `unknown log level "trace"`}, {"--log-format=xml", `unknown log format "xml"`}} {
			for _, args := range [][]string{
				append(append([]string{cmd}, argsOf[cmd]...), bad[0]),
				append([]string{bad[0], cmd}, argsOf[cmd]...),
			} {
				out, errOut, code := runCmd(t, args...)
				if code != 2 || out != "" || !strings.HasPrefix(errOut, "scandrop: "+bad[1]) || strings.Count(errOut, "\n") != 1 {
					t.Errorf("scandrop %s: exit %d, stdout %q, stderr %q; want 2 and %s only", strings.Join(args, " "), code, out, errOut, bad[1])
				}
			}
		}
	}
}

// A mistyped command gets a suggestion, an unknown flag names itself and
// where the help is; both exit 2.
func TestCLIMistakes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"rn"}, []string{`unknown command "rn"`, `did you mean "run"?`}},
		{[]string{"stauts", "--json"}, []string{`unknown command "stauts"`, `did you mean "status"?`}},
		{[]string{"help", "proces"}, []string{`unknown command "proces"`, `did you mean "process"?`}},
		{[]string{"frobnicate"}, []string{`unknown command "frobnicate"`, "scandrop help"}},
		{[]string{"run", "--bogus"}, []string{"unknown flag: --bogus", "see 'scandrop run --help'"}},
		{[]string{"status", "-x"}, []string{"'x'", "see 'scandrop status --help'"}},
		{[]string{"--bogus", "check"}, []string{"unknown flag: --bogus", "--help'"}},
		{[]string{"check"}, []string{"usage: scandrop check FOLDER", "see 'scandrop check --help'"}},
		{[]string{"run", "extra"}, []string{"run takes no arguments"}},
	} {
		out, errOut, code := runCmd(t, tc.args...)
		if code != 2 || out != "" {
			t.Errorf("scandrop %s: exit %d, stdout %q; want 2 and nothing on stdout", strings.Join(tc.args, " "), code, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("scandrop %s: stderr %q does not contain %q", strings.Join(tc.args, " "), errOut, w)
			}
		}
		if strings.Count(errOut, "\n") != 1 {
			t.Errorf("scandrop %s: stderr is not one line: %q", strings.Join(tc.args, " "), errOut)
		}
	}
}

// `scandrop completion SHELL` writes a script for each shell; bash's
// parses; and the completions it asks scandrop for are scandrop's.
func TestCLICompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		out, errOut, code := runCmd(t, "completion", shell)
		if code != 0 || len(out) < 1000 || !strings.Contains(out, "scandrop") || errOut != "" {
			t.Errorf("completion %s: exit %d, %d bytes, stderr %q", shell, code, len(out), errOut)
			continue
		}
		if shell == "bash" {
			if _, err := exec.LookPath("bash"); err != nil {
				t.Errorf("bash not found: cannot check the bash script: %v", err)
				continue
			}
			script := filepath.Join(t.TempDir(), "scandrop.bash")
			os.WriteFile(script, []byte(out), 0o644)
			if b, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
				t.Errorf("bash -n: %v\n%s", err, b)
			}
		}
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "--log-level", ""}, []string{"debug\n", "info\n", "warn\n", "error\n"}},
		{[]string{"__complete", "service", ""}, []string{"install\n", "uninstall\n", "status\n"}},
		{[]string{"__complete", "sta"}, []string{"status"}},
	} {
		out, _, code := runCmd(t, tc.args...)
		for _, w := range tc.want {
			if code != 0 || !strings.Contains(out, w) {
				t.Errorf("scandrop %s: exit %d, %q; want %q", strings.Join(tc.args, " "), code, out, w)
			}
		}
	}
	if out, errOut, code := runCmd(t, "completion", "tcsh"); code != 2 || out != "" || !strings.Contains(errOut, `"tcsh"`) {
		t.Errorf("completion tcsh: exit %d, stdout %q, stderr %q; want 2 naming the shell", code, out, errOut)
	}
}
