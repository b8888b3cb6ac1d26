//go:build linux

package aholo

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/testmedia"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/dropfs/dropfstest"
	"github.com/scandrop/scandrop/vendors/vendortest"
)

// TestUploadRefusesChangedFiles: a resource changed after Open validated
// it — rewritten in place with its mtime restored, replaced by a hard link
// to a file outside the drop, deleted, replaced by a symlink or a folder —
// fails as invalid naming it: between Package and Upload, while the next
// file uploads (its own bytes already sent), and for a file sent in blocks.
func TestUploadRefusesChangedFiles(t *testing.T) {
	const name = "001.jpg"
	for _, when := range []string{"before_upload", "after_it_was_sent", "blocks_after_it_was_sent"} {
		for _, c := range dropfstest.Changes {
			t.Run(when+"/"+c.Name, func(t *testing.T) {
				var (
					once   sync.Once
					change func()
					calls  int
					mu     sync.Mutex
				)
				opts := aholotest.Options{Hook: func(r *http.Request) {
					// The first call of the second file's upload.
					if r.URL.Path != ousSingle && r.URL.Path != ousBlockInit {
						return
					}
					mu.Lock()
					calls++
					n := calls
					mu.Unlock()
					if n == 2 && when != "before_upload" {
						once.Do(change)
					}
				}}
				if when == "blocks_after_it_was_sent" {
					opts.BlockSize = 4 << 10
				}
				srv := newServer(t, opts)
				dir := writeFiles(t, map[string][]byte{Marker: nil,
					name: testmedia.JPEG(320, 240, 1), "002.jpg": testmedia.JPEG(320, 240, 2)})
				outside := t.TempDir()
				change = func() { c.Apply(t, filepath.Join(dir, name), outside) }
				ctx := context.Background()
				job, err := newVendor(srv, func(c *Config) { c.UploadConcurrency = 1 }).Open(ctx, dir)
				if err != nil {
					t.Fatal(err)
				}
				jr := vendortest.NewMemJournal()
				if err := job.Package(ctx, jr); err != nil {
					t.Fatal(err)
				}
				if when == "before_upload" {
					change()
				}
				start := time.Now()
				err = job.Upload(ctx, jr, nil)
				checkChangedErr(t, err, name, c.Want)
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("took %v: a changed file is not a reason to retry", d)
				}
				if n := srv.Creates(); n != 0 {
					t.Errorf("%d projects created", n)
				}
				if when == "blocks_after_it_was_sent" && srv.Calls(ousBlockInit) == 0 {
					t.Error("no block upload: the files fit one block")
				}
			})
		}
	}
}

// TestPackageRefusesFileChangedSinceOpen: the MD5 is only computed of the
// file Open validated.
func TestPackageRefusesFileChangedSinceOpen(t *testing.T) {
	for _, c := range dropfstest.Changes {
		t.Run(c.Name, func(t *testing.T) {
			srv := newServer(t, aholotest.Options{})
			dir := writeFiles(t, map[string][]byte{Marker: nil, "001.jpg": testmedia.JPEG(320, 240, 1)})
			ctx := context.Background()
			job, err := newVendor(srv).Open(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			c.Apply(t, filepath.Join(dir, "001.jpg"), t.TempDir())
			checkChangedErr(t, job.Package(ctx, vendortest.NewMemJournal()), "001.jpg", c.Want)
		})
	}
}

func checkChangedErr(t *testing.T, err error, name, want string) {
	t.Helper()
	var ps vendors.Problems
	if vendors.KindOf(err) != vendors.Invalid || !errors.As(err, &ps) || len(ps) != 1 || ps[0].File != name {
		t.Fatalf("got %v (kind %v); want invalid naming %s", err, vendors.KindOf(err), name)
	}
	if m := ps[0].Message; !strings.Contains(m, "changed after it was checked") || !strings.Contains(m, want) || !strings.Contains(m, "copy the drop in again") {
		t.Errorf("problem %q: want how it changed (%s) and the fix", m, want)
	}
}

// TestUploadResumesUnchangedAfterRestart: after a restart, with the folder
// renamed (into processing/), the journalled package still matches the
// files: nothing is read or sent again, and the project is created.
func TestUploadResumesUnchangedAfterRestart(t *testing.T) {
	srv := newServer(t, aholotest.Options{})
	dir := writeFiles(t, map[string][]byte{Marker: nil, "001.jpg": testmedia.JPEG(320, 240, 1), "002.jpg": testmedia.JPEG(320, 240, 2)})
	ctx := context.Background()
	job, err := newVendor(srv).Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	jr := vendortest.NewMemJournal()
	if err := job.Package(ctx, jr); err != nil {
		t.Fatal(err)
	}
	if err := job.Upload(ctx, jr, nil); err != nil {
		t.Fatal(err)
	}
	sent := srv.BytesReceived()
	var packaged packageRecord
	jr.Load(keyPackage, &packaged)

	moved := filepath.Join(filepath.Dir(filepath.Dir(dir)), "processing", filepath.Base(dir))
	os.MkdirAll(filepath.Dir(moved), 0o755)
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	again, err := newVendor(srv).Open(ctx, moved)
	if err != nil {
		t.Fatal(err)
	}
	if !again.(*Job).sameFiles(packaged.Files) {
		t.Fatal("the journalled package does not match the renamed folder's files")
	}
	if err := again.Package(ctx, jr); err != nil {
		t.Fatal(err)
	}
	if err := again.Upload(ctx, jr, nil); err != nil {
		t.Fatalf("resumed upload: %v", err)
	}
	if srv.BytesReceived() != sent {
		t.Errorf("the resumed upload sent %d more bytes", srv.BytesReceived()-sent)
	}
	if _, err := again.Submit(ctx, jr); err != nil {
		t.Fatal(err)
	}
	if srv.Creates() != 1 {
		t.Errorf("%d projects created, want 1", srv.Creates())
	}
}
