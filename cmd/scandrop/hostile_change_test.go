//go:build linux

package main

// Files that change under scandrop after it checked them (issue 12, red
// team D2/D3): a panorama or photo rewritten in place (its mtime put back),
// replaced by a hard link to a file outside the drop, deleted, replaced by a
// symlink or a folder while the upload is under way. Each is caught by the
// file's stamp (vendors/dropfs.Stamp) and fails the job at once as invalid,
// naming the file and the fix: never a vendor outage retried until the
// vendor timeout, never a success with bytes that were not validated.

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/faultproxy"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/dropfs/dropfstest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// uploadGate tells the test when the daemon's upload of the current drop
// has reached the vendor, and holds that request a while so that the
// change happens mid-upload.
type uploadGate struct {
	mu      sync.Mutex
	reached chan struct{} // closed at the first upload request; nil: not armed
	done    int           // completed objects in the store (Realsee)
}

func (g *uploadGate) arm() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reached = make(chan struct{})
	return g.reached
}

// upload notes an upload request.
func (g *uploadGate) upload() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.reached != nil {
		close(g.reached)
		g.reached = nil
	}
}

func (g *uploadGate) completed() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.done
}

// changeCase runs one drop through the daemon and changes file once the
// upload reached the vendor, then checks the outcome.
func changeCase(t *testing.T, r *rig, g *uploadGate, name, file string, files map[string][]byte, c dropfstest.Change) {
	t.Helper()
	reached := g.arm()
	r.drop(name, files)
	select {
	case <-reached:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: the upload never started\n%s", name, r.logText())
	}
	path := r.path("processing", name, filepath.FromSlash(file))
	c.Apply(t, path, t.TempDir())
	changed := time.Now()
	// The drop as it is now: the changed entry as the change left it.
	want := map[string][]byte{}
	for k, v := range files {
		want[k] = v
	}
	delete(want, file)
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
		want[file], _ = os.ReadFile(path)
	}

	res, where := r.waitResult(name, 60*time.Second)
	took := time.Since(changed)
	if where != "failed" || res.Error == nil || res.Error.Kind != "invalid" || len(res.Error.Problems) != 1 {
		t.Fatalf("%s landed in %s with %+v", name, where, res.Error)
	}
	p := res.Error.Problems[0]
	if p.File != file || !strings.Contains(p.Message, "changed after it was checked") ||
		!strings.Contains(p.Message, c.Want) || !strings.Contains(p.Message, "copy the drop in again") {
		t.Errorf("%s: problem %+v: want %s named, how it changed (%s) and the fix", name, p, file, c.Want)
	}
	if strings.Contains(res.Error.Message, "unreachable") || strings.Contains(res.Error.Fix, "network") {
		t.Errorf("%s: reported as a vendor outage: %+v", name, res.Error)
	}
	if took > 20*time.Second {
		t.Errorf("%s: failed %v after the change: it was retried", name, took)
	}
	if err := sameTree(r.path("failed", name), want); err != nil {
		t.Errorf("%s: not intact: %v", name, err)
	}
	report(t, "%s: failed as invalid %.1fs after the change: %s: %s", name, took.Seconds(), p.File, p.Message)
}

func TestHostileChangeRealsee(t *testing.T) {
	g := &uploadGate{}
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, storeProxy: true, uploadConc: 1})
	// Every PUT to the store (a part, or a whole archive) is held 1.5 s;
	// CompleteMultipartUpload and PutObject are counted.
	r.s3Proxy.Add(faultproxy.Rule{Fault: faultproxy.Delay, For: 1500 * time.Millisecond, Match: func(req *http.Request) bool {
		q := req.URL.Query()
		g.mu.Lock()
		if (req.Method == http.MethodPost && q.Has("uploadId")) || (req.Method == http.MethodPut && !q.Has("partNumber")) {
			g.done++
		}
		g.mu.Unlock()
		if req.Method == http.MethodPut {
			g.upload()
			return true
		}
		return false
	}})
	r.start()
	// Two panoramas of 3 MiB: two parts of 5 MiB, the first panorama
	// wholly in the first.
	files := realseeFiles(t, 2, 3<<20)
	for _, c := range dropfstest.Changes {
		changeCase(t, r, g, "change-realsee-"+c.Name, "images/pano-00.jpg", files, c)
	}
	if n := len(r.gw.Submits()); n != 0 {
		t.Errorf("%d submits", n)
	}
	if n := g.completed(); n != 0 {
		t.Errorf("%d archives completed in the store", n)
	}
}

func TestHostileChangeAholo(t *testing.T) {
	g := &uploadGate{}
	opts := &aholotest.Options{Hook: func(req *http.Request) {
		if strings.HasPrefix(req.URL.Path, "/ous/api/v2/single/upload") || strings.HasPrefix(req.URL.Path, "/ous/api/v2/block/upload/") {
			g.upload()
			time.Sleep(time.Second)
		}
	}}
	r := newRig(t, rigOptions{aholo: opts})
	r.start()
	files := aholoFiles(t, 3, 0)
	for _, c := range dropfstest.Changes {
		changeCase(t, r, g, "change-aholo-"+c.Name, "photos/000.jpg", files, c)
	}
	if n := r.ah.Creates(); n != 0 {
		t.Errorf("%d projects created", n)
	}
}
