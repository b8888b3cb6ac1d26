package aholo

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scandrop/scandrop/internal/testkit/testmedia"
)

// TestOpenLimits: what a drop claims or names that must not reach Aholo
// is refused with the file, the value and the fix — header claims beyond
// the limits, names differing only in case, a project name with control
// characters or over 200 characters, a symlinked folder the selection
// would look into — and the same drop without it opens.
func TestOpenLimits(t *testing.T) {
	jpg, png := testmedia.JPEG(64, 32, 1), testmedia.PNG(64, 32, 2)
	mp4 := testmedia.MP4Bytes(640, 480, 3000, 512)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "001.jpg"), jpg, 0o644)
	for _, c := range []struct {
		name, folder, yaml string
		files              map[string][]byte
		link               string // a symlink to outside/ at this path
		says               []string
	}{
		{"jpeg 65535 square", "", "", map[string][]byte{"images/a.jpg": testmedia.JPEGClaiming(jpg, 65535, 65535)}, "",
			[]string{"images/a.jpg: the JPEG header claims 65535x65535 pixels, over the limit of 30000 pixels per side"}},
		{"png 100000 square", "", "", map[string][]byte{"images/a.png": testmedia.PNGClaiming(png, 100000, 100000)}, "",
			[]string{"images/a.png: the PNG header claims 100000x100000 pixels"}},
		{"png 10000 square in 1 KB", "", "", map[string][]byte{"images/a.png": testmedia.PNGClaiming(png, 10000, 10000)}, "",
			[]string{"images/a.png: the PNG header claims 10000x10000 pixels", "deflate shrinks at most 1032 times"}},
		{"mp4 tkhd 65535 square", "", "", map[string][]byte{"images/a.jpg": jpg, "walk.mp4": testmedia.MP4Bytes(65535, 65535, 3000, 512)}, "",
			[]string{"walk.mp4: the track header says the picture is 65535x65535, over the limit of 16384 pixels per side"}},
		{"mp4 2^64-1 s", "", "", map[string][]byte{"images/a.jpg": jpg, "walk.mp4": testmedia.MP4Lasting(mp4, 1, math.MaxUint64)}, "",
			[]string{"walk.mp4: the movie header says the video lasts 18446744073709551615 s", "over the limit of 86400 s (24 h)"}},
		{"ids differing in case", "", "", map[string][]byte{"images/a.jpg": jpg, "images/A.jpg": jpg}, "",
			[]string{"images/a.jpg: differs only in case from images/A.jpg"}},
		{"pattern differing in case", "", "resources: [images/A.jpg]\n", map[string][]byte{"images/a.jpg": jpg}, "",
			[]string{`recon.yaml:1: resources: "images/A.jpg" matches no file; images/a.jpg differs only in case`}},
		{"name with escapes", "", "name: \"a\\e]0;x\\a\"\n", map[string][]byte{"images/a.jpg": jpg}, "",
			[]string{`recon.yaml:1: name has the character \x1b (character 2)`}},
		{"name with bidi", "", "name: \"gpj.\\u202Eexe\"\n", map[string][]byte{"images/a.jpg": jpg}, "",
			[]string{`recon.yaml:1: name has the character \u202e`}},
		{"name of 100000 ESC", "", "name: \"" + strings.Repeat(`\e`, 100000) + "\"\n", map[string][]byte{"images/a.jpg": jpg}, "",
			[]string{`recon.yaml:1: name has the character \x1b`}},
		{"name of 201 characters", "", "name: " + strings.Repeat("名", 201) + "\n", map[string][]byte{"images/a.jpg": jpg}, "",
			[]string{"recon.yaml:1: name is 201 characters long, over the limit of 200; shorten it"}},
		{"folder name with ESC", "scan\x1b[2J", "", map[string][]byte{"images/a.jpg": jpg}, "",
			[]string{`recon.yaml: the folder's name, sent as the project name since name: is not set, has the character \x1b`}},
		{"file name with bidi", "", "", map[string][]byte{"images/a\u202egpj.jpg": jpg, "images/b.jpg": jpg}, "",
			[]string{"images/a\u202egpj.jpg: the name, sent to Aholo, has the character \\u202e"}},
		{"images/ a symlink", "", "", map[string][]byte{"recon.yaml": nil}, "images",
			[]string{"images: images/ is a symlink; scandrop does not follow links out of a drop; copy the files in"}},
		{"pattern through a symlink", "", "resources: [shots/*.jpg, images/*.jpg]\n", map[string][]byte{"images/a.jpg": jpg}, "shots",
			[]string{"shots: shots/ is a symlink"}},
		{"good, with an unused symlink and a name of 200 characters", "", "name: " + strings.Repeat("名", 200) + "\nresources: [images/*.jpg]\n",
			map[string][]byte{"images/a.jpg": jpg, "images/b.png": png, "walk.mp4": mp4}, "elsewhere", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			folder := c.folder
			if folder == "" {
				folder = "scan"
			}
			dir := filepath.Join(t.TempDir(), folder)
			for name, data := range c.files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			os.WriteFile(filepath.Join(dir, Marker), []byte(c.yaml), 0o644)
			if c.link != "" {
				if err := os.Symlink(outside, filepath.Join(dir, c.link)); err != nil {
					t.Fatal(err)
				}
			}
			_, err := New(Config{}).Open(context.Background(), dir)
			got := strings.Join(problemsOf(t, err), "\n")
			if c.says == nil && err != nil {
				t.Fatalf("refused:\n%s", got)
			}
			for _, s := range c.says {
				if !strings.Contains(got, s) {
					t.Errorf("problems do not say %q:\n%s", s, got)
				}
			}
			if len(got) > 8192 {
				t.Errorf("problems are %d bytes", len(got))
			}
		})
	}
}
