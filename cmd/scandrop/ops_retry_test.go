package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// failedByHand makes root/failed/name as a failed job of kind.
func failedByHand(t *testing.T, root, name, kind string) string {
	t.Helper()
	dir := filepath.Join(root, "failed", name)
	b, _ := json.Marshal(pipeline.Result{Status: "failed", Folder: name, FinishedAt: time.Now().UTC(),
		Error: &pipeline.ResultError{Stage: "upload", Kind: kind, Message: "by hand"}})
	writeTree(t, dir, map[string][]byte{"result.json": b, "manifest.json": []byte("{}")})
	return dir
}

// retry moves failed folders back to inbox/ with no secret in its
// environment: a timed-out job keeps its task and completes in the running
// daemon with the same task; a name taken in inbox/ is refused, naming it;
// --failed --kind picks by result.json's kind; --dry-run moves nothing; a
// name in several watches is refused with the choices.
func TestRetryCommand(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, realseeTimeout: 1500 * time.Millisecond})
	r.gw.HoldTasks(true)
	r.start()
	r.drop("slow", realseeFiles(t, 2, 0))
	broken := realseeFiles(t, 2, 0)
	delete(broken, "images/pano-01.jpg")
	r.drop("broken", broken)
	res, where := r.waitResult("slow", 60*time.Second)
	if where != "failed" || res.Error == nil || res.Error.Kind != "timeout" || res.VendorIDs["task_code"] == "" {
		t.Fatalf("slow landed in %s: %+v", where, res.Error)
	}
	code := res.VendorIDs["task_code"]
	if res, where := r.waitResult("broken", 60*time.Second); where != "failed" || res.Error.Kind != "invalid" {
		t.Fatalf("broken landed in %s: %+v", where, res.Error)
	}
	clash := failedByHand(t, r.watchDir, "clash", "auth")
	writeTree(t, r.path("inbox", "clash"), map[string][]byte{"notes.txt": []byte("a new drop of that name, still being copied")})
	cfg := offlineConfig(t, r.watchDir)

	if _, errs, code := runNoSecrets(t, "retry", "--config", cfg); code != 2 || !strings.Contains(errs, "name the folders to retry") {
		t.Errorf("retry with nothing to retry: exit %d, %s", code, errs)
	}

	out, errs, ec := runNoSecrets(t, "retry", "--dry-run", "--failed", "--kind", "timeout", "--config", cfg)
	if ec != 0 || strings.TrimSpace(out) != "would move "+r.path("failed", "slow")+" → inbox/ (timeout: the same vendor task is checked again)" {
		t.Errorf("--dry-run --failed --kind timeout: exit %d\n%s%s", ec, out, errs)
	}
	if _, err := os.Stat(r.path("failed", "slow", "result.json")); err != nil {
		t.Fatalf("--dry-run moved something: %v", err)
	}

	r.gw.HoldTasks(false)
	out, errs, ec = runNoSecrets(t, "retry", "slow", "clash", "--config", cfg)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if ec != 1 || len(lines) != 2 ||
		!strings.HasPrefix(lines[1], "refused "+clash+": inbox/clash exists (a new drop of that name is waiting there); rename one of the two folders") ||
		!strings.HasPrefix(lines[0], "moved "+r.path("failed", "slow")+" → inbox/ (timeout: the same vendor task is checked again; result.json kept as result.failed-") {
		t.Errorf("retry slow clash: exit %d\n%s%s", ec, out, errs)
	}
	if _, err := os.Stat(filepath.Join(clash, "result.json")); err != nil {
		t.Errorf("the refused folder was changed: %v", err)
	}
	done, where := r.waitResult("slow", 60*time.Second)
	if where != "done" || !done.Success() || done.VendorIDs["task_code"] != code {
		t.Fatalf("retried job landed in %s: %+v %v", where, done.Error, done.VendorIDs)
	}
	if n := len(r.gw.Submits()); n != 1 {
		t.Errorf("%d submits, want 1: the retry checks the task it has", n)
	}
	kept, _ := filepath.Glob(r.path("done", "slow", "result.failed-*.json"))
	if len(kept) != 1 {
		t.Fatalf("the failure's result.json: %v", kept)
	}
	if b, _ := os.ReadFile(kept[0]); !strings.Contains(string(b), `"kind": "timeout"`) {
		t.Errorf("%s: %s", kept[0], b)
	}

	// A name in two watches is ambiguous; its path is not.
	w2 := t.TempDir()
	failedByHand(t, r.watchDir, "dup", "transient")
	failedByHand(t, w2, "dup", "transient")
	os.Mkdir(filepath.Join(w2, "inbox"), 0o755) // retry never creates inbox/
	two := offlineConfig(t, r.watchDir, w2)
	out, _, ec = runNoSecrets(t, "retry", "--config", two, "dup")
	if ec != 1 || !strings.Contains(out, "refused dup: in the failed/ of several watches: "+r.path("failed", "dup")+", "+filepath.Join(w2, "failed", "dup")+"; give the path") {
		t.Errorf("ambiguous name: exit %d\n%s", ec, out)
	}
	out, _, ec = runNoSecrets(t, "retry", "--config", two, filepath.Join(w2, "failed", "dup"))
	if _, err := os.Stat(filepath.Join(w2, "inbox", "dup")); ec != 0 || err != nil {
		t.Errorf("retry by path: exit %d, %v\n%s", ec, err, out)
	}
	out, _, ec = runNoSecrets(t, "retry", "--config", two, "nosuch")
	if ec != 1 || !strings.Contains(out, "refused nosuch: no such folder in "+r.path("failed")+", "+filepath.Join(w2, "failed")) {
		t.Errorf("unknown name: exit %d\n%s", ec, out)
	}

	// --failed --kind invalid takes the invalid drop only; it runs again
	// from the start and fails again, its history kept.
	out, _, ec = runNoSecrets(t, "retry", "--failed", "--kind", "invalid", "--config", cfg)
	if ec != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, "moved "+r.path("failed", "broken")+" → inbox/ (invalid: runs again from the start") {
		t.Errorf("--failed --kind invalid: exit %d\n%s", ec, out)
	}
	eventually(t, "the retried invalid drop to fail again", 60*time.Second, func() bool {
		_, err := os.Stat(r.path("failed", "broken", "result.json"))
		return err == nil
	})
	if kept, _ := filepath.Glob(r.path("failed", "broken", "result.failed-*.json")); len(kept) != 1 {
		t.Errorf("history of the invalid drop: %v", kept)
	}
	for _, p := range []string{clash, r.path("failed", "dup"), r.path("inbox", "clash", "notes.txt")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// retention in a running daemon removes the done/ folders older than its
// limit, logging each, and leaves the rest.
func TestRetentionDaemon(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, extraConfig: "retention:\n  done: 24h\n  interval: 200ms\n"})
	old := filepath.Join(r.watchDir, "done", "old")
	b, _ := json.Marshal(pipeline.Result{Status: "success", Folder: "old", FinishedAt: time.Now().Add(-49 * time.Hour).UTC()})
	writeTree(t, old, map[string][]byte{"result.json": b, "images/a.jpg": []byte("x")})
	oldFailed := failedByHand(t, r.watchDir, "old-failure", "auth")
	os.Chtimes(filepath.Join(oldFailed, "result.json"), time.Now().Add(-100*time.Hour), time.Now().Add(-100*time.Hour))
	r.start()
	r.drop("new", realseeFiles(t, 2, 0))
	mustSucceed(t, r, "new", 60*time.Second)
	eventually(t, "done/old to be removed", 10*time.Second, func() bool {
		_, err := os.Stat(old)
		return os.IsNotExist(err)
	})
	time.Sleep(500 * time.Millisecond) // two more passes
	for _, p := range []string{r.path("done", "new", "result.json"), filepath.Join(oldFailed, "result.json")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	var removed int
	for _, l := range r.logLines() {
		if l.Msg == "retention: removed" {
			removed++
		}
	}
	if removed != 1 || !strings.Contains(r.logText(), `"folder":"done/old","age":"49h`) {
		t.Errorf("%d removals logged:\n%s", removed, r.logText())
	}
}
