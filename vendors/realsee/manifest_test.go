package realsee

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scandrop/scandrop/vendors"
)

// jpegBytes encodes a w×h JPEG.
func jpegBytes(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const goodManifest = `{
  "version": "1.0",
  "floor_map": {"0": 1, "1": 2},
  "project_name": "nave-{{timestamp}}",
  "scan_list": [
    {"id": "entrance", "floor": 0},
    {"id": "hall", "floor": 1}
  ]
}`

// writeDrop makes a valid two-scan drop in a new folder.
func writeDrop(t testing.TB) string {
	dir := t.TempDir()
	write(t, dir, "manifest.json", []byte(goodManifest))
	write(t, dir, "images/entrance.jpg", jpegBytes(t, 128, 64))
	write(t, dir, "images/hall.jpg", jpegBytes(t, 256, 128))
	return dir
}

func write(t testing.TB, dir, name string, b []byte) {
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestValidateGood(t *testing.T) {
	dir := writeDrop(t)
	// Noise beside the drop is not part of it.
	write(t, dir, "images/unused.jpg", []byte("not even a jpeg"))
	write(t, dir, ".DS_Store", []byte("x"))
	d, err := validate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.images) != 2 || d.images[1].ZipName != "images/hall.jpg" || d.images[1].Width != 256 {
		t.Fatalf("images: %+v", d.images)
	}
}

// An image whose extension is .JPG or .jpeg is taken and zipped as .jpg;
// the stem must be the id exactly (see TestValidateCase for the rest).
func TestValidateCaseVariant(t *testing.T) {
	for _, name := range []string{"a.JPG", "a.jpeg", "a.JpEg"} {
		dir := t.TempDir()
		write(t, dir, "manifest.json", []byte(`{"version":"1.0","floor_map":{"0":0},"scan_list":[{"id":"a","floor":0}]}`))
		write(t, dir, "images/"+name, jpegBytes(t, 64, 32))
		d, err := validate(dir)
		if err != nil {
			t.Fatal(err)
		}
		if d.images[0].File != "images/"+name || d.images[0].ZipName != "images/a.jpg" {
			t.Fatalf("%+v", d.images[0])
		}
	}
}

// TestValidateBad is the corpus of broken drops: each must be refused with
// a message that names the file and the problem.
func TestValidateBad(t *testing.T) {
	good := jpegBytes(t, 512, 256)
	var pngBuf bytes.Buffer
	png.Encode(&pngBuf, image.NewRGBA(image.Rect(0, 0, 128, 64)))
	outside := t.TempDir()
	write(t, outside, "secret.jpg", good)

	one := func(id string) string {
		return `{"version":"1.0","floor_map":{"0":0},"scan_list":[{"id":` + id + `,"floor":0}]}`
	}
	cases := []struct {
		name     string
		manifest string
		files    map[string][]byte
		setup    func(t *testing.T, dir string)
		file     string // the file the problem must name
		want     string // a part of the message
	}{
		{name: "invalid json", manifest: `{"version": "1.0",`, file: "manifest.json", want: "truncated"},
		{name: "syntax error line", manifest: "{\n\"version\": \"1.0\"\n\"floor_map\": {}}", file: "manifest.json", want: "line 3"},
		{name: "empty manifest", manifest: " ", file: "manifest.json", want: "empty file"},
		{name: "wrong version", manifest: strings.Replace(one(`"a"`), `"1.0"`, `"2.0"`, 1), files: map[string][]byte{"images/a.jpg": good}, file: "manifest.json", want: `version "2.0"`},
		{name: "missing version", manifest: `{"floor_map":{"0":0},"scan_list":[{"id":"a","floor":0}]}`, files: map[string][]byte{"images/a.jpg": good}, file: "manifest.json", want: `"version" is missing`},
		{name: "unknown key", manifest: `{"version":"1.0","floor_map":{"0":0},"scan_lst":[]}`, file: "manifest.json", want: `unknown key "scan_lst"`},
		{name: "floor as string", manifest: `{"version":"1.0","floor_map":{"0":0},"scan_list":[{"id":"a","floor":"0"}]}`, file: "manifest.json", want: "whole number"},
		{name: "empty scan list", manifest: `{"version":"1.0","floor_map":{"0":0},"scan_list":[]}`, file: "manifest.json", want: "scan_list"},
		{name: "no floor map", manifest: `{"version":"1.0","scan_list":[{"id":"a","floor":0}]}`, files: map[string][]byte{"images/a.jpg": good}, file: "manifest.json", want: "floor_map"},
		{name: "floor not in map", manifest: `{"version":"1.0","floor_map":{"0":0},"scan_list":[{"id":"a","floor":3}]}`, files: map[string][]byte{"images/a.jpg": good}, file: "manifest.json", want: "floor 3 is not in floor_map"},
		{name: "missing floor", manifest: `{"version":"1.0","floor_map":{"0":0},"scan_list":[{"id":"a"}]}`, files: map[string][]byte{"images/a.jpg": good}, file: "manifest.json", want: `"floor" is missing`},
		{name: "scan id without image", manifest: one(`"a"`), file: "images/a.jpg", want: "missing"},
		{name: "not a jpeg", manifest: one(`"a"`), files: map[string][]byte{"images/a.jpg": []byte("hello world, no image")}, file: "images/a.jpg", want: "not a JPEG"},
		{name: "png named jpg", manifest: one(`"a"`), files: map[string][]byte{"images/a.jpg": pngBuf.Bytes()}, file: "images/a.jpg", want: "PNG header"},
		{name: "truncated jpeg", manifest: one(`"a"`), files: map[string][]byte{"images/a.jpg": good[:len(good)/2]}, file: "images/a.jpg", want: "truncated JPEG"},
		{name: "truncated in header", manifest: one(`"a"`), files: map[string][]byte{"images/a.jpg": good[:200]}, file: "images/a.jpg", want: "truncated JPEG"},
		{name: "zero-byte image", manifest: one(`"a"`), files: map[string][]byte{"images/a.jpg": {}}, file: "images/a.jpg", want: "empty file"},
		{name: "not 2:1", manifest: one(`"a"`), files: map[string][]byte{"images/a.jpg": jpegBytes(t, 100, 100)}, file: "images/a.jpg", want: "not a 2:1"},
		{name: "duplicate ids", manifest: `{"version":"1.0","floor_map":{"0":0},"scan_list":[{"id":"a","floor":0},{"id":"a","floor":0}]}`, files: map[string][]byte{"images/a.jpg": good}, file: "manifest.json", want: "already used"},
		{name: "dotdot id", manifest: one(`"../../etc/passwd"`), file: "manifest.json", want: "'..' not allowed"},
		{name: "slash id", manifest: one(`"sub/a"`), file: "manifest.json", want: `"/" not allowed`},
		{name: "absolute id", manifest: one(`"/etc/passwd"`), file: "manifest.json", want: "absolute path"},
		{name: "NUL in id", manifest: one(`"a\u0000b"`), file: "manifest.json", want: "control character"},
		{name: "empty id", manifest: one(`""`), file: "manifest.json", want: "empty id"},
		{name: "very long id", manifest: one(`"` + strings.Repeat("x", 300) + `"`), file: "manifest.json", want: "longer than"},
		{name: "symlink outside", manifest: one(`"a"`), setup: func(t *testing.T, dir string) {
			os.MkdirAll(filepath.Join(dir, "images"), 0o755)
			if err := os.Symlink(filepath.Join(outside, "secret.jpg"), filepath.Join(dir, "images", "a.jpg")); err != nil {
				t.Skip("no symlinks here")
			}
		}, file: "images/a.jpg", want: "symlink"},
		{name: "symlinked images dir", manifest: one(`"secret"`), setup: func(t *testing.T, dir string) {
			if err := os.Symlink(outside, filepath.Join(dir, "images")); err != nil {
				t.Skip("no symlinks here")
			}
		}, file: "images/secret.jpg", want: "images/ is a symlink; scandrop does not follow links out of a drop; copy the images in"},
		{name: "manifest is a directory", setup: func(t *testing.T, dir string) {
			os.MkdirAll(filepath.Join(dir, "manifest.json"), 0o755)
		}, file: "manifest.json", want: "directory"},
		{name: "manifest symlink", setup: func(t *testing.T, dir string) {
			write(t, outside, "m.json", []byte(one(`"a"`)))
			os.Symlink(filepath.Join(outside, "m.json"), filepath.Join(dir, "manifest.json"))
		}, file: "manifest.json", want: "symlink"},
		{name: "image is a directory", manifest: one(`"a"`), setup: func(t *testing.T, dir string) {
			os.MkdirAll(filepath.Join(dir, "images", "a.jpg"), 0o755)
		}, file: "images/a.jpg", want: "directory"},
		{name: "unreadable image", manifest: one(`"a"`), files: map[string][]byte{"images/a.jpg": good}, setup: func(t *testing.T, dir string) {
			if os.Geteuid() == 0 {
				t.Skip("root reads everything")
			}
			os.Chmod(filepath.Join(dir, "images", "a.jpg"), 0)
		}, file: "images/a.jpg", want: "permission denied"},
		{name: "non-utf8 id", manifest: "{\"version\":\"1.0\",\"floor_map\":{\"0\":0},\"scan_list\":[{\"id\":\"a\xff\",\"floor\":0}]}", file: "manifest.json", want: "UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.manifest != "" {
				write(t, dir, "manifest.json", []byte(tc.manifest))
			}
			for name, b := range tc.files {
				write(t, dir, name, b)
			}
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			_, err := validate(dir)
			if err == nil {
				t.Fatal("accepted")
			}
			if vendors.KindOf(err) != vendors.Invalid {
				t.Errorf("kind %v, want invalid", vendors.KindOf(err))
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.file+": ") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q should name %q and say %q", msg, tc.file, tc.want)
			}
		})
	}
}
