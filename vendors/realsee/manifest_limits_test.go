package realsee

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/scandrop/scandrop/internal/testkit/testmedia"
)

// progressive turns a baseline JPEG's frame header into a progressive one
// (SOF0 to SOF2); the header reads the same.
func progressive(jpg []byte) []byte {
	out := append([]byte(nil), jpg...)
	for i := 2; i+1 < len(out); i++ {
		if out[i] == 0xFF && out[i+1] == 0xC0 {
			out[i+1] = 0xC2
			return out
		}
	}
	panic("no SOF0")
}

// A panorama whose header claims more than 16K, or more pixels than its
// bytes can hold, is refused with the value and the limit; a real one
// passes.
func TestPanoramaHeaderClaims(t *testing.T) {
	small := jpegBytes(t, 64, 32)
	for _, c := range []struct {
		name string
		data []byte
		says []string // nil: accepted
	}{
		{"60000x30000", testmedia.JPEGClaiming(small, 60000, 30000), []string{"60000x30000", "16384x8192"}},
		{"progressive 65534x32767", progressive(testmedia.JPEGClaiming(small, 65534, 32767)), []string{"65534x32767", "16384x8192"}},
		{"20000x10000", testmedia.JPEGClaiming(small, 20000, 10000), []string{"20000x10000", "16384x8192"}},
		{"8192x4096 in a few KB", testmedia.JPEGClaiming(small, 8192, 4096), []string{"8192x4096", "pixels per byte"}},
		{"64x32", small, nil},
	} {
		dir := t.TempDir()
		write(t, dir, "images/a.jpg", c.data)
		_, err := checkPanorama(dir, "images/a.jpg")
		if c.says == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		for _, s := range c.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q does not say %q", c.name, err, s)
			}
		}
	}
}

// Scan ids and image names that differ only in case are one file on a
// case-insensitive share: refused with both names. An image that exists
// only with a differently cased stem is named.
func TestValidateCase(t *testing.T) {
	pano := jpegBytes(t, 64, 32)
	scans := func(ids ...string) string {
		var l []string
		for _, id := range ids {
			l = append(l, `{"id":"`+id+`","floor":0}`)
		}
		return `{"version":"1.0","floor_map":{"0":0},"scan_list":[` + strings.Join(l, ",") + `]}`
	}
	for _, c := range []struct {
		name, manifest string
		images         []string
		file, says     string
	}{
		{"ids a and A", scans("a", "A"), []string{"a.jpg"}, "manifest.json", `id "A" differs only in case from "a" (scan_list[0])`},
		{"ids Hall and hALL", scans("Hall", "hALL"), []string{"Hall.jpg", "hALL.jpg"}, "manifest.json", `id "hALL" differs only in case from "Hall"`},
		{"a.jpg and a.JPG", scans("a"), []string{"a.jpg", "a.JPG"}, "images/a.jpg", "differs only in case from images/a.JPG"},
		{"a.jpg and a.jpeg", scans("a"), []string{"a.jpeg", "a.jpg"}, "images/a.jpg", "several images: images/a.jpeg, images/a.jpg"},
		{"id Entrance, entrance.jpg", scans("Entrance"), []string{"entrance.jpg"}, "images/Entrance.jpg", "images/entrance.jpg exists, whose name differs in case"},
		{"unreferenced x.jpg and X.jpg", scans("a"), []string{"a.jpg", "x.jpg", "X.jpg"}, "images/x.jpg", "differs only in case from images/X.jpg"},
	} {
		dir := t.TempDir()
		write(t, dir, "manifest.json", []byte(c.manifest))
		for _, im := range c.images {
			write(t, dir, "images/"+im, pano)
		}
		_, err := validate(dir)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.file+": ") || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v\nwant %s: ...%s", c.name, err, c.file, c.says)
		}
	}
}

// The project name sent to the vendor (project_name, or the folder's name
// without one) is bounded and holds no control characters or bidi
// controls; neither do scan ids.
func TestValidateProjectName(t *testing.T) {
	pano := jpegBytes(t, 64, 32)
	for _, c := range []struct {
		name, folder, project, id, says string // says "": accepted
	}{
		{"escape sequence", "d", `\u001b]0;owned\u0007x`, "a", `project_name has the character \x1b (character 1)`},
		{"bell", "d", `ding\u0007`, "a", `project_name has the character \a`},
		{"bidi override", "d", `gpj.\u202eexe`, "a", `project_name has the character \u202e`},
		{"300000 ESC", "d", strings.Repeat(`\u001b`, 300000), "a", `\x1b`},
		{"201 characters", "d", strings.Repeat("名", 201), "a", "is 201 characters long, over the limit of 200; shorten it"},
		{"folder with ESC", "d\x1b[2J", "", "a", `the folder's name, sent as the project name since project_name is not set, has the character \x1b`},
		{"id with bidi", "d", "p", "a\u202ex", `id "a\u202ex"`},
		{"200 characters, ideographic space, timestamp", "d", strings.Repeat("名", 170) + "　{{timestamp}}", "a", ""},
	} {
		dir := filepath.Join(t.TempDir(), c.folder)
		write(t, dir, "manifest.json", []byte(`{"version":"1.0","floor_map":{"0":0},"project_name":"`+c.project+`","scan_list":[{"id":"`+c.id+`","floor":0}]}`))
		write(t, dir, "images/"+c.id+".jpg", pano)
		_, err := validate(dir)
		switch {
		case c.says == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.says != "" && err == nil:
			t.Errorf("%s: accepted", c.name)
		case c.says != "" && (!strings.Contains(err.Error(), "manifest.json: ") || !strings.Contains(err.Error(), c.says)):
			t.Errorf("%s: %v\nwant it to say %s", c.name, err, c.says)
		}
		if err != nil && len(err.Error()) > 4096 {
			t.Errorf("%s: the error is %d bytes", c.name, len(err.Error()))
		}
	}
}
