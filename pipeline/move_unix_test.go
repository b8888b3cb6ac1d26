//go:build unix

package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// otherVolume returns a folder on another file system than t.TempDir(): a
// real EXDEV for renames between them. /dev/shm (a tmpfs) if it is on
// another device, else a tmpfs mounted for the test (as root).
func otherVolume(t *testing.T) string {
	t.Helper()
	local := t.TempDir()
	if dir, err := os.MkdirTemp("/dev/shm", "scandrop-move-test-"); err == nil {
		if devOf(t, dir) != devOf(t, local) {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
		os.RemoveAll(dir)
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "scandrop-test", mnt).CombinedOutput(); err != nil {
		t.Skipf("no second volume: /dev/shm is missing or on the temp folder's device, and mount -t tmpfs failed (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	return mnt
}

func devOf(t *testing.T, p string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return uint64(st.Dev)
}

// A move to another file system (done/ on another volume) copies, syncs,
// checks and then deletes.
func TestMoveFolderAcrossDevices(t *testing.T) {
	other := otherVolume(t)
	src := mkJob(t, t.TempDir(), "job")
	got, err := MoveFolder(src, filepath.Join(other, "done"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Fatalf("source still there after a cross-device move: %v", err)
	}
	fi, err := os.Stat(filepath.Join(got, "images", "a.jpg"))
	if err != nil || fi.Size() != 100_000 {
		t.Fatalf("copied file: %v %v", fi, err)
	}
	if left := entries(t, filepath.Join(other, "done")); !slices.Equal(left, []string{"job"}) {
		t.Fatalf("done/ holds %v, want only [job]", left)
	}
	if _, err := os.Lstat(filepath.Join(got, StateDir, movedByFile)); !os.IsNotExist(err) {
		t.Fatalf("the move's marker stayed in the copy: %v", err)
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// treeEntry is what a move must keep of each entry.
type treeEntry struct {
	mode  fs.FileMode
	mtime time.Time
	data  string // file content or link target
	ino   uint64 // to tell hard links apart
}

func snapshot(t *testing.T, dir string) map[string]treeEntry {
	t.Helper()
	out := map[string]treeEntry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := treeEntry{mode: fi.Mode(), mtime: fi.ModTime(), ino: fi.Sys().(*syscall.Stat_t).Ino}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			e.data, _ = os.Readlink(p)
			e.mtime = time.Time{} // symlink times are not kept
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			e.data = string(b)
		}
		if rel == "." {
			e.mtime = time.Time{} // the folder itself is new
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// hostileTree is a drop with everything a regular drop may hold: modes,
// old mtimes, nested folders, relative, absolute and dangling symlinks (one
// to a folder outside, which must not be followed) and hard links.
func hostileTree(t *testing.T, parent, name string) string {
	t.Helper()
	src := mkJob(t, parent, name)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("outside the drop"), 0o600)
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "deep", "er"), 0o755))
	must(os.WriteFile(filepath.Join(src, "deep", "er", "run.sh"), []byte("#!/bin/sh\n"), 0o755))
	must(os.WriteFile(filepath.Join(src, "private.txt"), []byte("mine"), 0o600))
	must(os.Chtimes(filepath.Join(src, "private.txt"), old, old))
	must(os.Symlink("images/a.jpg", filepath.Join(src, "rel-link")))
	must(os.Symlink(filepath.Join(outside, "secret"), filepath.Join(src, "abs-link")))
	must(os.Symlink(outside, filepath.Join(src, "dir-link")))
	must(os.Symlink("nowhere/at/all", filepath.Join(src, "dangling")))
	must(os.Link(filepath.Join(src, "private.txt"), filepath.Join(src, "deep", "hard-link.txt")))
	must(os.Chmod(filepath.Join(src, "deep", "er"), 0o750))
	must(os.Chtimes(filepath.Join(src, "deep"), old, old))
	return src
}

// Symlinks stay links (never followed), hard links stay linked, modes and
// mtimes are kept: the copy is the drop, byte for byte.
func TestMoveFolderAcrossDevicesKeepsEverything(t *testing.T) {
	other := otherVolume(t)
	src := hostileTree(t, t.TempDir(), "job")
	want := snapshot(t, src)
	got, err := MoveFolder(src, filepath.Join(other, "done"))
	if err != nil {
		t.Fatal(err)
	}
	have := snapshot(t, got)
	for rel, w := range want {
		h, ok := have[rel]
		switch {
		case !ok:
			t.Errorf("%s: missing after the move", rel)
		case h.mode != w.mode:
			t.Errorf("%s: mode %v, want %v", rel, h.mode, w.mode)
		case h.data != w.data:
			t.Errorf("%s: content or link target %q, want %q", rel, h.data, w.data)
		case !h.mtime.Equal(w.mtime):
			t.Errorf("%s: mtime %v, want %v", rel, h.mtime, w.mtime)
		}
	}
	for rel := range have {
		if _, ok := want[rel]; !ok {
			t.Errorf("%s: appeared in the copy", rel)
		}
	}
	if have["private.txt"].ino != have[filepath.Join("deep", "hard-link.txt")].ino {
		t.Error("the hard links became two files")
	}
	if _, err := os.Stat(filepath.Join(got, "dir-link", "secret")); err != nil {
		t.Errorf("dir-link does not point where it did: %v", err)
	}
}

// specials adds to dir one special file of each kind, by name.
func specials(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := syscall.Mkfifo(filepath.Join(dir, "images", "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	out["images/pipe"] = "named pipe"
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	out["sock"] = "socket"
	if err := syscall.Mknod(filepath.Join(dir, "null"), syscall.S_IFCHR|0o666, int(mkdev(1, 3))); err == nil {
		out["null"] = "character device"
	} else {
		t.Logf("no device node (mknod needs root): %v", err)
	}
	return out
}

func mkdev(major, minor uint32) uint64 {
	return uint64(major)<<8 | uint64(minor)
}

// A folder with a FIFO, a socket or a device is refused before anything
// is copied, naming each; the source is untouched and done/ is as it was.
func TestMoveFolderAcrossDevicesRefusesSpecialFiles(t *testing.T) {
	other := otherVolume(t)
	src := hostileTree(t, t.TempDir(), "job")
	names := specials(t, src)
	want := snapshot(t, src)
	done := filepath.Join(other, "done")
	_, err := MoveFolder(src, done)
	var ue *UnmovableError
	if !errors.As(err, &ue) {
		t.Fatalf("got %v, want an UnmovableError", err)
	}
	for rel, what := range names {
		if !strings.Contains(err.Error(), rel+" (") || !strings.Contains(err.Error(), what) {
			t.Errorf("the error does not name %s as a %s: %v", rel, what, err)
		}
	}
	if have := snapshot(t, src); fmt.Sprint(have) != fmt.Sprint(want) {
		t.Errorf("the source changed:\n%v\nwant\n%v", have, want)
	}
	if e := entries(t, done); len(e) != 0 {
		t.Errorf("done/ holds %v after a refused move", e)
	}
}

// The move's temporary folder is its own: folders users made that look
// like one (name.part, .scandrop-move-*) and an empty folder under the
// job's name are never touched.
func TestMoveFolderLeavesUserFoldersAlone(t *testing.T) {
	for _, cross := range []bool{false, true} {
		t.Run(fmt.Sprint("cross=", cross), func(t *testing.T) {
			base := t.TempDir()
			if cross {
				base = otherVolume(t)
			}
			done := filepath.Join(base, "done")
			users := []string{"job.part", ".scandrop-move-0123456789abcdef0123456789abcdef", ".scandrop-move-x"}
			for _, u := range users {
				writeFile(t, filepath.Join(done, u, "keep.txt"), "user data")
			}
			os.MkdirAll(filepath.Join(done, "job"), 0o755) // empty: rename(2) would replace it
			src := mkJob(t, t.TempDir(), "job")
			got, err := MoveFolder(src, done)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(got) != "job-2" {
				t.Errorf("moved to %s, want job-2 (job is taken, even empty)", got)
			}
			for _, u := range users {
				if b, err := os.ReadFile(filepath.Join(done, u, "keep.txt")); err != nil || string(b) != "user data" {
					t.Errorf("the user's %s was touched: %q %v", u, b, err)
				}
			}
			if e := entries(t, filepath.Join(done, "job")); len(e) != 0 {
				t.Errorf("the user's empty job/ now holds %v", e)
			}
		})
	}
}

func writeFile(t *testing.T, name, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A crash in the middle of the copy leaves the source whole and the
// partial copy under the move's own temporary name; the next move removes
// exactly that and finishes.
func TestMoveFolderAfterCrashMidCopy(t *testing.T) {
	other := otherVolume(t)
	done := filepath.Join(other, "done")
	src := hostileTree(t, t.TempDir(), "job")
	want := snapshot(t, src)
	lookalike := filepath.Join(done, ".scandrop-move-ffffffffffffffffffffffffffffffff")
	writeFile(t, filepath.Join(lookalike, "keep.txt"), "user data")

	// The "crash": the copy stops after its first file.
	errCrash := errors.New("crash")
	func() {
		defer func() {
			if r := recover(); r != errCrash {
				panic(r)
			}
		}()
		moveFolder(src, done, func(p string) {
			if p == "move:file" {
				panic(errCrash)
			}
		})
	}()
	var partial []string
	for _, e := range entries(t, done) {
		if strings.HasPrefix(e, movePrefix) && filepath.Join(done, e) != lookalike {
			partial = append(partial, e)
		}
	}
	if len(partial) != 1 {
		t.Fatalf("after the crash done/ holds %v; want one temporary folder of the move", entries(t, done))
	}
	have := snapshot(t, src)
	for rel, w := range want {
		if h, ok := have[rel]; !ok || fmt.Sprint(h) != fmt.Sprint(w) {
			t.Fatalf("%s changed in the source in the crash", rel)
		}
	}

	got, err := MoveFolder(src, done)
	if err != nil {
		t.Fatal(err)
	}
	if e := entries(t, done); !slices.Equal(e, []string{filepath.Base(lookalike), "job"}) {
		t.Errorf("done/ holds %v; want the user's lookalike and job", e)
	}
	if b, _ := os.ReadFile(filepath.Join(lookalike, "keep.txt")); string(b) != "user data" {
		t.Error("the user's lookalike folder was touched")
	}
	have = snapshot(t, got)
	for rel, w := range want {
		if h := have[rel]; h.data != w.data || h.mode != w.mode {
			t.Errorf("%s: not intact after the resumed move", rel)
		}
	}
}

// A crash after the copy took its name but before the source was removed:
// the next move finishes (removes the source) instead of copying again.
func TestMoveFolderAfterCrashBeforeRemovingSource(t *testing.T) {
	other := otherVolume(t)
	done := filepath.Join(other, "done")
	src := mkJob(t, t.TempDir(), "job")
	// Simulate: copy done and named, source not yet removed.
	errCrash := errors.New("crash")
	func() {
		defer func() {
			if r := recover(); r != errCrash {
				panic(r)
			}
		}()
		moveFolder(src, done, func(p string) {
			if p == "move:copied" {
				// let the rename happen, then "crash" before the removal
				dst, err := renameFree(onlyTemp(t, done), done, "job")
				if err != nil {
					t.Fatal(err)
				}
				_ = dst
				panic(errCrash)
			}
		})
	}()
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("the source should still be there: %v", err)
	}
	got, err := MoveFolder(src, done)
	if err != nil {
		t.Fatal(err)
	}
	if e := entries(t, done); !slices.Equal(e, []string{"job"}) || filepath.Base(got) != "job" {
		t.Errorf("done/ holds %v (moved to %s); want only job, not a second copy", e, got)
	}
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Errorf("the source is still there: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(got, "images", "a.jpg")); err != nil || !bytes.Equal(b, make([]byte, 100_000)) {
		t.Errorf("the copy is not intact: %v", err)
	}
}

func onlyTemp(t *testing.T, dir string) string {
	t.Helper()
	for _, e := range entries(t, dir) {
		if strings.HasPrefix(e, movePrefix) {
			return filepath.Join(dir, e)
		}
	}
	t.Fatal("no temporary folder")
	return ""
}
