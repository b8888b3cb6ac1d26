package aholo

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/scandrop/scandrop/internal/testkit/testmedia"
	"github.com/scandrop/scandrop/vendors"
)

// writeFiles creates the named files under a new temporary folder.
func writeFiles(t testing.TB, files map[string][]byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "chair-scan")
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	if k := vendors.KindOf(err); k != vendors.Invalid {
		t.Fatalf("error %v has kind %v, want invalid", err, k)
	}
	var ps vendors.Problems
	if !errorsAs(err, &ps) {
		t.Fatalf("error %v does not wrap vendors.Problems", err)
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func TestOpenProblems(t *testing.T) {
	jpg1, jpg2 := testmedia.JPEG(64, 48, 1), testmedia.JPEG(64, 48, 2)
	big := testmedia.JPEG(320, 240, 5)
	base := func() map[string][]byte {
		return map[string][]byte{"images/001.jpg": jpg1, "images/002.jpg": jpg2}
	}
	tests := []struct {
		name  string
		yaml  string
		extra map[string][]byte
		want  []string
	}{
		{"bad quality", "name: x\nscene: model\nquality: BEST\n", nil,
			[]string{`recon.yaml:3: quality: "BEST" is not one of LOW, NORMAL, HIGH, ULTRA`}},
		{"bad scene", "scene: room\n", nil,
			[]string{`recon.yaml:1: scene: "room" is not one of model, space`}},
		{"bad access", "access: secret\n", nil,
			[]string{`recon.yaml:1: access: "secret" is not one of public, private`}},
		{"yes is not a boolean", "panorama: yes\n", nil,
			[]string{`recon.yaml:1: panorama: "yes" is not true or false`}},
		{"number is not a boolean", "upload_sog: false\ndownload_assets: 1\n", nil,
			[]string{`recon.yaml:2: download_assets: "1" is not true or false`}},
		{"unknown key", "name: x\ncolour: red\n", nil,
			[]string{`recon.yaml:2: unknown key "colour"; known keys: name, scene, quality, access, panorama, upload_sog, cover, resources, download_assets`}},
		{"key twice", "quality: LOW\n# comment\nquality: HIGH\n", nil,
			[]string{`recon.yaml:3: quality: set twice (first on line 1); keep one`}},
		{"list for a name", "name: [a, b]\n", nil,
			[]string{`recon.yaml:1: name: expected a single value, found a list`}},
		{"empty name", "name: \"  \"\n", nil,
			[]string{`recon.yaml:1: name: empty; remove the key to use the folder name`}},
		{"syntax error", "name: x\nresources: [images/*.jpg\ncover: images/001.jpg\n", nil,
			[]string{`recon.yaml:2: not valid YAML: did not find expected ',' or ']'`}},
		{"tab indentation", "name: x\n\tquality: LOW\n", nil,
			[]string{`recon.yaml:2: not valid YAML: found a tab character that violates indentation`}},
		{"not a mapping", "- images/001.jpg\n", nil,
			[]string{`recon.yaml:1: expected settings as "key: value" lines, found a list`}},
		{"pattern matches nothing", "resources:\n  - images/*.jpg\n  - images/*.JPG\n", nil,
			[]string{`recon.yaml:3: resources: "images/*.JPG" matches no file; images/001.jpg differs only in case (patterns match case exactly); write the pattern as the files are named`}},
		{"bad pattern", "resources:\n  - images/[.jpg\n  - images/*.jpg\n", nil,
			[]string{`recon.yaml:2: resources: "images/[.jpg" is not a valid pattern (syntax error in pattern)`}},
		{"escaping pattern", "resources: [../*.jpg, images/*.jpg]\n", nil,
			[]string{`recon.yaml:1: resources: "../*.jpg" must be relative to the folder, with "/" and without ".."`}},
		{"empty resources", "resources: []\n", nil,
			[]string{`recon.yaml:1: resources: empty list; remove the key to take every image and video in the folder`}},
		{"cover not a resource", "resources: [images/001.jpg]\ncover: images/002.jpg\n", nil,
			[]string{`recon.yaml:2: cover: "images/002.jpg" is not among the resources; name one of the images listed under resources`}},
		{"cover outside", "cover: /etc/passwd\n", nil,
			[]string{`recon.yaml:1: cover: "/etc/passwd": absolute path not allowed; give a path relative to the folder, like images/001.jpg`}},
		{"plain name of a text file", "resources: [\"images/*\", notes.txt]\n", map[string][]byte{"notes.txt": []byte("hello"), "images/readme.txt": []byte("skipped")},
			[]string{`notes.txt: not an image (jpg, jpeg, png) or video (mp4, mov); narrow the resources patterns in recon.yaml`}},
		{"no resources at all", "", map[string][]byte{"images/001.jpg": nil, "images/002.jpg": nil, "readme.txt": []byte("x")},
			nil}, // replaced below: zero-byte files
		{"every problem at once", "quality: best\nscene: room\nresources:\n  - images/*.jpg\n  - video/*.mp4\n", map[string][]byte{
			"images/003.jpg": []byte{},
			"images/004.jpg": testmedia.PNG(8, 8, 1),
			"images/005.jpg": big[:len(big)*3/4],
			"images/006.jpg": []byte("<html>not a photo</html>"),
		}, []string{
			`recon.yaml:1: quality: "best" is not one of LOW, NORMAL, HIGH, ULTRA`,
			`recon.yaml:2: scene: "room" is not one of model, space`,
			`recon.yaml:5: resources: "video/*.mp4" matches no file`,
			`images/003.jpg: empty file (0 bytes); copy it again`,
			`images/004.jpg: not a JPEG (starts with PNG header); rename it to .png`,
			`images/005.jpg: truncated JPEG (no end marker, ` + itoa(len(big)*3/4) + ` bytes); copy the file again`,
			`images/006.jpg: not a JPEG (unknown content)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := base()
			for k, v := range tt.extra {
				files[k] = v
			}
			want := tt.want
			if tt.name == "no resources at all" {
				files = map[string][]byte{"readme.txt": []byte("x"), ".hidden.jpg": jpg1, "~tmp.jpg": jpg1}
				want = []string{"no images (jpg, jpeg, png) or videos (mp4, mov) in the folder; add the captures, or list them under resources: in recon.yaml"}
			}
			files[Marker] = []byte(tt.yaml)
			dir := writeFiles(t, files)
			_, err := New(Config{}).Open(context.Background(), dir)
			got := problemsOf(t, err)
			if !slices.Equal(got, want) {
				t.Errorf("problems:\n got  %q\n want %q", got, want)
			}
		})
	}
}

func itoa(n int) string { return fmtInt(n) }

func TestOpenDefaults(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{
		Marker:                []byte(""),
		"b/002.png":           testmedia.PNG(40, 30, 2),
		"a/001.jpg":           testmedia.JPEG(64, 48, 1),
		"a/.DS_Store":         []byte("x"),
		".thumbs/003.jpg":     testmedia.JPEG(8, 8, 3),
		"a/001.jpg.part":      []byte("x"),
		"notes.txt":           []byte("x"),
		"c/upload.tmp":        []byte("x"),
		"c/Thumbs.db":         []byte("x"),
		"assets/result.ply":   []byte("x"),
		"deep/er/004.JPEG":    testmedia.JPEG(10, 20, 4),
		"deep/er/~locked.jpg": testmedia.JPEG(10, 20, 4),
	})
	job, err := New(Config{}).Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	j := job.(*Job)
	var names []string
	for _, f := range j.files {
		names = append(names, f.Name)
	}
	if want := []string{"a/001.jpg", "b/002.png", "deep/er/004.JPEG"}; !slices.Equal(names, want) {
		t.Errorf("resources %q, want %q", names, want)
	}
	r := j.recon
	if r.Name != "chair-scan" || r.Scene != "model" || r.Quality != "NORMAL" || r.Public || r.Panorama || r.UploadSog || r.DownloadAssets != nil {
		t.Errorf("defaults: %+v", r)
	}
	if j.cover != "a/001.jpg" {
		t.Errorf("cover %q, want the first image", j.cover)
	}
	if f := j.files[2]; f.Width != 10 || f.Height != 20 {
		t.Errorf("%s: %dx%d, want 10x20", f.Name, f.Width, f.Height)
	}
}

func TestOpenSettings(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{
		Marker: []byte(`name: " Chair 2 "
scene: Space
quality: high
access: public
panorama: true
upload_sog: true
cover: images/002.jpg
resources: images/*.jpg
download_assets: true
`),
		"images/001.jpg": testmedia.JPEG(64, 48, 1),
		"images/002.jpg": testmedia.JPEG(64, 48, 2),
		"other/003.jpg":  testmedia.JPEG(64, 48, 3),
	})
	job, err := New(Config{}).Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	j := job.(*Job)
	r := j.recon
	if r.Name != "Chair 2" || r.Scene != "space" || r.Quality != "HIGH" || !r.Public || !r.Panorama || !r.UploadSog ||
		r.DownloadAssets == nil || !*r.DownloadAssets || j.cover != "images/002.jpg" || len(j.files) != 2 {
		t.Errorf("settings: %+v cover %q files %d", r, j.cover, len(j.files))
	}
}

func TestOpenRefusesSymlinks(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{Marker: nil, "images/001.jpg": testmedia.JPEG(64, 48, 1)})
	outside := filepath.Join(t.TempDir(), "secret.jpg")
	os.WriteFile(outside, testmedia.JPEG(8, 8, 1), 0o644)
	if err := os.Symlink(outside, filepath.Join(dir, "images", "002.jpg")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	_, err := New(Config{}).Open(context.Background(), dir)
	want := []string{"images/002.jpg: is a symlink; symlinks are refused, copy the file into the folder"}
	if got := problemsOf(t, err); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestOpenMissingMarker(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{"images/001.jpg": testmedia.JPEG(64, 48, 1)})
	_, err := New(Config{}).Open(context.Background(), dir)
	want := []string{"recon.yaml: missing; an Aholo drop needs a recon.yaml at the folder's root (it may be empty)"}
	if got := problemsOf(t, err); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSignature(t *testing.T) {
	// echo -n "test-secrettest-keytest-uid1700000000000" | md5sum
	if got := Signature("test-secret", "test-key", "test-uid", "1700000000000"); got != "23ff74f0a45bf99f9450cfbbeecc3c57" {
		t.Errorf("with appuid: %s", got)
	}
	// echo -n "test-secrettest-key1700000000000" | md5sum
	if got := Signature("test-secret", "test-key", "", "1700000000000"); got != "34718a235a7a662cac4142406552901a" {
		t.Errorf("without appuid: %s", got)
	}
	clock := fixedClock{ms: 1700000000000}
	req, _ := http.NewRequest("GET", "https://x.test/v2/aholo/upload/token?keep=1&sign=old", nil)
	OpenAPISigner{AppKey: "test-key", AppSecret: "test-secret", AppUID: "test-uid", Clock: clock}.Sign(req)
	q := req.URL.Query()
	if q.Get("appkey") != "test-key" || q.Get("appuid") != "test-uid" || q.Get("timestamp") != "1700000000000" ||
		q.Get("sign") != "23ff74f0a45bf99f9450cfbbeecc3c57" || q.Get("keep") != "1" || len(q["sign"]) != 1 {
		t.Errorf("signed query: %v", q)
	}
}

func TestParseLackBlocks(t *testing.T) {
	tests := []struct {
		raw    string
		blocks int
		want   []int
		bad    bool
	}{
		{`null`, 4, []int{1, 2, 3, 4}, false},
		{``, 3, []int{1, 2, 3}, false},
		{`"1,3,5-7"`, 8, []int{1, 3, 5, 6, 7}, false},
		{`"72-75"`, 75, []int{72, 73, 74, 75}, false},
		{`" 2 , 1 ,2"`, 3, []int{1, 2}, false},
		{`""`, 3, nil, false},
		{`[]`, 3, nil, false},
		{`["1","3-4"]`, 4, []int{1, 3, 4}, false},
		{`[2, 4]`, 4, []int{2, 4}, false},
		{`"0"`, 3, nil, true},
		{`"2-9"`, 3, nil, true},
		{`"3-2"`, 3, nil, true},
		{`"x"`, 3, nil, true},
		{`{"a":1}`, 3, nil, true},
	}
	for _, tt := range tests {
		got, err := parseLackBlocks([]byte(tt.raw), tt.blocks)
		if (err != nil) != tt.bad || !slices.Equal(got, tt.want) {
			t.Errorf("parseLackBlocks(%s, %d) = %v, %v; want %v (error %v)", tt.raw, tt.blocks, got, err, tt.want, tt.bad)
		}
	}
}

// TestOUSBase: the upload host is https://{globalDomain}, as the document
// says, whatever the host looks like (loopback and IP hosts included); a
// domain given with a scheme must say https.
func TestOUSBase(t *testing.T) {
	for in, want := range map[string]string{
		"ous.kujiale.com":          "https://ous.kujiale.com",
		"https://ous.kujiale.com/": "https://ous.kujiale.com",
		"10.0.0.5:8080":            "https://10.0.0.5:8080",
		"127.0.0.1:4321":           "https://127.0.0.1:4321",
		"localhost:4321":           "https://localhost:4321",
		"[::1]:4321":               "https://[::1]:4321",
		"oss-cn.example.com:8443":  "https://oss-cn.example.com:8443",
	} {
		u, err := ousBase(in)
		if err != nil || u.String() != want {
			t.Errorf("ousBase(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, bad := range []string{"", "ftp://x", "https://", "http://10.0.0.5:8080", "http://ous.kujiale.com",
		// Only host[:port]: a path, query, fragment or user info would send
		// the uploads (and the token) elsewhere.
		"127.0.0.2:8443/evil?x=", "127.0.0.1:8445@127.0.0.2:8443", "https://u:p@ous.kujiale.com",
		"ous.kujiale.com/evil", "ous.kujiale.com?x", "ous.kujiale.com#f", "ous.kujiale.com:", "ous kujiale.com",
		"ous.kujiale.com\\@evil.com", "https://ous.kujiale.com/x/"} {
		if _, err := ousBase(bad); err == nil {
			t.Errorf("ousBase(%q) accepted", bad)
		}
	}
}
