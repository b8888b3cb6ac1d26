//go:build linux

package main

// Drops too large for one object in the vendor's storage (issue 12): a
// Realsee archive over S3's 5 TiB is refused when the drop is opened, before
// a byte is read for the package or a file token is asked for. The drops
// are sparse files, so terabytes cost nothing on disk.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// sparsePanorama writes a valid 2:1 JPEG header, a hole up to size, and the
// end-of-image marker.
func sparsePanorama(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(smallJPEG(t, 64, 32, 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xFF, 0xD9}, size-2); err != nil {
		t.Fatal(err)
	}
}

func blocksUsed(dir string) int64 {
	var used int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				used += st.Blocks * 512
			}
		}
		return nil
	})
	return used
}

func TestHostileHugeRealseeDrops(t *testing.T) {
	const tib = int64(1) << 40
	cases := []struct {
		name  string
		sizes []int64 // of the panoramas
	}{
		{"huge-one-panorama-over-5tib", []int64{5*tib + 1}},
		{"huge-panoramas-summing-over-5tib", []int64{2 * tib, 2 * tib, tib + 1}},
		{"huge-exactly-5tib-of-panoramas", []int64{5 * tib / 2, 5 * tib / 2}}, // headers push it over
	}
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}})
	r.start()
	for _, c := range cases {
		tmp := filepath.Join(r.watchDir, ".staging-"+c.name)
		os.MkdirAll(filepath.Join(tmp, "images"), 0o755)
		var scans []string
		for i, size := range c.sizes {
			id := fmt.Sprintf("p%d", i)
			sparsePanorama(t, filepath.Join(tmp, "images", id+".jpg"), size)
			scans = append(scans, fmt.Sprintf(`{"id":%q,"floor":0}`, id))
		}
		os.WriteFile(filepath.Join(tmp, "manifest.json"), manifestWith(strings.Join(scans, ",")), 0o644)
		os.MkdirAll(r.path("inbox"), 0o755)
		if err := os.Rename(tmp, r.path("inbox", c.name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cases {
		res, where := r.waitResult(c.name, 60*time.Second)
		if where != "failed" || res.Error == nil || res.Error.Kind != "invalid" || len(res.Error.Problems) != 1 {
			t.Fatalf("%s landed in %s with %+v", c.name, where, res.Error)
		}
		msg := res.Error.Problems[0].Message
		if !strings.Contains(msg, "5.0 TiB (5497558138880 bytes)") || !strings.Contains(msg, "split the scans") {
			t.Errorf("%s: problem %q does not name the limit and the fix", c.name, msg)
		}
		// Intact: every panorama still there at its size, still sparse.
		for i, size := range c.sizes {
			fi, err := os.Stat(r.path("failed", c.name, "images", fmt.Sprintf("p%d.jpg", i)))
			if err != nil || fi.Size() != size {
				t.Errorf("%s: panorama %d: %v", c.name, i, err)
			}
		}
		if du := blocksUsed(r.path("failed", c.name)); du > 1<<20 {
			t.Errorf("%s takes %d bytes on disk after the job", c.name, du)
		}
	}
	if n := r.gw.Requests()["/open/v1/pano/file/token"]; n != 0 {
		t.Errorf("%d file tokens were asked for drops that cannot be uploaded", n)
	}
	for _, d := range r.procs {
		if !d.alive() {
			t.Fatalf("the daemon exited:\n%s", r.logText())
		}
	}
	// `scandrop check` says the same, offline.
	out, code := runBin(t, "check", r.path("failed", cases[0].name))
	if code == 0 || !strings.Contains(out, "5.0 TiB") {
		t.Errorf("scandrop check: exit %d\n%s", code, out)
	}
}
