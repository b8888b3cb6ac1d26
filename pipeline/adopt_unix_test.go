//go:build unix

package pipeline

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func quietPipeline() *Pipeline {
	return New(Options{Logger: slog.New(slog.DiscardHandler)})
}

// A .scandrop that is a symlink is set aside even on a resume (a resume
// that raced the claim): scandrop never writes through it into the
// journal of the job it names.
func TestAdoptSymlinkedStateOnResume(t *testing.T) {
	root := t.TempDir()
	other := mkJob(t, filepath.Join(root, "done"), "finished")
	writeFile(t, filepath.Join(other, StateDir, journalFile), `{"version":1,"stage":"done"}`)
	job := mkJob(t, filepath.Join(root, Processing), "job")
	if err := os.Symlink(filepath.Join(other, StateDir), filepath.Join(job, StateDir)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := quietPipeline().Handle(context.Background(), job, false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(other, StateDir, journalFile)); string(b) != `{"version":1,"stage":"done"}` {
		t.Errorf("the other job's journal changed: %s", b)
	}
	if e := entries(t, filepath.Join(other, StateDir)); len(e) != 1 {
		t.Errorf("the other job's state folder holds %v", e)
	}
	kept, _ := filepath.Glob(filepath.Join(root, Failed, "job", StateDir+"-arrived-*"))
	if len(kept) != 1 {
		t.Fatalf("the symlink was not kept aside: %v", kept)
	}
	if fi, err := os.Lstat(kept[0]); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("what was kept aside is not the symlink: %v %v", fi, err)
	}
}

// A journal keeps its job only in the folder it was written in: moved
// (renamed) it is kept, copied it is set aside.
func TestAdoptKeepsOnlyItsOwnFolder(t *testing.T) {
	root := t.TempDir()
	p := quietPipeline()
	a := mkJob(t, root, "a")
	if _, err := p.Process(context.Background(), a, true); err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(root, "moved")
	if err := os.Rename(a, moved); err != nil {
		t.Fatal(err)
	}
	if _, err := p.adopt(moved, true); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(moved, ".scandrop-arrived-*")); len(m) != 0 {
		t.Fatalf("the folder's own journal, moved, was set aside: %v", m)
	}
	copied := mkJob(t, root, "copied")
	b, _ := os.ReadFile(filepath.Join(moved, StateDir, journalFile))
	writeFile(t, filepath.Join(copied, StateDir, journalFile), string(b))
	r, _ := os.ReadFile(filepath.Join(moved, ResultFile))
	writeFile(t, filepath.Join(copied, ResultFile), string(r))
	if _, err := p.adopt(copied, true); err != nil {
		t.Fatal(err)
	}
	for _, pat := range []string{StateDir + "-arrived-*", "result.arrived-*.json"} {
		if m, _ := filepath.Glob(filepath.Join(copied, pat)); len(m) != 1 {
			t.Errorf("%s: %v, want the copied state kept aside", pat, m)
		}
	}
	if _, err := os.Lstat(filepath.Join(copied, StateDir)); !os.IsNotExist(err) {
		t.Errorf("the copied journal is still in use: %v", err)
	}
}
