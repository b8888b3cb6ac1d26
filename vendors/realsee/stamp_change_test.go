//go:build linux

package realsee_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/minis3"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/dropfs/dropfstest"
	"github.com/scandrop/scandrop/vendors/realsee"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
	"github.com/scandrop/scandrop/vendors/vendortest"
)

// stampRig is the Realsee fake in front of a store whose part uploads call
// onPart (with the part number) before they are stored. Parts are 16 KiB,
// so the example drop (about 95 KB) uploads in 6 parts, one at a time.
type stampRig struct {
	store  *minis3.Server
	gw     *realseetest.Server
	mu     sync.Mutex
	onPart func(n int)
}

func newStampRig(t *testing.T) *stampRig {
	r := &stampRig{}
	r.store = minis3.NewServer(minis3.Options{AccessKey: "AK", SecretKey: "SK", Region: "ap-northeast-1",
		Buckets: []string{"vrlab-private"}, MinPartSize: 16 << 10})
	t.Cleanup(r.store.Close)
	target, _ := url.Parse(r.store.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if n := req.URL.Query().Get("partNumber"); n != "" && req.Method == http.MethodPut {
			r.mu.Lock()
			hook := r.onPart
			r.mu.Unlock()
			if hook != nil {
				var part int
				json.Unmarshal([]byte(n), &part)
				hook(part)
			}
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(front.Close)
	r.gw = realseetest.NewServer(realseetest.Options{AppKey: "k", AppSecret: "s", S3Endpoint: front.URL,
		Bucket: "vrlab-private", Region: "ap-northeast-1", AccessKey: "AK", SecretKey: "SK"})
	t.Cleanup(r.gw.Close)
	return r
}

func (r *stampRig) vendor() *realsee.Vendor {
	return realsee.New(realsee.Config{Endpoint: r.gw.URL, AppKey: "k", AppSecret: "s", PartSize: 16 << 10,
		UploadConcurrency: 1, HTTPClient: &http.Client{Timeout: 30 * time.Second}})
}

func (r *stampRig) hook(f func(n int)) {
	r.mu.Lock()
	r.onPart = f
	r.mu.Unlock()
}

// objectDone reports whether the store holds the job's completed archive.
func (r *stampRig) objectDone(jr vendors.Journal) bool {
	var up struct{ Key string }
	jr.Load("realsee.upload", &up)
	_, ok := r.store.Object("vrlab-private", up.Key)
	return up.Key != "" && ok
}

// TestUploadRefusesChangedFiles: a file changed after it was validated and
// packaged — rewritten in place with its mtime restored, replaced by a hard
// link to a file outside the drop, deleted, replaced by a symlink or a
// folder — fails the upload as invalid, naming the file and the fix, and
// the archive is never completed in the store. Before the upload starts the
// open finds it; during the upload, after the file's bytes were sent, the
// check before the upload completes does.
func TestUploadRefusesChangedFiles(t *testing.T) {
	const name = "images/entrance.jpg" // the first image: sent in parts 1-2
	for _, when := range []string{"before_upload", "after_its_part_was_sent"} {
		for _, c := range dropfstest.Changes {
			t.Run(when+"/"+c.Name, func(t *testing.T) {
				r := newStampRig(t)
				root := t.TempDir()
				dir, outside := filepath.Join(root, "drop"), filepath.Join(root, "outside")
				os.Mkdir(outside, 0o755)
				copyTree(t, "../../examples/realsee/nave-2026-11-20", dir)
				ctx := context.Background()
				job, err := r.vendor().Open(ctx, dir)
				if err != nil {
					t.Fatal(err)
				}
				jr := vendortest.NewMemJournal()
				if err := job.Package(ctx, jr); err != nil {
					t.Fatal(err)
				}
				change := func() { c.Apply(t, filepath.Join(dir, filepath.FromSlash(name)), outside) }
				if when == "before_upload" {
					change()
				} else {
					var once sync.Once
					r.hook(func(n int) {
						if n >= 3 {
							once.Do(change)
						}
					})
				}
				start := time.Now()
				err = job.Upload(ctx, jr, nil)
				checkChangedErr(t, err, name, c.Want)
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("took %v: a changed file is not a reason to retry", d)
				}
				if r.objectDone(jr) {
					t.Error("the store holds a completed archive")
				}
				if n := len(r.gw.Submits()); n != 0 {
					t.Errorf("%d submits", n)
				}
			})
		}
	}
}

func checkChangedErr(t *testing.T, err error, name, want string) {
	t.Helper()
	var ps vendors.Problems
	if vendors.KindOf(err) != vendors.Invalid || !errors.As(err, &ps) || len(ps) != 1 || ps[0].File != name {
		t.Fatalf("Upload: %v (kind %v); want invalid naming %s", err, vendors.KindOf(err), name)
	}
	if m := ps[0].Message; !strings.Contains(m, "changed after it was checked") || !strings.Contains(m, want) || !strings.Contains(m, "copy the drop in again") {
		t.Errorf("problem %q: want how it changed (%s) and the fix", m, want)
	}
}

// TestUploadResumesUnchangedAfterRestart: a job stopped mid-upload whose
// folder was then renamed (inbox/ to processing/ is a rename; so is the
// claim after a restart) resumes: its files still match their journalled
// stamps, Package does not read them again, and only the missing parts go.
func TestUploadResumesUnchangedAfterRestart(t *testing.T) {
	r := newStampRig(t)
	root := t.TempDir()
	dir := filepath.Join(root, "inbox", "drop")
	copyTree(t, "../../examples/realsee/nave-2026-11-20", dir)
	ctx, cancel := context.WithCancel(context.Background())
	job, err := r.vendor().Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	jr := vendortest.NewMemJournal()
	if err := job.Package(ctx, jr); err != nil {
		t.Fatal(err)
	}
	var packaged json.RawMessage
	jr.Load("realsee.package", &packaged)
	r.hook(func(n int) {
		if n == 4 {
			cancel() // the daemon stops
		}
	})
	if err := job.Upload(ctx, jr, nil); err == nil {
		t.Fatal("the upload was not interrupted")
	}
	r.hook(nil)
	sentBefore := r.store.Stats().BytesReceived

	moved := filepath.Join(root, "processing", "drop")
	os.MkdirAll(filepath.Dir(moved), 0o755)
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	ctx = context.Background()
	job, err = r.vendor().Open(ctx, moved)
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Package(ctx, jr); err != nil {
		t.Fatal(err)
	}
	var again json.RawMessage
	jr.Load("realsee.package", &again)
	if string(again) != string(packaged) {
		t.Error("Package after the restart packaged again")
	}
	if err := job.Upload(ctx, jr, nil); err != nil {
		t.Fatalf("resumed upload: %v", err)
	}
	if !r.objectDone(jr) {
		t.Fatal("no archive in the store")
	}
	var up struct{ Size int64 }
	jr.Load("realsee.upload", &up)
	if resent := r.store.Stats().BytesReceived - sentBefore; resent >= up.Size {
		t.Errorf("the resumed upload sent %d bytes of %d: it started over", resent, up.Size)
	}
	if _, err := job.Submit(ctx, jr); err != nil {
		t.Fatal(err)
	}
}

// TestHardLinkedFileBeforeValidation: a regular file with another link
// (a copy made with cp -al, a deduplicating tool, a cross-volume move that
// kept links) is validated, packaged and uploaded like any other: it is
// checked as it is, and its stamp (with the link count) guards it after.
func TestHardLinkedFileBeforeValidation(t *testing.T) {
	r := newStampRig(t)
	root := t.TempDir()
	dir := filepath.Join(root, "drop")
	copyTree(t, "../../examples/realsee/nave-2026-11-20", dir)
	if err := os.Link(filepath.Join(dir, "images", "entrance.jpg"), filepath.Join(root, "elsewhere.jpg")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	job, err := r.vendor().Open(ctx, dir)
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
	if !r.objectDone(jr) {
		t.Fatal("no archive in the store")
	}
}
