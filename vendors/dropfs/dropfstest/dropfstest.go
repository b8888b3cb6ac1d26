//go:build unix

// Package dropfstest changes a drop's file in each of the ways a file can
// change under scandrop after it was checked, for tests of dropfs.Stamp's
// users (both vendors and the daemon).
package dropfstest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Change is one way of changing a file that was checked.
type Change struct {
	Name string
	// Want is a word the error must say about how the file changed.
	Want string
	// Apply changes path; outside is a folder outside the drop it may use.
	Apply func(t testing.TB, path, outside string)
}

// Changes are the ways: rewritten in place with its size and modification
// time put back (only the change time tells), replaced by a hard link to a
// file outside the drop of the same size and time, deleted, replaced by a
// symlink, replaced by a folder.
var Changes = []Change{
	{"in_place", "ctime", func(t testing.TB, path, _ string) {
		fi := stat(t, path)
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Same size; not a JPEG any more.
		if _, err := f.WriteAt(notJPEG(fi.Size()), 0); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := os.Chtimes(path, time.Now(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
	}},
	{"hard_link_outside", "inode", func(t testing.TB, path, outside string) {
		fi := stat(t, path)
		other := filepath.Join(outside, "secret-"+filepath.Base(path))
		if err := os.WriteFile(other, notJPEG(fi.Size()), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(other, time.Now(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
		tmp := path + ".swap"
		if err := os.Link(other, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}},
	{"deleted", "gone", func(t testing.TB, path, _ string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}},
	{"symlink", "symlink", func(t testing.TB, path, outside string) {
		other := filepath.Join(outside, "target-"+filepath.Base(path))
		copyFile(t, path, other)
		tmp := path + ".swap"
		if err := os.Symlink(other, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}},
	{"dir", "directory", func(t testing.TB, path, _ string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
	}},
}

func stat(t testing.TB, path string) os.FileInfo {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func copyFile(t testing.TB, src, dst string) {
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// notJPEG is n bytes that are not a JPEG.
func notJPEG(n int64) []byte {
	return bytes.Repeat([]byte("SECRET-NOT-A-JPEG "), int(n)/18+1)[:n]
}
