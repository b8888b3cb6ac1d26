package media_test

import (
	"bytes"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/scandrop/scandrop/internal/testkit/testmedia"
	"github.com/scandrop/scandrop/vendors/aholo/internal/media"
)

// sparse is a file of size bytes that starts with data and holds zeros
// after it, as a sparse file on disk does: a test can probe a "3 GB" file
// without writing one.
type sparse struct {
	data []byte
	size int64
}

func (s sparse) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), s.size-off))
	clear(p[:n])
	if off < int64(len(s.data)) {
		copy(p[:n], s.data[off:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// allocLimit bounds what one probe may allocate, whatever the file claims:
// a few small buffers and the 64 KiB tail of an image.
const allocLimit = 1 << 20

// probe runs media.Probe and measures the bytes it allocated.
func probe(r io.ReaderAt, size int64, name string) (media.Info, error, uint64) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	info, err := media.Probe(r, size, name)
	runtime.ReadMemStats(&after)
	return info, err, after.TotalAlloc - before.TotalAlloc
}

func TestProbeGoodMP4Bytes(t *testing.T) {
	data := testmedia.MP4Bytes(1920, 1080, 12500, 4096)
	for _, name := range []string{"walk.mp4", "walk.MOV"} {
		info, err := media.Probe(bytes.NewReader(data), int64(len(data)), name)
		if err != nil || info.Width != 1920 || info.Height != 1080 || info.Duration != 12.5 {
			t.Errorf("%s: %+v, %v", name, info, err)
		}
	}
}

// TestProbeHostileBoxes: any box declaring more than it holds — past the
// end of the file, past its parent, a header box of gigabytes in a sparse
// file big enough to hold it, a sample table with more entries than its
// box — is refused with the box and its offset, and the probe allocates
// no more than for a good file.
func TestProbeHostileBoxes(t *testing.T) {
	good := testmedia.MP4Bytes(640, 480, 3000, 4096)
	const gb15 = 1_500_000_000
	tests := []struct {
		name string
		data []byte
		size int64 // apparent (sparse) size; 0: len(data)
		want string
	}{
		{"ftyp huge", testmedia.Declare(good, "ftyp", gb15), 0, `truncated video (box "ftyp" needs 1500000000 bytes`},
		{"moov huge", testmedia.Declare(good, "moov", gb15), 0, `truncated video (box "moov" needs`},
		{"mdat huge", testmedia.Declare(good, "mdat", 3_000_000_000), 0, `truncated video (box "mdat" needs`},
		{"uuid huge", testmedia.Declare(good, "uuid", gb15), 0, `truncated video (box "uuid" needs`},
		{"uuid too short", testmedia.Declare(good, "uuid", 12), 0, `corrupt video (box "uuid" at byte`},
		{"mvhd past moov", testmedia.Declare(good, "mvhd", gb15), 0, `corrupt video (box "mvhd" at byte 32 declares 1500000000 bytes, more than its "moov" box holds)`},
		{"trak past moov", testmedia.Declare(good, "trak", gb15), 0, `corrupt video (box "trak" at byte`},
		{"tkhd past trak", testmedia.Declare(good, "tkhd", gb15), 0, `corrupt video (box "tkhd" at byte`},
		{"hdlr past mdia", testmedia.Declare(good, "hdlr", gb15), 0, `corrupt video (box "hdlr" at byte`},
		{"minf past mdia", testmedia.Declare(good, "minf", gb15), 0, `corrupt video (box "minf" at byte`},
		{"stbl past minf", testmedia.Declare(good, "stbl", gb15), 0, `corrupt video (box "stbl" at byte`},
		{"stsz past stbl", testmedia.Declare(good, "stsz", gb15), 0, `corrupt video (box "stsz" at byte`},
		{"stco past stbl", testmedia.Declare(good, "stco", gb15), 0, `corrupt video (box "stco" at byte`},
		{"udta past moov", testmedia.Declare(good, "udta", gb15), 0, `corrupt video (box "udta" at byte`},
		{"meta past udta", testmedia.Declare(good, "meta", gb15), 0, `corrupt video (box "meta" at byte`},
		{"ilst past meta", testmedia.Declare(good, "ilst", gb15), 0, `corrupt video (box "ilst" at byte`},
		{"stsz entries", testmedia.DeclareEntries(good, "stsz", 400_000_000), 0, `corrupt video (box "stsz" at byte`},
		{"stco entries", testmedia.DeclareEntries(good, "stco", 400_000_000), 0, `corrupt video (box "stco" at byte`},
		{"stts entries", testmedia.DeclareEntries(good, "stts", 1<<31), 0, `corrupt video (box "stts" at byte`},
		{"stsc entries", testmedia.DeclareEntries(good, "stsc", 1<<31), 0, `corrupt video (box "stsc" at byte`},
		{"box of 7 bytes", testmedia.Declare(good, "mdhd", 7), 0, `corrupt video (box "mdhd" at byte`},
		// A sparse file of 3 GB in which the boxes do hold what they
		// declare: the header boxes are still far larger than any real one.
		{"sparse hdlr 1.5 GB", testmedia.HugeHeaderBox("hdlr", gb15), 3_000_000_000, `corrupt video (box "hdlr" at byte`},
		{"sparse tkhd 1.5 GB", testmedia.HugeHeaderBox("tkhd", gb15), 3_000_000_000, `corrupt video (box "tkhd" at byte`},
		{"sparse mvhd 1.5 GB", testmedia.HugeHeaderBox("mvhd", gb15), 3_000_000_000, `corrupt video (box "mvhd" at byte`},
	}
	for _, tt := range tests {
		size := tt.size
		if size == 0 {
			size = int64(len(tt.data))
		}
		for _, name := range []string{"walk.mov", "walk.mp4"} {
			info, err, alloc := probe(sparse{tt.data, size}, size, name)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("%s (%s): %+v, %v; want %q", tt.name, name, info, err, tt.want)
			}
			if alloc > allocLimit {
				t.Errorf("%s (%s): allocated %d bytes", tt.name, name, alloc)
			}
		}
	}
}

// TestProbeHeaderClaims: a header claiming a picture size or a duration no
// capture has, or more pixels than the file's bytes can hold, is refused
// with the value and the limit, not sent on to the vendor; files at sane
// sizes still pass.
func TestProbeHeaderClaims(t *testing.T) {
	jpg, png := testmedia.JPEG(64, 32, 1), testmedia.PNG(64, 32, 2)
	mp4 := testmedia.MP4Bytes(640, 480, 3000, 512)
	for _, c := range []struct {
		name, file string
		data       []byte
		says       []string // "" = accepted
	}{
		{"jpeg 65535x65535", "a.jpg", testmedia.JPEGClaiming(jpg, 65535, 65535), []string{"65535x65535", "30000 pixels per side"}},
		{"jpeg 60000x30000", "a.jpg", testmedia.JPEGClaiming(jpg, 60000, 30000), []string{"60000x30000", "30000"}},
		{"jpeg 20000x15000 (300 MP)", "a.jpg", testmedia.JPEGClaiming(jpg, 20000, 15000), []string{"300 megapixels", "200 megapixels"}},
		{"jpeg 8000x4000 in 1 KB", "a.jpg", testmedia.JPEGClaiming(jpg, 8000, 4000), []string{"8000x4000", "pixels per byte"}},
		{"png 100000x100000", "a.png", testmedia.PNGClaiming(png, 100000, 100000), []string{"100000x100000", "30000"}},
		{"png 10000x10000 in 1 KB", "a.png", testmedia.PNGClaiming(png, 10000, 10000), []string{"10000x10000", "deflate"}},
		{"mp4 tkhd 65535x65535", "a.mp4", testmedia.MP4Bytes(65535, 65535, 3000, 512), []string{"65535x65535", "16384"}},
		{"mp4 tkhd 20000x10000", "a.mov", testmedia.MP4Bytes(20000, 10000, 3000, 512), []string{"20000x10000", "16384"}},
		{"mp4 duration 2^64-1 s", "a.mp4", testmedia.MP4Lasting(mp4, 1, math.MaxUint64), []string{"18446744073709551615 s", "86400 s"}},
		{"mp4 duration 25 h", "a.mp4", testmedia.MP4Lasting(mp4, 1000, 25*3600*1000), []string{"90000 s", "24 h"}},
		{"mp4 8K 23 h", "a.mp4", testmedia.MP4Lasting(testmedia.MP4Bytes(7680, 4320, 3000, 512), 1000, 23*3600*1000), nil},
		{"jpeg good", "a.jpg", jpg, nil},
		{"png good", "a.png", png, nil},
	} {
		info, err := media.Probe(bytes.NewReader(c.data), int64(len(c.data)), c.file)
		if c.says == nil {
			if err != nil {
				t.Errorf("%s: refused: %v", c.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted as %+v", c.name, info)
			continue
		}
		for _, s := range c.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q does not say %q", c.name, err, s)
			}
		}
	}
}
