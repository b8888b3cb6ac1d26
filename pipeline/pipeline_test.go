package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors"
)

func mkJob(t *testing.T, parent, name string) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	if err := os.MkdirAll(filepath.Join(dir, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"version":"1.0"}`), 0o644)
	os.WriteFile(filepath.Join(dir, "images", "a.jpg"), make([]byte, 100_000), 0o644)
	return dir
}

func TestMoveFolderNeverOverwrites(t *testing.T) {
	root := t.TempDir()
	done := filepath.Join(root, "done")
	for i, want := range []string{"job", "job-2", "job-3"} {
		src := mkJob(t, filepath.Join(root, "processing"), "job")
		os.WriteFile(filepath.Join(src, "n"), []byte{byte(i)}, 0o644)
		got, err := MoveFolder(src, done)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(got) != want {
			t.Fatalf("move %d went to %s, want %s", i, got, want)
		}
		b, _ := os.ReadFile(filepath.Join(got, "n"))
		if len(b) != 1 || b[0] != byte(i) {
			t.Fatalf("%s holds the wrong job", got)
		}
	}
	// An empty folder of the same name is taken too: rename would replace it.
	os.MkdirAll(filepath.Join(done, "empty"), 0o755)
	got, err := MoveFolder(mkJob(t, filepath.Join(root, "processing"), "empty"), done)
	if err != nil || filepath.Base(got) != "empty-2" {
		t.Fatalf("got %s, %v", got, err)
	}
}

func TestJournalRoundTrip(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	type parts struct{ N []int }
	if err := j.Store("v.parts", parts{N: []int{1, 2}}); err != nil {
		t.Fatal(err)
	}
	if err := j.Update(func(r *Record) { r.IDs = vendors.IDs{"task_code": "T1"}; r.Submit = "created" }); err != nil {
		t.Fatal(err)
	}
	j2, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	var p parts
	if ok, err := j2.Load("v.parts", &p); !ok || err != nil || len(p.N) != 2 {
		t.Fatalf("load: %v %v %v", ok, err, p)
	}
	if r := j2.Record(); r.IDs["task_code"] != "T1" || r.Submit != "created" {
		t.Fatalf("record: %+v", r)
	}
	// No temporary files are left beside the journal.
	ents, _ := os.ReadDir(filepath.Join(dir, StateDir))
	if len(ents) != 1 {
		t.Fatalf("%s holds %d entries, want only %s", StateDir, len(ents), journalFile)
	}
}

func TestOrphansAndOwnership(t *testing.T) {
	root := t.TempDir()
	clock := &fixedClock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	p := New(Options{Clock: clock})
	proc := filepath.Join(root, Processing)
	unowned := mkJob(t, proc, "unowned")
	live := mkJob(t, proc, "live-elsewhere")
	stale := mkJob(t, proc, "stale-elsewhere")
	dead := mkJob(t, proc, "dead-here")
	writeOwner := func(dir string, o owner) {
		os.MkdirAll(filepath.Join(dir, StateDir), 0o755)
		b, _ := json.Marshal(o)
		os.WriteFile(filepath.Join(dir, StateDir, ownerFile), b, 0o644)
	}
	self := me()
	writeOwner(live, owner{Host: "other-host", PID: 1, Heartbeat: clock.t.Add(-10 * time.Second)})
	writeOwner(stale, owner{Host: "other-host", PID: 1, Heartbeat: clock.t.Add(-10 * time.Minute)})
	writeOwner(dead, owner{Host: self.Host, PID: 1 << 22, Heartbeat: clock.t}) // no such pid
	got, err := p.Orphans(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{dead, stale, unowned}
	if len(got) != len(want) {
		t.Fatalf("orphans %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("orphans %v, want %v", got, want)
		}
	}
	if err := p.own(live); err != ErrOwned {
		t.Fatalf("own(live job of another host) = %v, want ErrOwned", err)
	}
	if err := p.own(stale); err != nil {
		t.Fatalf("own(stale) = %v", err)
	}
	// Now ours: not an orphan any more.
	got, _ = p.Orphans(root)
	for _, d := range got {
		if d == stale {
			t.Fatal("a job this process owns is listed as an orphan")
		}
	}
}

type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time                         { return c.t }
func (c *fixedClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
