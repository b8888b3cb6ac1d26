package aholo

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/vendortest"
)

// TestDownloadBounded: an asset larger than the ceiling, or than the drop's
// disk can take less the margin, is refused from its Content-Length before
// a byte is written; a body without a length is cut off one byte past the
// ceiling; either way the job fails Rejected at once (one request, no retry
// loop) and no file, partial or whole, is left in assets/.
func TestDownloadBounded(t *testing.T) {
	const ceiling = 64 << 10
	const endless = 256 << 20 // what the endless body sends at most
	dir := t.TempDir()
	free, ok := freeBytes(dir)
	if !ok {
		t.Fatal("freeBytes: cannot tell the free space of a temporary directory")
	}
	var hits atomic.Int64
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		chunk := make([]byte, 32<<10)
		switch r.URL.Path {
		case "/declared-huge": // a length no disk holds: refused unread
			w.Header().Set("Content-Length", strconv.FormatInt(1<<50, 10))
		case "/declared-over-ceiling":
			w.Header().Set("Content-Length", strconv.Itoa(ceiling+1))
		case "/declared-over-free": // under the ceiling of this test, over the disk
			// Half way into the 1 GiB kept free: refused by the reserve
			// alone, and still when other programs free up to 512 MiB on
			// this disk while the test runs (free was read once, above).
			w.Header().Set("Content-Length", strconv.FormatInt(free-(1<<29), 10))
		case "/endless": // no length, never stops on its own
			for sent.Load() < endless {
				n, err := w.Write(chunk)
				sent.Add(int64(n))
				if err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
			return
		case "/fits":
			w.Header().Set("Content-Length", strconv.Itoa(ceiling))
			w.Write(make([]byte, ceiling))
			return
		}
		w.WriteHeader(http.StatusOK)
		w.Write(chunk)
	}))
	defer srv.Close()

	for _, c := range []struct {
		path, want string
		ceiling    int64
	}{
		{"/declared-huge", "announced an asset of 1125899906842624 bytes", ceiling},
		{"/declared-over-ceiling", "more than the 65536-byte limit", ceiling},
		{"/declared-over-free", "more than the drop's disk can take", 1 << 62},
		{"/endless", "sent more than the 65536-byte limit", ceiling},
	} {
		t.Run(strings.TrimPrefix(c.path, "/"), func(t *testing.T) {
			hits.Store(0)
			drop := t.TempDir()
			j := &Job{v: New(Config{MaxAssetBytes: c.ceiling, HTTPClient: srv.Client(), Clock: fastClock{}}), dir: drop,
				recon: recon{Name: "chair"}, log: slog.New(slog.DiscardHandler)}
			dl := true
			j.recon.DownloadAssets = &dl
			err := j.Finish(context.Background(), vendortest.NewMemJournal(), &vendors.Status{State: vendors.Succeeded,
				Assets: map[string]string{"ply": srv.URL + c.path}})
			if vendors.KindOf(err) != vendors.Rejected || !strings.Contains(fmt.Sprint(err), c.want) {
				t.Errorf("Finish: %v (kind %v), want Rejected containing %q", err, vendors.KindOf(err), c.want)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("%d requests, want 1: a bad asset is not retried", n)
			}
			if left, _ := os.ReadDir(filepath.Join(drop, "assets")); len(left) != 0 {
				t.Errorf("assets/ holds %v after a refused download", left)
			}
		})
	}
	if s := sent.Load(); s >= endless {
		t.Errorf("the endless body was read to its end (%d bytes): not cut off", s)
	}

	// Within the ceiling: written whole.
	drop := t.TempDir()
	dl := true
	j := &Job{v: New(Config{MaxAssetBytes: ceiling, HTTPClient: srv.Client(), Clock: fastClock{}}), dir: drop,
		recon: recon{Name: "chair", DownloadAssets: &dl}, log: slog.New(slog.DiscardHandler)}
	if err := j.Finish(context.Background(), vendortest.NewMemJournal(), &vendors.Status{State: vendors.Succeeded,
		Assets: map[string]string{"ply": srv.URL + "/fits"}}); err != nil {
		t.Fatalf("an asset of exactly the ceiling: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(drop, "assets", "chair.ply")); err != nil || fi.Size() != ceiling {
		t.Errorf("assets/chair.ply: %v %v", fi, err)
	}
}

// TestHostileResults: what Aholo answers is checked before it is written or
// used: a projectId outside the safe charset fails the submit, a result
// link that is not https (javascript:, file:, http to another host) or is
// longer than 2 KiB fails the poll, each Rejected naming the field — never
// a success with a broken link.
func TestHostileResults(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name      string
		projectID string
		paths     map[string]any
		want      string
	}{
		{"id-dotdot", "../../etc", nil, "projectId"},
		{"id-bidi", "3FO\u202eexe", nil, "projectId"},
		{"id-long", strings.Repeat("A", 129), nil, "projectId of 129 bytes"},
		{"javascript", "", map[string]any{"plyPath": "javascript:alert(1)"}, "plyPath"},
		{"file", "", map[string]any{"plyPath": "file:///etc/passwd"}, "plyPath"},
		{"http-remote", "", map[string]any{"spzPath": "http://cdn.example.com/a.spz"}, `scheme "http"`},
		{"long", "", map[string]any{"plyPath": "https://cdn.example.com/" + strings.Repeat("a", 900<<10)}, "a link of 921624 bytes"},
		{"userinfo", "", map[string]any{"plyPath": "https://u:p@cdn.example.com/a"}, "user info"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newServer(t, aholotest.Options{BlockSize: 64 << 10, ProcessingPolls: -1, ProjectID: c.projectID, ResultPaths: c.paths})
			job, err := newVendor(srv).Open(ctx, chairDrop(t))
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
			ids, err := job.Submit(ctx, jr)
			for i := 0; err == nil && i < 10; i++ {
				var st vendors.Status
				st, err = job.Poll(ctx, ids)
				if err == nil && st.State != vendors.Running {
					t.Fatalf("poll: %+v, want an error", st)
				}
			}
			if vendors.KindOf(err) != vendors.Rejected || !strings.Contains(fmt.Sprint(err), c.want) || len(fmt.Sprint(err)) > 1024 {
				t.Errorf("got %.300v (kind %v), want a short Rejected error containing %q", err, vendors.KindOf(err), c.want)
			}
		})
	}
}
