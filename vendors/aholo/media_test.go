package aholo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scandrop/scandrop/internal/testkit/testmedia"
	"github.com/scandrop/scandrop/vendors/aholo/internal/media"
)

func TestVideoMetadata(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "walk.mp4")
	if err := testmedia.WriteMP4(p, 1920, 1080, 12500, 64<<10); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	info, err := media.Probe(f, fi.Size(), "walk.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != media.Video || info.Width != 1920 || info.Height != 1080 || info.Duration != 12.5 || info.Format != "mp4" {
		t.Errorf("probe: %+v", info)
	}
	// The same file named .mov is read the same way (QuickTime boxes).
	if info, err := media.Probe(f, fi.Size(), "walk.MOV"); err != nil || info.Format != "mov" || info.Width != 1920 {
		t.Errorf("as .mov: %+v, %v", info, err)
	}
}

func TestVideoProblems(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.mp4")
	if err := testmedia.WriteMP4(good, 640, 480, 3000, 32<<10); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(good)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"cut.mp4", data[:len(data)-1000], "truncated video (box \"mdat\" needs"},
		{"empty.mp4", nil, "empty file (0 bytes); copy it again"},
		{"photo.mp4", testmedia.JPEG(8, 8, 1), "not an MP4/MOV video (starts with JPEG header)"},
		{"header.mp4", data[:6], "not an MP4/MOV video (unknown content)"},
		{"nomoov.mp4", noMoov(data), "no movie header ('moov' box)"},
	}
	for _, tt := range tests {
		info, err := media.Probe(strings.NewReader(string(tt.data)), int64(len(tt.data)), tt.name)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: %+v, %v; want %q", tt.name, info, err, tt.want)
		}
	}
}

// noMoov renames the moov box to free, as in a recording never finalised.
func noMoov(data []byte) []byte {
	out := []byte(string(data))
	i := strings.Index(string(out), "moov")
	copy(out[i:], "free")
	return out
}

func TestOpenWithVideo(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{Marker: []byte("cover: images/001.jpg\n"), "images/001.jpg": testmedia.JPEG(64, 48, 1)})
	if err := testmedia.WriteMP4(filepath.Join(dir, "walk.mov"), 1280, 720, 4000, 1024); err != nil {
		t.Fatal(err)
	}
	job, err := New(Config{}).Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	f := job.(*Job).files[1]
	if f.Name != "walk.mov" || f.Kind != media.Video || f.Width != 1280 || f.Height != 720 || f.Duration != 4 {
		t.Errorf("video resource: %+v", f)
	}

	// Video only: no image for the cover.
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, Marker), nil, 0o644)
	testmedia.WriteMP4(filepath.Join(dir, "walk.mp4"), 1280, 720, 4000, 1024)
	_, err = New(Config{}).Open(context.Background(), dir)
	want := "recon.yaml: cover: the resources hold no image to use as the cover; add a JPEG/PNG to the folder and name it in cover:"
	if got := problemsOf(t, err); len(got) != 1 || got[0] != want {
		t.Errorf("video only: %q", got)
	}
}
