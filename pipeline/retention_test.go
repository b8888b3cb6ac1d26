package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// finishedFolder makes root/sub/name with a result.json finished at at
// (none if at is zero) and a file of content.
func finishedFolder(t *testing.T, root, sub, name string, at time.Time) string {
	t.Helper()
	dir := filepath.Join(root, sub, name)
	if err := os.MkdirAll(filepath.Join(dir, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "images", "a.jpg"), []byte("jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !at.IsZero() {
		b, _ := json.Marshal(Result{Status: "success", Folder: name, FinishedAt: at})
		if err := os.WriteFile(filepath.Join(dir, ResultFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func TestRetentionSweepDeletes(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	old := finishedFolder(t, root, Done, "old", now.Add(-31*24*time.Hour))
	fresh := finishedFolder(t, root, Done, "fresh", now.Add(-time.Hour))
	// No result.json: the folder's modification time decides.
	noRes := finishedFolder(t, root, Done, "no-result", time.Time{})
	if err := os.Chtimes(noRes, now.Add(-40*24*time.Hour), now.Add(-40*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// failed/ has no limit here: kept however old.
	failedOld := finishedFolder(t, root, Failed, "old", now.Add(-365*24*time.Hour))
	// Never touched: inbox/ and processing/, hidden entries (a move in
	// progress), a symlink to a folder outside, loose files.
	inbox := finishedFolder(t, root, Inbox, "old", now.Add(-365*24*time.Hour))
	proc := finishedFolder(t, root, Processing, "old2", now.Add(-365*24*time.Hour))
	moving := finishedFolder(t, root, Done, ".scandrop-move-0123", now.Add(-365*24*time.Hour))
	target := finishedFolder(t, outside, "", "target", now.Add(-365*24*time.Hour))
	link := filepath.Join(root, Done, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	loose := filepath.Join(root, Done, "notes.txt")
	os.WriteFile(loose, []byte("x"), 0o644)
	// A deletion cut short by a crash is finished.
	leftover := finishedFolder(t, root, Done, expiredPrefix+"abcd", now)

	var logs bytes.Buffer
	r := &Retention{Done: 30 * 24 * time.Hour, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return now }}
	r.Sweep(context.Background(), root)

	for _, p := range []string{old, noRes, leftover} {
		if exists(p) {
			t.Errorf("%s: still there", p)
		}
	}
	for _, p := range []string{fresh, failedOld, inbox, proc, moving, link, target, loose, filepath.Join(target, "images", "a.jpg")} {
		if !exists(p) {
			t.Errorf("%s: removed", p)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(root, Done))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), expiredPrefix) {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	for _, want := range []string{`level=INFO msg="retention: removed" folder=done/old age=744h0m0s`, `folder=done/no-result age=960h0m0s`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}

	// The clock moves on: the fresh folder expires too, failed/ when it
	// has a limit.
	now = now.Add(31 * 24 * time.Hour)
	r.Failed = 24 * time.Hour
	r.Sweep(context.Background(), root)
	if exists(fresh) || exists(failedOld) {
		t.Errorf("fresh %v, failed/old %v: want both gone", exists(fresh), exists(failedOld))
	}
	if !exists(inbox) || !exists(proc) || !exists(target) {
		t.Error("something outside done/ and failed/ was removed")
	}
}

func TestRetentionSweepArchives(t *testing.T) {
	root, archive := t.TempDir(), t.TempDir()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	finishedFolder(t, root, Done, "nave", now.Add(-48*time.Hour))
	finishedFolder(t, archive, Done, "nave", now.Add(-1000*time.Hour)) // archived before: a name taken
	failed := finishedFolder(t, root, Failed, "bad", now.Add(-48*time.Hour))

	// An archive that cannot take the folder (its failed/ is a file):
	// said once, kept in place, tried again.
	if err := os.WriteFile(filepath.Join(archive, Failed), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	r := &Retention{Done: 24 * time.Hour, Failed: 24 * time.Hour, Archive: archive, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return now }}
	r.Sweep(context.Background(), root)
	r.Sweep(context.Background(), root)

	if exists(filepath.Join(root, Done, "nave")) {
		t.Error("done/nave not archived")
	}
	if b, err := os.ReadFile(filepath.Join(archive, Done, "nave-2", "images", "a.jpg")); err != nil || string(b) != "jpeg" {
		t.Errorf("archive/done/nave-2: %q %v", b, err)
	}
	if !exists(filepath.Join(archive, Done, "nave", ResultFile)) {
		t.Error("the folder archived before was replaced")
	}
	if !strings.Contains(logs.String(), `msg="retention: archived" folder=done/nave age=48h0m0s to=`+filepath.Join(archive, Done, "nave-2")) {
		t.Errorf("log:\n%s", logs.String())
	}
	if !exists(failed) {
		t.Fatal("failed/bad gone though the archive could not take it")
	}
	if n := strings.Count(logs.String(), "retention: cannot archive the folder"); n != 1 {
		t.Errorf("%d warnings for failed/bad over two passes, want 1:\n%s", n, logs.String())
	}

	os.Remove(filepath.Join(archive, Failed))
	r.Sweep(context.Background(), root)
	if exists(failed) || !exists(filepath.Join(archive, Failed, "bad", ResultFile)) {
		t.Error("failed/bad not archived once the archive could take it")
	}
}
