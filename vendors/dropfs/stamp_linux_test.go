package dropfs_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/dropfs"
	"github.com/scandrop/scandrop/vendors/dropfs/dropfstest"
)

// stampedDrop makes a drop with images/a.jpg and returns the drop, a folder
// outside it and the file's stamp as validation takes it.
func stampedDrop(t *testing.T) (dir, outside string, st dropfs.Stamp) {
	t.Helper()
	root := t.TempDir()
	dir, outside = filepath.Join(root, "drop"), filepath.Join(root, "outside")
	for _, d := range []string{filepath.Join(dir, "images"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "images", "a.jpg"), []byte("\xff\xd8 a jpeg, as far as this test cares \xff\xd9"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, fi, err := dropfs.Open(dir, "images/a.jpg")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return dir, outside, dropfs.StampOf(fi)
}

// checkChanged asserts err is the Changed error for images/a.jpg saying want.
func checkChanged(t *testing.T, err error, want string) {
	t.Helper()
	var ps vendors.Problems
	if vendors.KindOf(err) != vendors.Invalid || !errors.As(err, &ps) || len(ps) != 1 || ps[0].File != "images/a.jpg" {
		t.Fatalf("got %v (kind %v), want an invalid error naming images/a.jpg", err, vendors.KindOf(err))
	}
	msg := ps[0].Message
	if !strings.Contains(msg, "changed after it was checked") || !strings.Contains(msg, want) || !strings.Contains(msg, "copy the drop in again") {
		t.Errorf("message %q: want how it changed (%q) and the fix", msg, want)
	}
	if !dropfs.IsChanged(err) {
		t.Error("IsChanged is false")
	}
}

func TestStampUnchanged(t *testing.T) {
	dir, _, st := stampedDrop(t)
	if st.CTime == 0 || st.Ino == 0 || st.Nlink != 1 {
		t.Fatalf("stamp %+v: want ctime, inode and link count on Linux", st)
	}
	// Reading a file, and renaming the folder it is in (inbox/ to
	// processing/ on the same volume), leave its change time alone: a
	// restart checks the journalled stamps of a folder that moved.
	f, err := dropfs.OpenStamped("op", dir, "images/a.jpg", st)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	f.Read(buf)
	if err := dropfs.CheckOpen("op", dir, "images/a.jpg", f, st); err != nil {
		t.Fatal(err)
	}
	f.Close()
	moved := filepath.Join(filepath.Dir(dir), "processing", "drop")
	os.MkdirAll(filepath.Dir(moved), 0o755)
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	if err := dropfs.Verify("op", moved, "images/a.jpg", st); err != nil {
		t.Fatalf("after renaming the drop folder: %v", err)
	}
	if f, err := dropfs.OpenStamped("op", moved, "images/a.jpg", st); err != nil {
		t.Fatalf("after renaming the drop folder: %v", err)
	} else {
		f.Close()
	}
}

// TestStampChanged: each way of changing a checked file is caught by path
// (Verify, OpenStamped) and, for a file already open, by fstat (CheckOpen).
func TestStampChanged(t *testing.T) {
	for _, c := range dropfstest.Changes {
		t.Run(c.Name, func(t *testing.T) {
			dir, outside, st := stampedDrop(t)
			open, err := dropfs.OpenStamped("op", dir, "images/a.jpg", st)
			if err != nil {
				t.Fatal(err)
			}
			defer open.Close()
			c.Apply(t, filepath.Join(dir, "images", "a.jpg"), outside)

			checkChanged(t, dropfs.Verify("op", dir, "images/a.jpg", st), c.Want)
			f, err := dropfs.OpenStamped("op", dir, "images/a.jpg", st)
			if f != nil {
				f.Close()
			}
			checkChanged(t, err, c.Want)
			// The file open before the change: fstat finds it rewritten, or
			// without a link left, and the error says what the path holds now.
			want := c.Want
			checkChanged(t, dropfs.CheckOpen("op", dir, "images/a.jpg", open, st), want)
		})
	}
}

// A stamp from a journal that predates some fields compares only those it has.
func TestStampZeroFieldsNotCompared(t *testing.T) {
	dir, _, st := stampedDrop(t)
	old := dropfs.Stamp{Size: st.Size, MTime: st.MTime}
	if err := dropfs.Verify("op", dir, "images/a.jpg", old); err != nil {
		t.Fatal(err)
	}
	old.Size++
	checkChanged(t, dropfs.Verify("op", dir, "images/a.jpg", old), "size differs")
}
