//go:build linux

package main

// Hostile drops, the limits classes of issue 12 (red team D4-D7): headers
// that claim sizes or durations no capture has (or more pixels than the
// file's bytes hold), scan ids and file names that differ only in case,
// project names with escape sequences, bells and bidi overrides or of
// megabytes, and folders that are symlinks out of the drop. Each must land
// in failed/ intact with result.json naming the file and the problem, with
// no vendor call for it, beside good drops that go through.

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/testmedia"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

type limitsCase struct {
	name  string
	files map[string][]byte
	links []string // symlinks at these paths to a folder outside the drop
	file  string   // the file the problem must name
	want  []string // parts of the message
}

// intactLimits reports the first difference between dir and the drop of
// c: the same bytes in every file, the links still links to outside, and
// nothing else at the top but result.json and .scandrop/.
func intactLimits(dir, outside string, c limitsCase) error {
	tops := map[string]bool{"result.json": true, ".scandrop": true}
	for name, want := range c.files {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(got, want) {
			return fmt.Errorf("%s: changed (%v)", name, err)
		}
		tops[strings.SplitN(name, "/", 2)[0]] = true
	}
	for _, l := range c.links {
		if to, err := os.Readlink(filepath.Join(dir, l)); err != nil || to != outside {
			return fmt.Errorf("%s: no longer a link to %s (%q, %v)", l, outside, to, err)
		}
		tops[l] = true
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !tops[e.Name()] {
			return fmt.Errorf("%s: unexpected", e.Name())
		}
	}
	return nil
}

func limitsCases(t testing.TB) []limitsCase {
	pano := smallJPEG(t, 64, 32, 1)
	photo := smallJPEG(t, 64, 48, 2)
	png := testmedia.PNG(40, 30, 1)
	mp4 := testmedia.MP4Bytes(640, 480, 3000, 4096)
	scans := func(ids ...string) string {
		var l []string
		for _, id := range ids {
			l = append(l, fmt.Sprintf(`{"id":%q,"floor":0}`, id))
		}
		return strings.Join(l, ",")
	}
	named := func(project string) map[string][]byte {
		return map[string][]byte{"manifest.json": manifestWith(scans("pano-00"), `"project_name":"`+project+`"`), "images/pano-00.jpg": pano}
	}
	withClip := func(name string, data []byte) map[string][]byte {
		return map[string][]byte{"recon.yaml": []byte("cover: photos/001.jpg\n"), "photos/001.jpg": photo, name: data}
	}
	withName := func(name string) map[string][]byte {
		return map[string][]byte{"recon.yaml": []byte("name: \"" + name + "\"\n"), "photos/001.jpg": photo}
	}
	progressive := testmedia.JPEGClaiming(pano, 65534, 32767)
	progressive[bytes.Index(progressive, []byte{0xFF, 0xC0})+1] = 0xC2

	return []limitsCase{
		// D4: header claims.
		{name: "l-pano-60000x30000", files: withPano2("pano-00", testmedia.JPEGClaiming(pano, 60000, 30000)), file: "images/pano-00.jpg", want: []string{"60000x30000", "over the limit of 16384x8192"}},
		{name: "l-pano-progressive-65534x32767", files: withPano2("pano-00", progressive), file: "images/pano-00.jpg", want: []string{"65534x32767", "16384x8192"}},
		{name: "l-pano-8192x4096-in-1KB", files: withPano2("pano-00", testmedia.JPEGClaiming(pano, 8192, 4096)), file: "images/pano-00.jpg", want: []string{"8192x4096", "pixels per byte"}},
		{name: "l-photo-jpeg-65535sq", files: withPhoto("", testmedia.JPEGClaiming(photo, 65535, 65535)), file: "photos/001.jpg", want: []string{"65535x65535", "30000 pixels per side"}},
		{name: "l-photo-png-100000sq", files: map[string][]byte{"recon.yaml": nil, "photos/001.png": testmedia.PNGClaiming(png, 100000, 100000)}, file: "photos/001.png", want: []string{"100000x100000", "30000 pixels per side"}},
		{name: "l-photo-png-20000x9000-in-1KB", files: map[string][]byte{"recon.yaml": nil, "photos/001.png": testmedia.PNGClaiming(png, 20000, 9000)}, file: "photos/001.png", want: []string{"20000x9000", "deflate"}},
		{name: "l-clip-tkhd-65535sq", files: withClip("clips/walk.mp4", testmedia.MP4Bytes(65535, 65535, 3000, 4096)), file: "clips/walk.mp4", want: []string{"65535x65535", "16384 pixels per side"}},
		{name: "l-clip-mvhd-2^64-1s", files: withClip("clips/walk.mp4", testmedia.MP4Lasting(mp4, 1, math.MaxUint64)), file: "clips/walk.mp4", want: []string{"18446744073709551615 s", "86400 s (24 h)"}},
		{name: "l-clip-mov-25h", files: withClip("clips/walk.mov", testmedia.MP4Lasting(mp4, 600, 25*3600*600)), file: "clips/walk.mov", want: []string{"90000 s"}},
		// D5: case.
		{name: "l-ids-a-and-A", files: map[string][]byte{"manifest.json": manifestWith(scans("a", "A")), "images/a.jpg": pano}, file: "manifest.json", want: []string{`id "A" differs only in case from "a"`}},
		{name: "l-pano-jpg-and-JPG", files: map[string][]byte{"manifest.json": manifestWith(scans("a")), "images/a.jpg": pano, "images/a.JPG": smallJPEG(t, 64, 32, 3)}, file: "images/a.jpg", want: []string{"differs only in case from images/a.JPG"}},
		{name: "l-pano-stem-case", files: map[string][]byte{"manifest.json": manifestWith(scans("Entrance")), "images/entrance.jpg": pano}, file: "images/Entrance.jpg", want: []string{"images/entrance.jpg exists, whose name differs in case"}},
		{name: "l-photos-a-and-A", files: map[string][]byte{"recon.yaml": nil, "photos/a.jpg": photo, "photos/A.jpg": photo}, file: "photos/a.jpg", want: []string{"differs only in case from photos/A.jpg"}},
		{name: "l-recon-resource-case", files: map[string][]byte{"recon.yaml": []byte("resources: [photos/001.JPG]\n"), "photos/001.jpg": photo}, file: "recon.yaml:1", want: []string{"photos/001.jpg differs only in case"}},
		// D6: names sent to the vendor.
		{name: "l-project-escapes", files: named(`\u001b]0;owned\u0007\u001b[31m\u202eevil`), file: "manifest.json", want: []string{`project_name has the character \x1b`}},
		{name: "l-project-bidi", files: named(`scan\u202egpj.exe`), file: "manifest.json", want: []string{`project_name has the character \u202e (character 5)`}},
		{name: "l-project-300000-esc", files: named(strings.Repeat(`\u001b`, 300000)), file: "manifest.json", want: []string{`project_name has the character \x1b`}},
		{name: "l-project-201-chars", files: named(strings.Repeat("殿", 201)), file: "manifest.json", want: []string{"project_name is 201 characters long, over the limit of 200"}},
		{name: "l-folder-name-esc\x1b[2J", files: map[string][]byte{"manifest.json": manifestWith(scans("pano-00")), "images/pano-00.jpg": pano}, file: "manifest.json", want: []string{`the folder's name, sent as the project name since project_name is not set, has the character \x1b`}},
		{name: "l-recon-name-escapes", files: withName(`\e]0;owned\a`), file: "recon.yaml:1", want: []string{`name has the character \x1b`}},
		{name: "l-recon-name-bidi", files: withName(`x\u202Eyz`), file: "recon.yaml:1", want: []string{`name has the character \u202e`}},
		{name: "l-resource-name-bidi", files: map[string][]byte{"recon.yaml": nil, "photos/001.jpg": photo, "photos/a\u202egpj.jpg": photo}, file: "photos/a", want: []string{`the name, sent to Aholo, has the character \u202e`}},
		// D7: folders that are symlinks out of the drop.
		{name: "l-realsee-images-symlink", files: map[string][]byte{"manifest.json": manifestWith(scans("pano-00"))}, links: []string{"images"}, file: "images/pano-00.jpg", want: []string{"images/ is a symlink; scandrop does not follow links out of a drop; copy the images in"}},
		{name: "l-aholo-photos-symlink", files: map[string][]byte{"recon.yaml": nil}, links: []string{"photos"}, file: "photos", want: []string{"photos/ is a symlink; scandrop does not follow links out of a drop"}},
		{name: "l-aholo-pattern-through-symlink", files: map[string][]byte{"recon.yaml": []byte("resources: [photos/*.jpg, shots/*.jpg]\n"), "photos/001.jpg": photo}, links: []string{"shots"}, file: "shots", want: []string{"shots/ is a symlink"}},
	}
}

func TestHostileLimitsCorpus(t *testing.T) {
	cases := limitsCases(t)
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, aholo: &aholotest.Options{}, maxJobs: 4})
	outside := filepath.Join(r.root, "outside")
	writeTree(t, outside, map[string][]byte{"pano-00.jpg": smallJPEG(t, 64, 32, 1), "001.jpg": smallJPEG(t, 64, 48, 2)})
	d := r.start()
	os.MkdirAll(r.path("inbox"), 0o755)
	for _, c := range cases {
		staging := filepath.Join(r.watchDir, ".staging-limits")
		os.RemoveAll(staging)
		writeTree(t, staging, c.files)
		for _, l := range c.links {
			if err := os.Symlink(outside, filepath.Join(staging, l)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Rename(staging, r.path("inbox", c.name)); err != nil {
			t.Fatal(err)
		}
	}
	// Beside them: good drops at the edge of the limits (a 200-character
	// name with an ideographic space; .JPG and .jpeg extensions).
	goodRealsee := realseeFiles(t, 2, 0)
	goodRealsee["manifest.json"] = bytes.Replace(goodRealsee["manifest.json"], []byte(`"rel-{{timestamp}}"`), []byte(`"`+strings.Repeat("殿", 180)+"　{{timestamp}}"+`"`), 1)
	goodRealsee["images/pano-01.JPG"] = goodRealsee["images/pano-01.jpg"]
	delete(goodRealsee, "images/pano-01.jpg")
	goodAholo := aholoFiles(t, 2, 0)
	goodAholo["recon.yaml"] = []byte("name: " + strings.Repeat("椅", 200) + "\n")
	goodAholo["clips/walk.mp4"] = testmedia.MP4Bytes(3840, 2160, 60000, 4096)
	good := map[string]map[string][]byte{"good-realsee-edge": goodRealsee, "good-aholo-edge": goodAholo}
	for name, files := range good {
		r.drop(name, files)
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r.wantInvalid(t, c.name, c.file, c.want)
			if err := intactLimits(r.path("failed", c.name), outside, c); err != nil {
				t.Errorf("not intact in failed/: %v", err)
			}
		})
	}
	for name := range good {
		res, where := r.waitResult(name, 90*time.Second)
		if where != "done" || !res.Success() {
			t.Errorf("good drop %s: landed in %s: %+v", name, where, res.Error)
		}
	}
	if !d.alive() {
		t.Fatal("the daemon died")
	}
	if n := len(r.gw.Submits()); n != 1 {
		t.Errorf("%d Realsee submits, want 1 (the good drop)", n)
	}
	if n := r.ah.Creates(); n != 1 {
		t.Errorf("%d Aholo creates, want 1 (the good drop)", n)
	}
	report(t, "hostile-limits corpus: %d cases in failed/ intact with file and problem named, no vendor call for them, 2 good drops at the limits done beside them", len(cases))
}
