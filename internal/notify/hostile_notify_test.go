package notify

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/pipeline"
)

// Issue 12 class 6: a hook gets a clean environment.

func TestHookEnv(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix variable names")
	}
	const secret = "ops-app-secret-5c6d7e"
	environ := []string{
		"PATH=/usr/bin:/bin", "HOME=/var/lib/scandrop", "LANG=C.UTF-8", "LC_ALL=de_DE.UTF-8", "TZ=Europe/Berlin",
		"TMPDIR=/tmp/x", "USER=scandrop",
		"RS_SECRET=" + secret, "AWS_SECRET_ACCESS_KEY=aws-secret", "GITHUB_TOKEN=gh", "SCANDROP_HTTP_TOKEN=tok",
		"PATHX=not-path", "LC=not-a-locale", "=C:=C:\\odd", "NOEQUALS",
		"LANGUAGE=" + secret, // a base variable an operator set to a secret
	}
	c := config.Command{Env: []string{"SITE=north", "PATH=/opt/hook/bin"}}
	event := []string{"SCANDROP_EVENT=done", "SCANDROP_FOLDER=f"}
	env, dropped := hookEnv(environ, c, event, []config.Secret{secret, "other-secret-value"})
	want := []string{
		"PATH=/usr/bin:/bin", "HOME=/var/lib/scandrop", "LANG=C.UTF-8", "LC_ALL=de_DE.UTF-8", "TZ=Europe/Berlin",
		"TMPDIR=/tmp/x", "USER=scandrop",
		"SITE=north", "PATH=/opt/hook/bin", // Env after the base: exec keeps the last PATH
		"SCANDROP_EVENT=done", "SCANDROP_FOLDER=f",
	}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env:\n got %q\nwant %q", env, want)
	}
	if !reflect.DeepEqual(dropped, []string{"LANGUAGE"}) {
		t.Errorf("dropped %q, want [LANGUAGE]", dropped)
	}
}

// Through a real process: what the hook sees is the base, its env and the
// SCANDROP_ variables; a base variable holding a secret is left out and
// named in the log, without its value.
func TestCommandEnvIsolated(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	const secret = "ops-hook-secret-8f9a0b"
	t.Setenv("OPS_TEST_SECRET", secret)
	t.Setenv("OPS_TEST_UNLISTED", "unlisted")
	t.Setenv("OPS_TEST_LISTED", "listed")
	t.Setenv("TZ", secret) // absurd, and still kept out
	out := filepath.Join(t.TempDir(), "env")
	var logs logBuffer
	n := NewNotifier(config.Notify{Commands: []config.Command{{
		Run:    []string{sh, "-c", `env > "$1"`, "hook", out},
		Env:    []string{"OPS_TEST_LISTED=listed", "SET=by config"},
		Events: []string{"done"}, Timeout: config.Duration(10 * time.Second),
	}}}, NotifierOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Secrets: []config.Secret{secret}})
	res := &pipeline.Result{Status: "success", Vendor: "realsee", Folder: "f"}
	n.Finished(res.Folder, res, finishedJob(t, res))
	n.Close(context.Background())
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the hook did not run: %v\n%s", err, logs.String())
	}
	got := string(b)
	for _, want := range []string{"OPS_TEST_LISTED=listed\n", "SET=by config\n", "SCANDROP_EVENT=done\n", "SCANDROP_STATUS=success\n", "PATH="} {
		if !strings.Contains(got, want) {
			t.Errorf("the hook's env lacks %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{secret, "OPS_TEST_SECRET", "OPS_TEST_UNLISTED", "TZ="} {
		if strings.Contains(got, bad) {
			t.Errorf("the hook's env has %q:\n%s", bad, got)
		}
	}
	if l := logs.String(); !strings.Contains(l, "variable=TZ") || strings.Contains(l, secret) {
		t.Errorf("log should name TZ as left out, without its value:\n%s", l)
	}
}
