//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/pipeline"
)

// stuckInUpload drops name into acme's watch with acme's Realsee gateway
// answering 503 to everything, waits until the job is past its claim and
// retrying its upload, and kills the daemon (-9).
func stuckInUpload(t *testing.T, a *acctRig, names ...string) {
	t.Helper()
	a.acmeRS.FailNext(1<<30, 503)
	d := a.start()
	for _, n := range names {
		dropIn(t, a.acme, n, realseeNamed(t, n))
	}
	for _, n := range names {
		eventually(t, n+" retrying its upload", 30*time.Second, func() bool {
			rec, err := pipeline.ReadRecord(filepath.Join(a.acme, "processing", n))
			return err == nil && rec.Stage == pipeline.StageUpload
		})
	}
	d.kill()
	d.waitExit(t, 10*time.Second)
	a.acmeRS.FailNext(0, 0)
}

// rewrite edits the rig's config.yaml.
func (a *acctRig) rewrite(t *testing.T, edit func(string) string) {
	t.Helper()
	b, err := os.ReadFile(a.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a.cfgPath, []byte(edit(string(b))), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAccountsJobKeepsItsAccountAcrossAConfigChange: a job claimed in
// acme's watch, killed before its submit, resumes after acme's watch lost
// its account: line still under acme, on acme's gateway, never the
// default's (which would hand acme's upload to another customer).
func TestAccountsJobKeepsItsAccountAcrossAConfigChange(t *testing.T) {
	a := newAcctRig(t)
	stuckInUpload(t, a, "h1")
	a.rewrite(t, func(s string) string {
		return strings.Replace(s, "  - dir: acme\n    account: acme\n", "  - dir: acme\n", 1)
	})
	a.start()
	res, where := resultIn(t, a.acme, "h1", 60*time.Second)
	if where != "done" || res["account"] != "acme" {
		t.Fatalf("h1 landed in %s: %v", where, res)
	}
	if n, m := len(a.acmeRS.Submits()), len(a.ownRS.Submits()); n != 1 || m != 0 {
		t.Errorf("submits: acme's gateway %d, the default's %d; want 1, 0", n, m)
	}
}

// TestAccountsGoneJobFailsConfig: a job whose account is gone from
// config.yaml fails "config" naming the account and `retry --fresh`; a
// plain retry fails the same way (the job stays acme's), and only
// `retry --fresh` runs it again, under the watch's account of today.
func TestAccountsGoneJobFailsConfig(t *testing.T) {
	a := newAcctRig(t)
	stuckInUpload(t, a, "h2")
	a.rewrite(t, func(s string) string {
		s = strings.Replace(s, "  - dir: acme\n    account: acme\n", "  - dir: acme\n", 1)
		return s[:strings.Index(s, "accounts:\n")]
	})
	a.start()
	failedConfig := func(what string) {
		t.Helper()
		res, where := resultIn(t, a.acme, "h2", 60*time.Second)
		e, _ := res["error"].(map[string]any)
		if where != "failed" || e["kind"] != "config" || !strings.Contains(e["message"].(string), `account "acme"`) ||
			!strings.Contains(e["fix"].(string), "scandrop retry --fresh h2") || res["account"] != "acme" {
			t.Fatalf("%s: h2 landed in %s: %v", what, where, res)
		}
	}
	failedConfig("resumed")
	out, code := runBin(t, "retry", "--config", a.cfgPath, "h2")
	if code != 0 {
		t.Fatalf("retry: exit %d\n%s", code, out)
	}
	eventually(t, "h2 to leave failed/", 20*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(a.acme, "failed", "h2", "result.json"))
		return err != nil
	})
	failedConfig("retried")
	out, code = runBin(t, "retry", "--fresh", "--config", a.cfgPath, "h2")
	if code != 0 {
		t.Fatalf("retry --fresh: exit %d\n%s", code, out)
	}
	res, where := resultIn(t, a.acme, "h2", 60*time.Second)
	if _, has := res["account"]; where != "done" || has {
		t.Fatalf("after retry --fresh, h2 landed in %s: %v", where, res)
	}
	if n, m := len(a.acmeRS.Submits()), len(a.ownRS.Submits()); n != 0 || m != 1 {
		t.Errorf("submits: acme's gateway %d, the default's %d; want 0, 1", n, m)
	}
}

// TestRetryAuthFailureChecksTheSameTask: a job whose status polls were
// refused (auth) while it waited on its task is retried onto that same
// task: `scandrop retry` says so, and the gateway gets no second submit.
func TestRetryAuthFailureChecksTheSameTask(t *testing.T) {
	a := newAcctRig(t)
	a.ownRS.HoldTasks(true)
	a.start()
	dropIn(t, a.own, "h3", realseeNamed(t, "h3"))
	eventually(t, "h3 waiting on its task", 60*time.Second, func() bool {
		rec, err := pipeline.ReadRecord(filepath.Join(a.own, "processing", "h3"))
		return err == nil && rec.Stage == pipeline.StageWait && len(rec.IDs) > 0
	})
	a.ownRS.FailNext(1<<30, 401)
	res, where := resultIn(t, a.own, "h3", 60*time.Second)
	if e, _ := res["error"].(map[string]any); where != "failed" || e["kind"] != "auth" {
		t.Fatalf("h3 landed in %s: %v", where, res)
	}
	a.ownRS.FailNext(0, 0)
	a.ownRS.HoldTasks(false)
	out, code := runBin(t, "retry", "--config", a.cfgPath, "h3")
	if code != 0 || !strings.Contains(out, "auth: the same vendor task is checked again") {
		t.Fatalf("retry: exit %d\n%s", code, out)
	}
	res, where = resultIn(t, a.own, "h3", 60*time.Second)
	if where != "done" {
		t.Fatalf("retried, h3 landed in %s: %v", where, res)
	}
	if n := len(a.ownRS.Submits()); n != 1 {
		t.Errorf("the gateway got %d submits, want 1: the retry submitted a second task", n)
	}
}

// TestAccountsProcessThroughALink: `scandrop process` given a folder of
// acme's watch through a symlink to the watch runs it under acme, as the
// daemon would.
func TestAccountsProcessThroughALink(t *testing.T) {
	a := newAcctRig(t)
	link := filepath.Join(a.root, "acmelink")
	if err := os.Symlink(a.acme, link); err != nil {
		t.Fatal(err)
	}
	dropIn(t, a.acme, "p1", realseeNamed(t, "p1"))
	out, code := runBin(t, "process", "--config", a.cfgPath, filepath.Join(link, "inbox", "p1"))
	if code != 0 || !strings.Contains(out, `"account": "acme"`) {
		t.Fatalf("process: exit %d\n%s", code, out)
	}
	if n, m := len(a.acmeRS.Submits()), len(a.ownRS.Submits()); n != 1 || m != 0 {
		t.Errorf("submits: acme's gateway %d, the default's %d; want 1, 0", n, m)
	}
}

// TestAccountsTwoWatchesOneFolderRefused: two watches on one folder, one
// through a symlink, each with its own account, stop the daemon at start
// naming both (they would race for the drops).
func TestAccountsTwoWatchesOneFolderRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "w1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("w1", filepath.Join(dir, "w1link")); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(`watches:
  - dir: w1
  - dir: w1link
    account: acme
state_dir: state
realsee: {app_key: k, app_secret: s}
accounts:
  - name: acme
    realsee: {app_key: ak, app_secret: as}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runBin(t, "run", "--config", cfg)
	want := "watches[1].dir: " + filepath.Join(dir, "w1link") + " is the same folder as watches[0].dir " + filepath.Join(dir, "w1")
	if code != 2 || !strings.Contains(out, want) {
		t.Fatalf("run: exit %d, want 2 saying %q\n%s", code, want, out)
	}
}
