//go:build linux

package main

// The bad-input corpus: every way a drop can be wrong, dropped at once into
// a running daemon beside good drops. Each bad drop must land in failed/
// intact with a result.json naming the file and the problem, without a
// single vendor call; the good drops must still go through; the daemon
// must keep running; nothing outside the job folders may be touched.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// special is a non-regular entry of a corpus drop.
type special struct {
	kind   string // "symlink", "fifo", "dir", "unreadable"
	target string // symlink target; "@outside/x" is resolved to the rig's outside folder
}

type corpusCase struct {
	name    string
	files   map[string][]byte
	special map[string]special
	// The error message must contain file and every one of want.
	file string
	want []string
	// rootOnlySkip: the case cannot be made as root (root reads everything).
	rootOnlySkip bool
	// taken pre-creates failed/<landAs> so that the drop must take a suffix.
	taken  bool
	landAs string // the name it must land under; default name (or name-2 when taken)
}

func manifestWith(scans string, extra ...string) []byte {
	fields := []string{`"version":"1.0"`, `"floor_map":{"0":1}`, `"scan_list":[` + scans + `]`}
	fields = append(fields, extra...)
	return []byte("{" + strings.Join(fields, ",") + "}")
}

func TestReliabilityBadInputCorpus(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, aholo: &aholotest.Options{}, maxJobs: 4})
	outside := filepath.Join(r.root, "outside")
	os.MkdirAll(filepath.Join(outside, "images"), 0o755)
	outsidePano := smallJPEG(t, 64, 32, 7)
	outsideFiles := map[string][]byte{
		"secret.jpg":         outsidePano,
		"images/pano-00.jpg": outsidePano,
		"manifest.json":      manifestWith(`{"id":"pano-00","floor":0}`),
		"recon.yaml":         []byte("scene: model\n"),
	}
	writeTree(t, outside, outsideFiles)

	pano := smallJPEG(t, 64, 32, 1)
	photo := smallJPEG(t, 64, 48, 2)
	one := manifestWith(`{"id":"pano-00","floor":0}`)
	withPano := func(m []byte) map[string][]byte {
		return map[string][]byte{"manifest.json": m, "images/pano-00.jpg": pano}
	}
	pngBytes := func() []byte {
		var b bytes.Buffer
		b.Write([]byte("\x89PNG\r\n\x1a\n"))
		b.Write(make([]byte, 100))
		return b.Bytes()
	}()
	longID := strings.Repeat("x", 300)
	longName := strings.Repeat("n", 250)
	maxName := strings.Repeat("m", 255)

	cases := []corpusCase{
		// manifest.json
		{name: "r-json-truncated", files: withPano([]byte(`{"version":`)), file: "manifest.json", want: []string{"JSON"}},
		{name: "r-json-syntax", files: withPano([]byte(`{"version":"1.0",,}`)), file: "manifest.json", want: []string{"invalid JSON", "line 1"}},
		{name: "r-json-empty", files: withPano([]byte{}), file: "manifest.json", want: []string{"empty"}},
		{name: "r-json-array", files: withPano([]byte(`[1,2]`)), file: "manifest.json", want: []string{"must be a JSON object", "not a JSON array"}},
		{name: "r-json-string", files: withPano([]byte(`"1.0"`)), file: "manifest.json", want: []string{"must be a JSON object", "not a JSON string"}},
		{name: "r-json-two-values", files: withPano(append(one, one...)), file: "manifest.json", want: []string{"more than one JSON value"}},
		{name: "r-not-utf8", files: withPano([]byte("{\"version\":\"1.0\xff\"}")), file: "manifest.json", want: []string{"UTF-8"}},
		{name: "r-huge-manifest", files: withPano(bytes.Repeat([]byte(" "), 9<<20)), file: "manifest.json", want: []string{"larger than"}},
		{name: "r-version-wrong", files: withPano([]byte(`{"version":"2.0","floor_map":{"0":1},"scan_list":[{"id":"pano-00","floor":0}]}`)), file: "manifest.json", want: []string{`"2.0"`, "not supported"}},
		{name: "r-version-missing", files: withPano([]byte(`{"floor_map":{"0":1},"scan_list":[{"id":"pano-00","floor":0}]}`)), file: "manifest.json", want: []string{`"version" is missing`}},
		{name: "r-unknown-key", files: withPano(manifestWith(`{"id":"pano-00","floor":0}`, `"scan_lst":[]`)), file: "manifest.json", want: []string{"unknown key", "scan_lst"}},
		{name: "r-wrong-type", files: withPano(manifestWith(`{"id":"pano-00","floor":"one"}`)), file: "manifest.json", want: []string{"floor", "whole number"}},
		{name: "r-scan-list-empty", files: withPano(manifestWith(``)), file: "manifest.json", want: []string{"scan_list"}},
		{name: "r-floor-map-empty", files: withPano([]byte(`{"version":"1.0","floor_map":{},"scan_list":[{"id":"pano-00","floor":0}]}`)), file: "manifest.json", want: []string{"floor_map"}},
		{name: "r-floor-missing", files: withPano(manifestWith(`{"id":"pano-00"}`)), file: "manifest.json", want: []string{`"floor" is missing`}},
		{name: "r-floor-not-in-map", files: withPano(manifestWith(`{"id":"pano-00","floor":3}`)), file: "manifest.json", want: []string{"floor 3 is not in floor_map"}},
		{name: "r-duplicate-ids", files: withPano(manifestWith(`{"id":"pano-00","floor":0},{"id":"pano-00","floor":0}`)), file: "manifest.json", want: []string{"already used", "unique"}},
		{name: "r-id-dotdot", files: withPano(manifestWith(`{"id":"../../outside/secret","floor":0}`)), file: "manifest.json", want: []string{"'..' not allowed"}},
		{name: "r-id-slash", files: withPano(manifestWith(`{"id":"sub/pano","floor":0}`)), file: "manifest.json", want: []string{`"/" not allowed`}},
		{name: "r-id-absolute", files: withPano(manifestWith(`{"id":"/etc/passwd","floor":0}`)), file: "manifest.json", want: []string{"absolute path"}},
		{name: "r-id-nul", files: withPano(manifestWith(`{"id":"pano\u0000-00","floor":0}`)), file: "manifest.json", want: []string{"control character"}},
		{name: "r-id-too-long", files: withPano(manifestWith(`{"id":"` + longID + `","floor":0}`)), file: "manifest.json", want: []string{"longer than"}},
		{name: "r-id-empty", files: withPano(manifestWith(`{"id":"","floor":0}`)), file: "manifest.json", want: []string{"empty id"}},
		// images
		{name: "r-image-missing", files: map[string][]byte{"manifest.json": manifestWith(`{"id":"pano-00","floor":0},{"id":"pano-01","floor":0}`), "images/pano-00.jpg": pano}, file: "images/pano-01.jpg", want: []string{"missing"}},
		{name: "r-not-a-jpeg", files: withPano2("pano-00", []byte("this is a text file, not a picture")), file: "images/pano-00.jpg", want: []string{"not a JPEG"}},
		{name: "r-png-named-jpg", files: withPano2("pano-00", pngBytes), file: "images/pano-00.jpg", want: []string{"not a JPEG", "PNG"}},
		{name: "r-truncated-jpeg", files: withPano2("pano-00", pano[:len(pano)/2]), file: "images/pano-00.jpg", want: []string{"truncated"}},
		{name: "r-truncated-header", files: withPano2("pano-00", pano[:40]), file: "images/pano-00.jpg", want: []string{"truncated"}},
		{name: "r-zero-byte", files: withPano2("pano-00", []byte{}), file: "images/pano-00.jpg", want: []string{"empty file"}},
		{name: "r-not-2to1", files: withPano2("pano-00", smallJPEG(t, 64, 48, 3)), file: "images/pano-00.jpg", want: []string{"64x48", "2:1"}},
		{name: "r-symlink-outside", files: map[string][]byte{"manifest.json": one},
			special: map[string]special{"images/pano-00.jpg": {kind: "symlink", target: "@outside/secret.jpg"}},
			file:    "images/pano-00.jpg", want: []string{"symlink"}},
		{name: "r-images-dir-symlink", files: map[string][]byte{"manifest.json": one},
			special: map[string]special{"images": {kind: "symlink", target: "@outside/images"}},
			file:    "images/pano-00.jpg", want: []string{"symlink"}},
		{name: "r-manifest-symlink", special: map[string]special{"manifest.json": {kind: "symlink", target: "@outside/manifest.json"}},
			files: map[string][]byte{"images/pano-00.jpg": pano}, file: "manifest.json", want: []string{"symlink"}},
		{name: "r-dangling-symlink", files: map[string][]byte{"manifest.json": one},
			special: map[string]special{"images/pano-00.jpg": {kind: "symlink", target: "/nonexistent/scandrop/pano.jpg"}},
			file:    "images/pano-00.jpg", want: []string{"symlink"}},
		{name: "r-fifo-jpg", files: map[string][]byte{"manifest.json": one},
			special: map[string]special{"images/pano-00.jpg": {kind: "fifo"}},
			file:    "images/pano-00.jpg", want: []string{"not a regular file"}},
		{name: "r-image-is-dir", files: map[string][]byte{"manifest.json": one, "images/pano-00.jpg/x": pano},
			file: "images/pano-00.jpg", want: []string{"directory"}},
		{name: "r-unreadable", files: map[string][]byte{"manifest.json": one},
			special: map[string]special{"images/pano-00.jpg": {kind: "unreadable"}},
			file:    "images/pano-00.jpg", want: []string{"permission denied"}, rootOnlySkip: true},
		// markers
		{name: "x-both-markers", files: map[string][]byte{"manifest.json": one, "recon.yaml": []byte("scene: model\n"), "images/pano-00.jpg": pano},
			file: "manifest.json, recon.yaml", want: []string{"ambiguous"}},
		{name: "r-marker-is-dir", files: map[string][]byte{"manifest.json/readme.txt": []byte("oops"), "images/pano-00.jpg": pano},
			file: "manifest.json", want: []string{"directory"}},
		{name: "a-marker-is-dir", files: map[string][]byte{"recon.yaml/readme.txt": []byte("oops"), "photos/001.jpg": photo},
			file: "recon.yaml", want: []string{"directory"}},
		// names
		{name: "r-name-\xff\xfe-not-utf8", files: withPano([]byte(`{"version":"3"}`)), file: "manifest.json", want: []string{"not supported"}},
		{name: "r-" + longName[2:], files: withPano([]byte(`{"version":"3"}`)), file: "manifest.json", want: []string{"not supported"}},
		{name: "r-taken-in-failed", files: withPano([]byte(`{"version":"3"}`)), file: "manifest.json", want: []string{"not supported"}, taken: true},
		{name: "r-" + maxName[2:], files: withPano([]byte(`{"version":"3"}`)), file: "manifest.json", want: []string{"not supported"}, taken: true},
		// recon.yaml
		{name: "a-yaml-invalid", files: withPhoto("scene: [model\n", photo), file: "recon.yaml", want: []string{"not valid YAML"}},
		{name: "a-yaml-list", files: withPhoto("- scene\n- model\n", photo), file: "recon.yaml", want: []string{"key: value"}},
		{name: "a-unknown-key", files: withPhoto("scene: model\ncolour: red\n", photo), file: "recon.yaml:2", want: []string{`unknown key "colour"`}},
		{name: "a-bad-scene", files: withPhoto("scene: planet\n", photo), file: "recon.yaml:1", want: []string{`"planet"`, "model, space"}},
		{name: "a-bad-quality", files: withPhoto("quality: SUPER\n", photo), file: "recon.yaml:1", want: []string{`"SUPER"`}},
		{name: "a-bad-bool", files: withPhoto("panorama: maybe\n", photo), file: "recon.yaml:1", want: []string{"true or false"}},
		{name: "a-key-twice", files: withPhoto("scene: model\nscene: space\n", photo), file: "recon.yaml:2", want: []string{"set twice"}},
		{name: "a-pattern-no-match", files: withPhoto("resources:\n  - shots/*.jpg\n", photo), file: "recon.yaml:2", want: []string{"matches no file"}},
		{name: "a-pattern-dotdot", files: withPhoto("resources:\n  - ../outside/*.jpg\n", photo), file: "recon.yaml:2", want: []string{"relative"}},
		{name: "a-cover-missing", files: withPhoto("cover: photos/999.jpg\n", photo), file: "recon.yaml:1", want: []string{"not among the resources"}},
		{name: "a-cover-dotdot", files: withPhoto("cover: ../outside/secret.jpg\n", photo), file: "recon.yaml:1", want: []string{"'..' not allowed"}},
		{name: "a-no-images", files: map[string][]byte{"recon.yaml": []byte("scene: model\n"), "notes.txt": []byte("hello")}, file: "", want: []string{"no images"}},
		{name: "a-truncated-jpeg", files: withPhoto("", photo[:len(photo)/2]), file: "photos/001.jpg", want: []string{"truncated"}},
		{name: "a-png-named-jpg", files: withPhoto("", pngBytes), file: "photos/001.jpg", want: []string{"PNG"}},
		{name: "a-zero-byte", files: withPhoto("", []byte{}), file: "photos/001.jpg", want: []string{"empty file"}},
		{name: "a-not-a-video", files: map[string][]byte{"recon.yaml": []byte("cover: photos/001.jpg\n"), "photos/001.jpg": photo, "clip.mp4": photo},
			file: "clip.mp4", want: []string{"not"}},
		{name: "a-symlink-outside", files: map[string][]byte{"recon.yaml": []byte("scene: model\n"), "photos/001.jpg": photo},
			special: map[string]special{"photos/002.jpg": {kind: "symlink", target: "@outside/secret.jpg"}},
			file:    "photos/002.jpg", want: []string{"symlink"}},
		{name: "a-marker-symlink", files: map[string][]byte{"photos/001.jpg": photo},
			special: map[string]special{"recon.yaml": {kind: "symlink", target: "@outside/recon.yaml"}},
			file:    "recon.yaml", want: []string{"symlink"}},
		{name: "a-fifo-jpg", files: map[string][]byte{"recon.yaml": []byte("scene: model\n"), "photos/001.jpg": photo},
			special: map[string]special{"photos/002.jpg": {kind: "fifo"}},
			file:    "photos/002.jpg", want: []string{"not a regular file"}},
		{name: "a-non-utf8-file", files: map[string][]byte{"recon.yaml": []byte("scene: model\n"), "photos/001.jpg": photo, "photos/\xff\xfe.jpg": photo},
			file: "photos/", want: []string{"UTF-8"}},
	}

	euid := os.Geteuid()
	var skipped []string
	atimes := ageAtimes(t, outside)
	inotify := watchOutside(t, outside)

	r.start()
	// Taken names in failed/ first, so that the drops must take a suffix.
	pre := map[string][]byte{"result.json": []byte(`{"status":"failed","note":"an earlier job; must never be overwritten"}`), "keep.txt": []byte("earlier")}
	for i := range cases {
		c := &cases[i]
		if c.landAs == "" {
			c.landAs = c.name
		}
		if c.taken {
			writeTree(t, r.path("failed", c.name), pre)
			c.landAs = c.name + "-2"
			if len(c.landAs) > 255 { // the suffix must still fit in a file name
				c.landAs = c.name[:253] + "-2"
			}
		}
	}
	os.MkdirAll(r.path("inbox"), 0o755)
	good := map[string]map[string][]byte{"good-realsee": realseeFiles(t, 2, 0), "good-aholo": aholoFiles(t, 3, 0)}
	dropped := 0
	for _, c := range cases {
		if c.rootOnlySkip && euid == 0 {
			skipped = append(skipped, c.name)
			continue
		}
		staging := filepath.Join(r.watchDir, ".staging-corpus")
		os.RemoveAll(staging)
		writeTree(t, staging, c.files)
		for name, sp := range c.special {
			p := filepath.Join(staging, filepath.FromSlash(name))
			os.MkdirAll(filepath.Dir(p), 0o755)
			switch sp.kind {
			case "symlink":
				target := strings.Replace(sp.target, "@outside", outside, 1)
				if err := os.Symlink(target, p); err != nil {
					t.Fatal(err)
				}
			case "fifo":
				if err := syscall.Mkfifo(p, 0o644); err != nil {
					t.Fatal(err)
				}
			case "unreadable":
				os.WriteFile(p, pano, 0o000)
			}
		}
		if err := os.Rename(staging, r.path("inbox", c.name)); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		dropped++
	}
	for name, files := range good {
		r.drop(name, files)
	}
	start := time.Now()

	requests := func() (int, int) { // vendor calls: Realsee gateway, Aholo API
		n := 0
		for _, v := range r.gw.Requests() {
			n += v
		}
		a := 0
		for _, p := range []string{"/v2/aholo/upload/token", "/v2/aholo/project/create-3d-recon", "/v2/aholo/project/task/list/by-ids"} {
			a += r.ah.Calls(p)
		}
		return n, a
	}

	failedOK := 0
	for _, c := range cases {
		if c.rootOnlySkip && euid == 0 {
			continue
		}
		t.Run(strings.ToValidUTF8(c.name, "?")[:min(len(strings.ToValidUTF8(c.name, "?")), 40)], func(t *testing.T) {
			res, where := r.waitResult(c.landAs, 60*time.Second)
			if where != "failed" || res.Error == nil {
				t.Fatalf("landed in %s: %+v", where, res)
			}
			e := res.Error
			t.Logf("%s: %s", c.landAs[:min(len(c.landAs), 40)], e.Message)
			if e.Stage != "validate" || e.Kind != "invalid" || !e.Retryable || e.Fix == "" {
				t.Errorf("error: stage %q kind %q retryable %v fix %q; want validate/invalid, retryable, with a fix", e.Stage, e.Kind, e.Retryable, e.Fix)
			}
			if !strings.Contains(e.Message, c.file) {
				t.Errorf("message %q does not name %q", e.Message, c.file)
			}
			for _, w := range c.want {
				if !strings.Contains(e.Message, w) {
					t.Errorf("message %q does not say %q", e.Message, w)
				}
			}
			if c.file != "" && !problemsName(e.Problems, c.file) {
				t.Errorf("problems %+v: none names %q", e.Problems, c.file)
			}
			dir := r.path("failed", c.landAs)
			if err := sameTree(dir, c.files); err != nil {
				t.Errorf("not intact in failed/: %v", err)
			}
			for name, sp := range c.special {
				fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(name)))
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				switch sp.kind {
				case "symlink":
					got, _ := os.Readlink(filepath.Join(dir, filepath.FromSlash(name)))
					if fi.Mode()&fs.ModeSymlink == 0 || got != strings.Replace(sp.target, "@outside", outside, 1) {
						t.Errorf("%s: the symlink did not survive: %v → %q", name, fi.Mode(), got)
					}
				case "fifo":
					if fi.Mode()&fs.ModeNamedPipe == 0 {
						t.Errorf("%s: no longer a FIFO: %v", name, fi.Mode())
					}
				}
			}
			if c.taken {
				keep := map[string][]byte{"keep.txt": pre["keep.txt"]}
				if err := sameTree(r.path("failed", c.name), keep); err != nil {
					t.Errorf("the earlier failed/%s was changed: %v", c.name, err)
				}
				b, _ := os.ReadFile(r.path("failed", c.name, "result.json"))
				if !bytes.Equal(b, pre["result.json"]) {
					t.Errorf("the earlier failed/%s/result.json was overwritten", c.name)
				}
			}
			if b, _ := json.Marshal(res); bytes.Contains(b, []byte(relRealseeSecret)) || bytes.Contains(b, []byte(relAholoSecret)) {
				t.Error("a secret is in result.json")
			}
			failedOK++
		})
	}
	for name := range good {
		res, where := r.waitResult(name, 60*time.Second)
		if where != "done" || !res.Success() {
			t.Errorf("good drop %s: landed in %s: %+v", name, where, res.Error)
		}
	}
	took := time.Since(start)
	// Vendor calls: exactly those of the two good drops.
	if n := len(r.gw.Submits()); n != 1 {
		t.Errorf("%d Realsee submits, want 1 (the good drop)", n)
	}
	if n := r.gw.Requests()["/open/v1/pano/file/token"]; n != 1 {
		t.Errorf("%d Realsee file tokens, want 1: an invalid drop called the vendor", n)
	}
	if n := r.ah.Creates(); n != 1 {
		t.Errorf("%d Aholo creates, want 1 (the good drop)", n)
	}
	if n := r.ah.Calls("/v2/aholo/upload/token"); n != 3+1 {
		t.Errorf("%d Aholo upload tokens, want 4 (the good drop's photos, and the credential probe at start): an invalid drop called the vendor", n)
	}
	gwCalls, ahCalls := requests()

	// Still running, and still working.
	d := r.procs[0]
	if !d.alive() {
		t.Fatal("the daemon died")
	}
	r.drop("good-after", realseeFiles(t, 1, 0))
	if res, where := r.waitResult("good-after", 30*time.Second); where != "done" {
		t.Fatalf("a drop after the corpus: %s %+v", where, res.Error)
	}
	for _, sub := range []string{"inbox", "processing"} {
		if e := r.entries(sub); len(e) != 0 {
			t.Errorf("%s/ holds %v", sub, e)
		}
	}

	// Nothing outside the job folders was read or changed: no inotify
	// event on the outside folder, no atime moved, same bytes.
	events := inotify()
	if len(events) > 0 {
		t.Errorf("files outside the drops were accessed: %v", events)
	}
	if moved := atimes.changed(); len(moved) > 0 {
		t.Errorf("atime changed outside the drops: %v", moved)
	}
	if err := sameTree(outside, outsideFiles); err != nil {
		t.Errorf("the outside folder changed: %v", err)
	}
	// The checks can see: our own reads just now show up in both.
	if len(inotify()) == 0 {
		t.Error("inotify saw nothing of the test's own reads: the access check is blind")
	}
	atimeNote := "atime checked"
	if len(atimes.changed()) == 0 {
		atimeNote = "atime not updated by reads on this mount (noatime): atime check blind, inotify check stands"
		t.Log(atimeNote)
	}
	report(t, "bad-input corpus: %d cases (%d skipped as root: %v) all in failed/ intact with the file and problem named, 0 vendor calls for them (gateway %d and Aholo %d calls, all the 2 good drops'); good drops done; daemon alive; outside files: %d access events (inotify), %s; in %s",
		dropped, len(skipped), skipped, gwCalls, ahCalls, len(events), atimeNote, took.Round(time.Millisecond))
	_ = failedOK
}

func withPano2(id string, img []byte) map[string][]byte {
	return map[string][]byte{"manifest.json": manifestWith(fmt.Sprintf(`{"id":%q,"floor":0}`, id)), "images/" + id + ".jpg": img}
}

func withPhoto(recon string, img []byte) map[string][]byte {
	return map[string][]byte{"recon.yaml": []byte(recon), "photos/001.jpg": img}
}

func problemsName(ps []vendors.Problem, file string) bool {
	for _, p := range ps {
		if strings.Contains(p.File, file) || (file == "" && p.File == "") {
			return true
		}
	}
	return false
}
