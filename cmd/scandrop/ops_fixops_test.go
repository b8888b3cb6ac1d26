package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/ops"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// runWithin runs the binary (no secrets in its environment) and fails the
// test if it has not exited within d: a command that hangs is the defect.
func runWithin(t *testing.T, d time.Duration, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v did not return within %s", args, d)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// A result.json that is a FIFO (anyone who can write to the share can make
// one) or a symlink out of the folder is refused unread: status returns at
// once and shows the folder with the reason, the daemon's /status and page
// answer without leaving a thread blocked in open, and the file a symlink
// points to is never shown.
func TestStatusRefusesFIFOAndSymlinkResult(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, extraConfig: "http:\n  listen: 127.0.0.1:0\n"})
	for _, p := range []string{"done/fifo-done", "failed/fifo-failed", "done/linked"} {
		if err := os.MkdirAll(r.path(p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"done/fifo-done/result.json", "failed/fifo-failed/result.json"} {
		if err := syscall.Mkfifo(r.path(p), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(t.TempDir(), "result.json")
	if err := os.WriteFile(outside, []byte(`{"status":"success","vendor":"OUTSIDE-VENDOR","finished_at":"2026-01-01T00:00:00Z"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, r.path("done/linked/result.json")); err != nil {
		t.Fatal(err)
	}
	cfg := offlineConfig(t, r.watchDir)

	out, errs, code := runWithin(t, 20*time.Second, "status", "--config", cfg)
	if code != 0 {
		t.Fatalf("status: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"done/fifo-done", "failed/fifo-failed", "done/linked", "not a regular file", "symlink"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "OUTSIDE-VENDOR") {
		t.Errorf("status followed the symlinked result.json:\n%s", out)
	}
	jout, errs, code := runWithin(t, 20*time.Second, "status", "--json", "--config", cfg)
	var rep ops.Report
	if code != 0 || json.Unmarshal([]byte(jout), &rep) != nil || len(rep.Watches) != 1 {
		t.Fatalf("status --json: exit %d\n%s\n%s", code, jout, errs)
	}
	got := map[string]ops.Finished{}
	for _, f := range rep.Watches[0].Recent {
		got[f.Folder] = f
	}
	for _, f := range []string{"done/fifo-done", "failed/fifo-failed", "done/linked"} {
		if g, ok := got[f]; !ok || g.Status != "unreadable" || g.Error == "" {
			t.Errorf("status --json: %s = %+v, want unreadable with a reason", f, g)
		}
	}

	d := r.start()
	addr := rigHTTPAddr(t, r)
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) {
		t.Helper()
		resp, err := client.Get(addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "fifo-done") {
			t.Fatalf("GET %s: %s\n%s", path, resp.Status, b)
		}
	}
	get("/status")
	before := procStatus(d.cmd.Process.Pid, "Threads")
	for range 30 {
		get("/status")
		get("/")
	}
	if after := procStatus(d.cmd.Process.Pid, "Threads"); before < 0 || after > before+8 {
		t.Errorf("daemon threads: %d before 60 requests, %d after; want no thread left blocked per request", before, after)
	}
}

// retry refuses hidden and temporary names (scandrop's own temporaries
// among them: the watcher ignores such names in inbox/), takes "bad1/" as
// bad1, and refuses, creating nothing, when the watch has no inbox/ (an
// unmounted share).
func TestRetryNamesAndMissingInbox(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"bad1", ".hid", ".scandrop-expired-1-x", "scan.tmp"} {
		failedByHand(t, root, name, "transient")
	}
	cfg := offlineConfig(t, root)

	out, _, code := runWithin(t, 20*time.Second, "retry", "--config", cfg, "bad1/")
	if code == 0 || !strings.Contains(out, "is the share mounted?") {
		t.Errorf("retry without inbox/: exit %d, want refused naming the missing inbox/\n%s", code, out)
	}
	if _, err := os.Lstat(filepath.Join(root, "inbox")); err == nil {
		t.Error("retry created inbox/")
	}
	if _, err := os.Lstat(filepath.Join(root, "failed", "bad1", "result.json")); err != nil {
		t.Errorf("refused retry changed failed/bad1: %v", err)
	}

	if err := os.Mkdir(filepath.Join(root, "inbox"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{".hid", ".scandrop-expired-1-x", "scan.tmp", filepath.Join(root, "failed", ".hid")} {
		out, _, code := runWithin(t, 20*time.Second, "retry", "--config", cfg, name)
		if code == 0 || !strings.Contains(out, "hidden or temporary name") {
			t.Errorf("retry %s: exit %d, want refused\n%s", name, code, out)
		}
	}
	out, _, code = runWithin(t, 20*time.Second, "retry", "--failed", "--config", cfg)
	if ents, _ := os.ReadDir(filepath.Join(root, "inbox")); code != 0 || len(ents) != 1 || ents[0].Name() != "bad1" {
		t.Errorf("retry --failed: exit %d, inbox/ %v; want only bad1 moved\n%s", code, ents, out)
	}
	if err := os.Rename(filepath.Join(root, "inbox", "bad1"), filepath.Join(root, "failed", "bad1")); err != nil {
		t.Fatal(err)
	}
	out, errs, code := runWithin(t, 20*time.Second, "retry", "--config", cfg, "bad1/")
	if _, err := os.Lstat(filepath.Join(root, "inbox", "bad1")); code != 0 || err != nil {
		t.Errorf("retry bad1/: exit %d (%v)\n%s%s", code, err, out, errs)
	}
	for _, name := range []string{".hid", ".scandrop-expired-1-x", "scan.tmp"} {
		if _, err := os.Lstat(filepath.Join(root, "failed", name)); err != nil {
			t.Errorf("failed/%s moved: %v", name, err)
		}
	}
}

// The binary refuses a config whose archive_dir is, by resolved path, the
// watch folder itself or a symlink to its done/.
func TestArchiveDirResolvedRefused(t *testing.T) {
	base := t.TempDir()
	watch := filepath.Join(base, "scans")
	if err := os.MkdirAll(filepath.Join(watch, "done"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(watch, "done"), filepath.Join(base, "to-done")); err != nil {
		t.Fatal(err)
	}
	for archive, want := range map[string]string{
		watch:                          "is watches[0]'s folder itself",
		filepath.Join(base, "to-done"): "is inside watches[0]'s done/",
	} {
		cfg := filepath.Join(t.TempDir(), "c.yaml")
		y := "watches:\n  - dir: " + watch + "\nretention: {done: 1h, action: archive, archive_dir: " + archive + "}\n"
		if err := os.WriteFile(cfg, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		_, errs, code := runWithin(t, 20*time.Second, "status", "--config", cfg)
		if code != 2 || !strings.Contains(errs, want) {
			t.Errorf("archive_dir %s: exit %d, %q; want 2 and %q", archive, code, errs, want)
		}
	}
}
