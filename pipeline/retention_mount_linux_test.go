package pipeline

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs at dir (made if needed) for the test.
func mountTmpfs(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root, or CAP_SYS_ADMIN): %v", err)
	}
	// Unmount wherever it went (a failing remover may have renamed or
	// archived the folder above it): every mount under the test's
	// temporary folders.
	tmp := filepath.Dir(t.TempDir())
	t.Cleanup(func() {
		b, _ := os.ReadFile("/proc/self/mounts")
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], tmp) {
				syscall.Unmount(f[1], syscall.MNT_DETACH)
			}
		}
	})
}

// Retention never deletes (nor archives, copying then deleting) a file
// system mounted inside an expired folder: the folder is left under its
// name with a WARN, and "removed" is logged only for folders really gone.
// A deletion cut short that has a mount inside is finished around it.
func TestRetentionLeavesMountsAlone(t *testing.T) {
	for _, archive := range []bool{false, true} {
		root := filepath.Join(t.TempDir(), "w")
		now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		old := now.Add(-31 * 24 * time.Hour)
		mounted := finishedFolder(t, root, Done, "mounted", old)
		plain := finishedFolder(t, root, Done, "plain", old)
		leftover := finishedFolder(t, root, Done, expiredPrefix+"abcd", now)
		for _, d := range []string{filepath.Join(mounted, "sub"), filepath.Join(leftover, "deep", "sub")} {
			mountTmpfs(t, d)
			if err := os.WriteFile(filepath.Join(d, "precious.txt"), []byte("not the job's"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var logs bytes.Buffer
		r := &Retention{Done: 30 * 24 * time.Hour, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return now }}
		if archive {
			r.Archive = t.TempDir()
		}
		r.Sweep(context.Background(), root)

		for _, p := range []string{filepath.Join(mounted, "sub", "precious.txt"), filepath.Join(leftover, "deep", "sub", "precious.txt"), filepath.Join(mounted, ResultFile)} {
			if !exists(p) {
				t.Errorf("archive %v: %s was removed", archive, p)
			}
		}
		if exists(plain) || exists(filepath.Join(leftover, "images")) {
			t.Errorf("archive %v: the rest was not removed", archive)
		}
		log := logs.String()
		if !strings.Contains(log, "level=WARN") || !strings.Contains(log, "another file system is mounted inside at "+filepath.Join(mounted, "sub")) {
			t.Errorf("archive %v: no WARN naming the mount:\n%s", archive, log)
		}
		if strings.Contains(log, "folder=done/mounted age") || strings.Contains(log, "archived folder=done/mounted") {
			t.Errorf("archive %v: the folder with a mount was logged as removed or archived:\n%s", archive, log)
		}
	}
}

// Archiving to another volume keeps the folder's modification time: the
// move record written into the source first does not show in the copy.
func TestRetentionArchiveKeepsMtime(t *testing.T) {
	root := filepath.Join(t.TempDir(), "w")
	archive := filepath.Join(t.TempDir(), "archive")
	mountTmpfs(t, archive) // another device: the archive is a copy
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	aged := now.Add(-40 * 24 * time.Hour)
	for _, name := range []string{"with-result", "no-result"} {
		var at time.Time
		if name == "with-result" {
			at = now.Add(-31 * 24 * time.Hour)
		}
		dir := finishedFolder(t, root, Done, name, at)
		if err := os.Chtimes(dir, aged, aged); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	r := &Retention{Done: 30 * 24 * time.Hour, Archive: archive, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return now }}
	r.Sweep(context.Background(), root)
	for _, name := range []string{"with-result", "no-result"} {
		fi, err := os.Lstat(filepath.Join(archive, Done, name))
		if err != nil {
			t.Fatalf("%s not archived: %v\n%s", name, err, logs.String())
		}
		if !fi.ModTime().Equal(aged) {
			t.Errorf("%s: archived copy's mtime %s, want the folder's %s", name, fi.ModTime(), aged)
		}
		if exists(filepath.Join(archive, Done, name, StateDir)) {
			t.Errorf("%s: the move's %s/ came along", name, StateDir)
		}
	}
}
