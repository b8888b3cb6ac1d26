package watcher

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkRescan10k measures one full rescan of an inbox holding 10,000
// folders without a marker (the steady state of a busy share).
func BenchmarkRescan10k(b *testing.B) {
	dir := b.TempDir()
	for _, sub := range []string{InboxDir, ProcessingDir, DoneDir, FailedDir} {
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
	}
	for i := 0; i < 10000; i++ {
		p := filepath.Join(dir, InboxDir, fmt.Sprintf("folder-%05d", i))
		os.MkdirAll(p, 0o755)
		os.WriteFile(filepath.Join(p, "photo.jpg"), []byte("x"), 0o644)
		old := time.Now().Add(-time.Hour)
		os.Chtimes(p, old, old)
	}
	w, err := New(Options{Dir: dir, Mode: ModePoll, PollInterval: time.Hour, Settle: time.Second, Markers: []string{"manifest.json"}})
	if err != nil {
		b.Fatal(err)
	}
	r := &runner{slots: NewSlots(1), handle: func(string) {}}
	ctx := context.Background()
	w.scan(ctx, r, true) // first sight
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := w.scan(ctx, r, true); err != nil {
			b.Fatal(err)
		}
	}
}

// A folder without a marker is not read again while its mtime stays put;
// a marker arriving moves the mtime on and is seen at the next rescan, and
// even one hidden by a file system's coarse timestamps is seen within
// dirModRecheck rescans.
func TestRescanSkipsUnchangedFolders(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{InboxDir, ProcessingDir, DoneDir, FailedDir} {
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
	}
	old := time.Now().Add(-time.Hour)
	mk := func(name string) string {
		p := filepath.Join(dir, InboxDir, name)
		os.MkdirAll(p, 0o755)
		os.WriteFile(filepath.Join(p, "photo.jpg"), []byte("x"), 0o644)
		os.Chtimes(p, old, old)
		return p
	}
	plain, hidden := mk("plain"), mk("hidden")
	w, err := New(Options{Dir: dir, Mode: ModePoll, PollInterval: time.Hour, Settle: time.Hour, Markers: []string{"manifest.json"}})
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{slots: NewSlots(1), handle: func(string) {}}
	ctx := context.Background()
	w.scan(ctx, r, true)
	if w.folders["plain"].dirMod.IsZero() {
		t.Fatal("an old folder's mtime was not kept")
	}

	os.WriteFile(filepath.Join(plain, "manifest.json"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(hidden, "manifest.json"), []byte("{}"), 0o644)
	os.Chtimes(hidden, old, old) // as if the change fell in the same timestamp tick
	w.scan(ctx, r, true)
	if !w.folders["plain"].marker {
		t.Fatal("a marker that moved the folder's mtime was not seen at the next rescan")
	}
	for i := 0; i < dirModRecheck && !w.folders["hidden"].marker; i++ {
		w.scan(ctx, r, true)
	}
	if !w.folders["hidden"].marker {
		t.Fatalf("a marker behind an unchanged mtime was not seen within %d rescans", dirModRecheck)
	}
}
