//go:build unix

package dropfs

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func owner(t *testing.T, p string) (uint32, uint32, fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid, fi.Mode().Perm()
}

// AdoptTree gives what this process made the drop's owner and the umask's
// mode, and leaves what belongs to anyone else as it is.
func TestAdoptTree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: gives files to another user")
	}
	drop := t.TempDir()
	os.Chown(drop, 1234, 1235)
	ours := filepath.Join(drop, "sub", "ours.bin")
	os.MkdirAll(filepath.Dir(ours), 0o700)
	os.WriteFile(ours, []byte("x"), 0o600)
	theirs := filepath.Join(drop, "sub", "theirs.jpg")
	os.WriteFile(theirs, []byte("y"), 0o604)
	os.Chown(theirs, 4321, 4321)
	os.Symlink("ours.bin", filepath.Join(drop, "sub", "link"))

	if err := AdoptTree(drop, drop); err != nil {
		t.Fatal(err)
	}
	um := umask()
	for p, want := range map[string]fs.FileMode{ours: 0o666 &^ um, filepath.Dir(ours): 0o777 &^ um} {
		if u, g, m := owner(t, p); u != 1234 || g != 1235 || m != want {
			t.Errorf("%s: %d:%d %s, want 1234:1235 %s", p, u, g, m, want)
		}
	}
	if u, g, m := owner(t, theirs); u != 4321 || g != 4321 || m != 0o604 {
		t.Errorf("the operator's file changed: %d:%d %s", u, g, m)
	}
	if u, _, _ := owner(t, filepath.Join(drop, "sub", "link")); u != 1234 {
		t.Errorf("link owner %d", u)
	}
	// Adopt applies to what it is told, whoever owns it; AdoptOurs does not.
	if err := AdoptOurs(drop, theirs); err != nil {
		t.Fatal(err)
	}
	if u, _, _ := owner(t, theirs); u != 4321 {
		t.Error("AdoptOurs took the operator's file")
	}
	if err := Adopt(drop, theirs); err != nil {
		t.Fatal(err)
	}
	if u, g, m := owner(t, theirs); u != 1234 || g != 1235 || m != 0o666&^um {
		t.Errorf("Adopt: %d:%d %s", u, g, m)
	}
}
