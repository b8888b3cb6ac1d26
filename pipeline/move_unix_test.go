//go:build unix

package pipeline

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A move to another file system (done/ on another volume) copies, syncs,
// checks and then deletes. /dev/shm is a tmpfs on Linux: a real EXDEV.
func TestMoveFolderAcrossDevices(t *testing.T) {
	other, err := os.MkdirTemp("/dev/shm", "scandrop-move-")
	if err != nil {
		t.Skip("no /dev/shm here")
	}
	defer os.RemoveAll(other)
	src := mkJob(t, t.TempDir(), "job")
	var a, b syscall.Stat_t
	syscall.Stat(src, &a)
	syscall.Stat(other, &b)
	if a.Dev == b.Dev {
		t.Skip("/dev/shm is on the same device as the temp folder")
	}
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
	if _, err := os.Stat(got + ".part"); !os.IsNotExist(err) {
		t.Fatal("temporary .part folder left behind")
	}
}
