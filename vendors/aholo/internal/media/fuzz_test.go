package media_test

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/scandrop/scandrop/internal/testkit/testmedia"
	"github.com/scandrop/scandrop/vendors/aholo/internal/media"
)

// The fuzz targets probe a file made of the fuzzer's bytes followed by
// sparseKiB KiB of zeros (a sparse file's hole, which a header may claim
// to fill). Whatever the bytes, a probe must not panic, must allocate no
// more than allocLimit, must either fail with a one-line message fit for
// result.json or return a usable size (and duration), and must name no
// file itself (the caller adds the name).

func FuzzProbeJPEG(f *testing.F) { fuzzProbe(f, "images/scan.jpg") }
func FuzzProbePNG(f *testing.F)  { fuzzProbe(f, "images/scan.png") }

// FuzzProbeVideo probes as .mov and as .mp4 (the same box reader).
func FuzzProbeVideo(f *testing.F) { fuzzProbe(f, "clips/walk.mov", "clips/walk.mp4") }

func fuzzProbe(f *testing.F, names ...string) {
	f.Fuzz(func(t *testing.T, data []byte, sparseKiB uint16) {
		size := int64(len(data)) + int64(sparseKiB)<<10
		for _, name := range names {
			info, err, alloc := probe(sparse{data, size}, size, name)
			if alloc > allocLimit {
				t.Fatalf("%s of %d bytes: allocated %d bytes", name, size, alloc)
			}
			if err != nil {
				msg := err.Error()
				if msg == "" || !utf8.ValidString(msg) || strings.ContainsFunc(msg, unicode.IsControl) {
					t.Fatalf("%s: unfit message %q", name, msg)
				}
				if strings.Contains(msg, name) || strings.Contains(msg, filepath.Base(name)) {
					t.Fatalf("%s: message names the file itself: %q", name, msg)
				}
				continue
			}
			if info.Width <= 0 || info.Height <= 0 {
				t.Fatalf("%s: accepted without a size: %+v", name, info)
			}
			if info.Kind == media.Video && (info.Duration <= 0 || math.IsInf(info.Duration, 0) || math.IsNaN(info.Duration)) {
				t.Fatalf("%s: accepted without a duration: %+v", name, info)
			}
		}
	})
}

// TestWriteFuzzSeeds writes the seed corpora of the fuzz targets into
// testdata/fuzz when SCANDROP_WRITE_SEEDS=1: real files and the hostile
// ones of issue 12. The corpora are committed; this regenerates them.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("SCANDROP_WRITE_SEEDS") != "1" {
		t.Skip("set SCANDROP_WRITE_SEEDS=1 to regenerate testdata/fuzz")
	}
	jpg, png := testmedia.JPEG(64, 32, 1), testmedia.PNG(64, 32, 2)
	mp4 := testmedia.MP4Bytes(640, 480, 3000, 512)
	seeds := map[string]map[string]seed{
		"FuzzProbeJPEG": {
			"good":                    {jpg, 0},
			"truncated":               {jpg[:len(jpg)/2], 0},
			"huge-segment":            {append(append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF}, "Exif\x00\x00"...), jpg[2:100]...), 0},
			"sparse-tail":             {jpg[:200], 4096},
			"png-named-jpeg":          {png, 0},
			"claims-65535sq":          {testmedia.JPEGClaiming(jpg, 65535, 65535), 0},
			"claims-60000x30000":      {testmedia.JPEGClaiming(jpg, 60000, 30000), 0},
			"claims-8000x4000-in-1KB": {testmedia.JPEGClaiming(jpg, 8000, 4000), 0},
		},
		"FuzzProbePNG": {
			"good":                  {png, 0},
			"truncated":             {png[:40], 0},
			"huge-chunk":            {append(append([]byte{}, png[:33]...), 0x7F, 0xFF, 0xFF, 0xFF, 't', 'E', 'X', 't'), 2048},
			"huge-ihdr":             {append(append([]byte{}, png[:8]...), 0xFF, 0xFF, 0xFF, 0xF0, 'I', 'H', 'D', 'R'), 0},
			"claims-100000sq":       {testmedia.PNGClaiming(png, 100000, 100000), 0},
			"claims-10000sq-in-1KB": {testmedia.PNGClaiming(png, 10000, 10000), 0},
		},
		"FuzzProbeVideo": {
			"good":           {mp4, 0},
			"hdlr-1.5GB":     {testmedia.Declare(mp4, "hdlr", 1_500_000_000), 0},
			"sparse-hdlr":    {testmedia.HugeHeaderBox("hdlr", 60<<20), 64000},
			"stsz-entries":   {testmedia.DeclareEntries(mp4, "stsz", 400_000_000), 0},
			"stco-huge":      {testmedia.Declare(mp4, "stco", 3_000_000_000), 0},
			"ftyp-huge":      {testmedia.Declare(mp4, "ftyp", 3_000_000_000), 0},
			"moov-huge":      {testmedia.Declare(mp4, "moov", 3_000_000_000), 0},
			"mdat-huge":      {testmedia.Declare(mp4, "mdat", 3_000_000_000), 0},
			"udta-huge":      {testmedia.Declare(mp4, "udta", 3_000_000_000), 0},
			"meta-huge":      {testmedia.Declare(mp4, "meta", 3_000_000_000), 0},
			"uuid-huge":      {testmedia.Declare(mp4, "uuid", 3_000_000_000), 0},
			"largesize":      {append([]byte{0, 0, 0, 1, 'f', 't', 'y', 'p', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0}, mp4[16:]...), 0},
			"extends-to-end": {append([]byte{0, 0, 0, 0}, mp4[4:]...), 0},
			"tkhd-65535sq":   {testmedia.MP4Bytes(65535, 65535, 3000, 512), 0},
			"mvhd-v1-max":    {testmedia.MP4Lasting(mp4, 1, math.MaxUint64), 0},
		},
	}
	for target, files := range seeds {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, s := range files {
			if err := os.WriteFile(filepath.Join(dir, name), s.encode(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

type seed struct {
	data      []byte
	sparseKiB uint16
}

// encode writes a seed in the fuzzing engine's corpus format.
func (s seed) encode() []byte {
	return []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(s.data)) + ")\nuint16(" + strconv.Itoa(int(s.sparseKiB)) + ")\n")
}
