// Package media reads what Aholo needs to know about a resource file — its
// kind, pixel size and, for a video, its duration — from the file's own
// headers, and tells in words a person can act on why a file is unusable.
//
// It is shared by the aholo client (validating drops) and by its fake server
// (checking that the meta a client sends matches what it uploaded).
package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // register the decoders DecodeConfig needs
	_ "image/png"
	"io"
	"math"
	"path"
	"strings"
)

// Kind is what a resource is to Aholo.
type Kind int

const (
	Image Kind = iota
	Video
)

func (k Kind) String() string {
	if k == Video {
		return "video"
	}
	return "image"
}

// Info is what the file's headers say.
type Info struct {
	Kind   Kind
	Format string // "jpeg", "png", "mp4", "mov"
	Width  int
	Height int
	// Duration in seconds, videos only.
	Duration float64
}

// KindOf tells from a file name's extension whether it is a resource
// Aholo takes, and which kind.
func KindOf(name string) (Kind, bool) {
	switch strings.ToLower(path.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return Image, true
	case ".mp4", ".mov":
		return Video, true
	}
	return 0, false
}

// What a header may claim. Aholo's document states no limit on a
// resource's size or length (its one example is a 1920x1080 photo), so
// these are ceilings far above any capture, below which a header's claim
// is believed; above them the header is damaged or crafted, and the vendor
// would be sent a size no file has.
const (
	// MaxImageSide: the largest camera sensors and stitched photos stay
	// well under 30,000 pixels per side.
	MaxImageSide = 30000
	// MaxImagePixels: 200 megapixels, above any single capture (the largest
	// sensors give about 150).
	MaxImagePixels = 200_000_000
	// MaxVideoSide: 16K; cameras record at most 8K (360° ones some 11K).
	MaxVideoSide = 16384
	// MaxVideoSeconds: a day. A scan walk lasts minutes; a duration beyond
	// a day is a damaged movie header (2^64-1 units at timescale 1, seen).
	MaxVideoSeconds = 24 * 60 * 60
	// maxJPEGPixelsPerByte: JPEG spends at least a bit or two on every 8x8
	// block of every channel, so even a blank picture costs a byte per some
	// 300 pixels. A header claiming more pixels per byte of file than this
	// describes image data the file does not hold.
	maxJPEGPixelsPerByte = 1000
	// maxDeflateRatio: deflate, which PNG uses, shrinks data at most about
	// 1032 times, so a PNG's file holds at least its raw rows / 1032 bytes.
	maxDeflateRatio = 1032
)

// checkPixels refuses a claimed image size beyond the limits above, or one
// the file is too small to hold. Its messages name the value, the limit
// and the fix.
func checkPixels(r io.ReaderAt, format string, w, h int, size int64) error {
	if w > MaxImageSide || h > MaxImageSide {
		return fmt.Errorf("the %s header claims %dx%d pixels, over the limit of %d pixels per side (a damaged or crafted header, or a file no camera makes); export the image at most %d pixels per side",
			strings.ToUpper(format), w, h, MaxImageSide, MaxImageSide)
	}
	px := int64(w) * int64(h)
	if px > MaxImagePixels {
		return fmt.Errorf("the %s header claims %dx%d pixels (%d megapixels), over the limit of %d megapixels; export the image smaller",
			strings.ToUpper(format), w, h, px/1_000_000, MaxImagePixels/1_000_000)
	}
	switch format {
	case "jpeg":
		if px > size*maxJPEGPixelsPerByte {
			return fmt.Errorf("the JPEG header claims %dx%d pixels, but the file has only %d bytes (over %d pixels per byte, more than JPEG compresses): the header does not match the image data; export the image again",
				w, h, size, maxJPEGPixelsPerByte)
		}
	case "png":
		// IHDR is the first chunk: bit depth and colour type follow the
		// width and height (bytes 24 and 25 of the file).
		var ihdr [2]byte
		if _, err := r.ReadAt(ihdr[:], 24); err != nil {
			return fmt.Errorf("unreadable PNG header (%v); copy the file again", err)
		}
		channels := map[byte]int64{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ihdr[1]]
		bits := int64(ihdr[0]) * max(channels, 1)
		raw := int64(h) * (1 + (int64(w)*bits+7)/8) // a filter byte per row
		if raw > size*maxDeflateRatio {
			return fmt.Errorf("the PNG header claims %dx%d pixels (%d bytes of rows), but the file has only %d bytes (deflate shrinks at most %d times): the header does not match the image data; export the image again",
				w, h, raw, size, maxDeflateRatio)
		}
	}
	return nil
}

// tailWindow is how far from the end a JPEG's end marker or a PNG's IEND
// chunk is looked for: cameras append trailers after them, a truncated copy
// has neither anywhere near its end.
const tailWindow = 64 << 10

var (
	jpegMagic = []byte{0xFF, 0xD8, 0xFF}
	pngMagic  = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}
)

// Probe reads the headers of the file name (size bytes, read through r).
// Its errors are messages for the person who made the drop: what is wrong
// and what to do, without the file name (the caller adds it).
func Probe(r io.ReaderAt, size int64, name string) (Info, error) {
	kind, ok := KindOf(name)
	if !ok {
		return Info{}, errors.New("not a resource type Aholo takes (jpg, jpeg, png, mp4, mov)")
	}
	if size == 0 {
		return Info{}, errors.New("empty file (0 bytes); copy it again")
	}
	head := make([]byte, 12)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	if kind == Image {
		return probeImage(r, size, name, head)
	}
	return probeVideo(r, size, name, head)
}

func sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, jpegMagic):
		return "a JPEG"
	case bytes.HasPrefix(head, pngMagic):
		return "a PNG"
	case len(head) >= 8 && string(head[4:8]) == "ftyp":
		return "an MP4/MOV"
	case bytes.HasPrefix(head, []byte("GIF8")):
		return "a GIF"
	case bytes.HasPrefix(head, []byte("RIFF")):
		return "a RIFF (WebP/AVI)"
	case bytes.HasPrefix(head, []byte("II*\x00")), bytes.HasPrefix(head, []byte("MM\x00*")):
		return "a TIFF/RAW"
	case bytes.HasPrefix(head, []byte("%PDF")):
		return "a PDF"
	}
	return ""
}

func notA(want string, head []byte) error {
	if got := sniff(head); got != "" {
		return fmt.Errorf("not %s (starts with %s header)", want, strings.TrimPrefix(strings.TrimPrefix(got, "an "), "a "))
	}
	return fmt.Errorf("not %s (unknown content)", want)
}

func probeImage(r io.ReaderAt, size int64, name string, head []byte) (Info, error) {
	ext := strings.ToLower(path.Ext(name))
	info := Info{Kind: Image}
	var end []byte
	switch {
	case ext == ".png":
		if !bytes.HasPrefix(head, pngMagic) {
			if bytes.HasPrefix(head, jpegMagic) {
				return info, errors.New("not a PNG (starts with JPEG header); rename it to .jpg")
			}
			return info, notA("a PNG", head)
		}
		info.Format, end = "png", []byte("IEND")
	default:
		if !bytes.HasPrefix(head, jpegMagic) {
			if bytes.HasPrefix(head, pngMagic) {
				return info, errors.New("not a JPEG (starts with PNG header); rename it to .png")
			}
			return info, notA("a JPEG", head)
		}
		info.Format, end = "jpeg", []byte{0xFF, 0xD9}
	}
	cfg, _, err := image.DecodeConfig(io.NewSectionReader(r, 0, size))
	if err != nil {
		return info, fmt.Errorf("unreadable %s header (%v); the file may be truncated, copy it again", strings.ToUpper(info.Format), err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return info, fmt.Errorf("image has no pixels (%dx%d)", cfg.Width, cfg.Height)
	}
	if err := checkPixels(r, info.Format, cfg.Width, cfg.Height, size); err != nil {
		return info, err
	}
	info.Width, info.Height = cfg.Width, cfg.Height
	off := max(size-tailWindow, 0)
	tail := make([]byte, size-off)
	if _, err := r.ReadAt(tail, off); err != nil && !errors.Is(err, io.EOF) {
		return info, fmt.Errorf("read: %v", err)
	}
	if !bytes.Contains(tail, end) {
		return info, fmt.Errorf("truncated %s (no end marker, %d bytes); copy the file again", strings.ToUpper(info.Format), size)
	}
	return info, nil
}

var topLevelBoxes = map[string]bool{
	"ftyp": true, "moov": true, "mdat": true, "free": true, "skip": true,
	"wide": true, "pnot": true, "uuid": true, "meta": true, "moof": true,
	"mfra": true, "styp": true, "sidx": true, "pdin": true,
}

// The video probe reads box headers and a few fixed fields itself, and
// never a payload whose length the file declares: a header may claim
// gigabytes (a damaged or hostile file), and a parser that allocates what
// a header claims lets one small file exhaust the daemon's memory. Every
// box visited is checked to lie within its parent (the file at the top).
const (
	// maxBoxes bounds the boxes one probe visits (one small read each):
	// a real video has tens in its moov, a fragmented one a few per
	// fragment at the top level.
	maxBoxes = 1 << 20
	// maxDepth bounds the nesting of the containers walked.
	maxDepth = 16
	// maxHeaderBox bounds the boxes whose fields are read (mvhd, tkhd,
	// hdlr): each holds about a hundred bytes.
	maxHeaderBox = 64 << 10
)

// box is the header of one box of an MP4/MOV file.
type box struct {
	typ  string // four characters, as in the file
	off  int64  // offset of the box in the file
	hdr  int64  // header length: 8, 16 with a 64-bit size, +16 for uuid
	size int64  // whole box, header included
}

func (b box) end() int64     { return b.off + b.size }
func (b box) payload() int64 { return b.off + b.hdr }

// containers are the boxes inside moov made only of boxes, walked to check
// that every header fits in its parent. meta is handled apart (ISO puts 4
// bytes of version and flags before its boxes, QuickTime does not).
var containers = map[string]bool{
	"moov": true, "trak": true, "mdia": true, "minf": true, "stbl": true,
	"edts": true, "dinf": true, "udta": true, "mvex": true, "tref": true,
	"clip": true, "matt": true, "gmhd": true, "ilst": true,
}

// tables are the sample tables: a version and flags, an entry count and
// entries of a fixed size. An entry count the box cannot hold is a damaged
// file (the vendor's parser would allocate from it).
var tables = map[string]struct{ skip, entry int64 }{
	"stco": {0, 4}, "co64": {0, 8}, "stts": {0, 8}, "ctts": {0, 8},
	"stsc": {0, 12}, "stss": {0, 4}, "stsz": {4, 4},
}

// walker reads the boxes of one file.
type walker struct {
	r     io.ReaderAt
	size  int64
	boxes int
}

// at reads the header of the box at off, which must end by end (the end of
// its parent, or of the file when parent is "").
func (w *walker) at(off, end int64, parent string) (box, error) {
	w.boxes++
	if w.boxes > maxBoxes {
		return box{}, fmt.Errorf("corrupt video (more than %d boxes); export the video again", maxBoxes)
	}
	var h [32]byte
	n, _ := w.r.ReadAt(h[:min(int64(len(h)), end-off)], off)
	if n < 8 {
		if parent == "" {
			return box{}, fmt.Errorf("truncated video (box header at byte %d cut off); copy the file again", off)
		}
		return box{}, fmt.Errorf("corrupt video (box header at byte %d cut off by the end of its %q box); export the video again", off, parent)
	}
	b := box{typ: string(h[4:8]), off: off, hdr: 8}
	size := uint64(binary.BigEndian.Uint32(h[0:4]))
	switch size {
	case 0: // extends to the end of the file (or, leniently, of its parent)
		size = uint64(end - off)
	case 1: // a 64-bit size follows the type
		if n < 16 {
			return box{}, fmt.Errorf("truncated video (box %q at byte %d: its 64-bit size is cut off); copy the file again", b.typ, off)
		}
		size, b.hdr = binary.BigEndian.Uint64(h[8:16]), 16
	}
	if b.typ == "uuid" {
		b.hdr += 16
	}
	if size < uint64(b.hdr) || int64(b.hdr) > int64(n) {
		return box{}, fmt.Errorf("corrupt video (box %q at byte %d has size %d)", b.typ, off, size)
	}
	if size > uint64(end-off) {
		if parent == "" {
			need := uint64(off) + size
			if need < size { // wrapped: say what the box declares
				need = size
			}
			return box{}, fmt.Errorf("truncated video (box %q needs %d bytes, the file ends after %d; the box at byte %d declares %d); copy the file again",
				b.typ, need, w.size, off, size)
		}
		return box{}, fmt.Errorf("corrupt video (box %q at byte %d declares %d bytes, more than its %q box holds); export the video again",
			b.typ, off, size, parent)
	}
	b.size = int64(size)
	return b, nil
}

// children calls fn for each box in [start, end) of parent, checking each.
func (w *walker) children(start, end int64, parent string, fn func(box) error) error {
	for off := start; off < end; {
		b, err := w.at(off, end, parent)
		if err != nil {
			return err
		}
		if err := fn(b); err != nil {
			return err
		}
		off = b.end()
	}
	return nil
}

// check walks the boxes inside b down to depth levels, checking every
// header and every sample table's entry count against its box.
func (w *walker) check(b box, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("corrupt video (boxes nested more than %d deep at byte %d); export the video again", maxDepth, b.off)
	}
	start := b.payload()
	switch {
	case b.typ == "meta":
		// ISO meta is a full box (version and flags, zero); QuickTime's
		// starts with a box, whose size is never zero.
		var vf [4]byte
		if _, err := w.r.ReadAt(vf[:], start); err == nil && binary.BigEndian.Uint32(vf[:]) == 0 {
			start += 4
		}
	case tables[b.typ].entry > 0:
		t := tables[b.typ]
		var f [12]byte
		head := 8 + t.skip
		if b.size-b.hdr < head {
			return fmt.Errorf("corrupt video (box %q at byte %d is too short for its entry count); export the video again", b.typ, b.off)
		}
		if _, err := w.r.ReadAt(f[:head], start); err != nil {
			return fmt.Errorf("read: %v", err)
		}
		if b.typ == "stsz" && binary.BigEndian.Uint32(f[4:8]) != 0 {
			return nil // one size for every sample: no entries follow
		}
		count := int64(binary.BigEndian.Uint32(f[head-4 : head]))
		if hold := (b.size - b.hdr - head) / t.entry; count > hold {
			return fmt.Errorf("corrupt video (box %q at byte %d declares %d entries, its %d bytes hold %d); export the video again",
				b.typ, b.off, count, b.size, hold)
		}
		return nil
	case !containers[b.typ]:
		return nil
	}
	return w.children(start, b.end(), b.typ, func(c box) error { return w.check(c, depth+1) })
}

// fields reads up to len(p) bytes of b's payload: the fixed fields at its
// start. It refuses a box far larger than such fields need.
func (w *walker) fields(b box, p []byte) ([]byte, error) {
	if b.size > maxHeaderBox {
		return nil, fmt.Errorf("corrupt video (box %q at byte %d declares %d bytes; it holds a few fields); export the video again", b.typ, b.off, b.size)
	}
	p = p[:min(int64(len(p)), b.size-b.hdr)]
	n, err := w.r.ReadAt(p, b.payload())
	if n < len(p) {
		return nil, fmt.Errorf("read: %v", err)
	}
	return p, nil
}

func probeVideo(r io.ReaderAt, size int64, name string, head []byte) (Info, error) {
	info := Info{Kind: Video, Format: "mp4"}
	if strings.EqualFold(path.Ext(name), ".mov") {
		info.Format = "mov"
	}
	if len(head) < 8 || !topLevelBoxes[string(head[4:8])] {
		return info, notA("an MP4/MOV video", head)
	}
	// Walk the top-level boxes: a copy cut short shows as a box running
	// past the end of the file, an unfinished recording as a missing moov.
	w := &walker{r: r, size: size}
	var moov *box
	err := w.children(0, size, "", func(b box) error {
		if b.typ == "moov" && moov == nil {
			moov = &b
		}
		return nil
	})
	if err != nil {
		return info, err
	}
	if moov == nil {
		return info, errors.New("no movie header ('moov' box); the recording may be unfinished, export it again")
	}
	if err := w.check(*moov, 0); err != nil {
		return info, err
	}

	var mvhd, traks []box
	_ = w.children(moov.payload(), moov.end(), "moov", func(b box) error {
		switch b.typ {
		case "mvhd":
			mvhd = append(mvhd, b)
		case "trak":
			traks = append(traks, b)
		}
		return nil
	})
	if len(mvhd) == 0 {
		return info, errors.New("unreadable movie header ('mvhd'); export the video again")
	}
	var buf [96]byte
	p, err := w.fields(mvhd[0], buf[:32])
	if err != nil {
		return info, err
	}
	var timescale, duration uint64
	switch {
	case len(p) >= 20 && p[0] == 0:
		timescale, duration = uint64(binary.BigEndian.Uint32(p[12:16])), uint64(binary.BigEndian.Uint32(p[16:20]))
	case len(p) >= 32 && p[0] == 1:
		timescale, duration = uint64(binary.BigEndian.Uint32(p[20:24])), binary.BigEndian.Uint64(p[24:32])
	default:
		return info, errors.New("unreadable movie header ('mvhd'); export the video again")
	}
	if timescale == 0 || duration == 0 {
		return info, errors.New("the video has no duration (fragmented or empty); remux it into a plain MP4")
	}
	if secs := duration / timescale; secs >= MaxVideoSeconds {
		return info, fmt.Errorf("the movie header says the video lasts %d s (%d units at %d per second), over the limit of %d s (24 h): the header is damaged; export the video again",
			secs, duration, timescale, MaxVideoSeconds)
	}
	info.Duration = math.Round(float64(duration)/float64(timescale)*1000) / 1000
	if info.Duration == 0 {
		return info, fmt.Errorf("the video lasts under a millisecond (%d/%d s); export it again", duration, timescale)
	}

	for _, trak := range traks {
		width, height, video, err := w.track(trak, buf[:])
		if err != nil {
			return info, err
		}
		if video && (width > MaxVideoSide || height > MaxVideoSide) {
			return info, fmt.Errorf("the track header says the picture is %dx%d, over the limit of %d pixels per side (16K; the header is damaged, or the video is larger than any camera records); export the video at most %d pixels per side",
				width, height, MaxVideoSide, MaxVideoSide)
		}
		if video && width > 0 && height > 0 {
			info.Width, info.Height = width, height
			return info, nil
		}
	}
	return info, errors.New("no video track with a picture size (an audio-only file?)")
}

// track reads a trak's picture size (tkhd) and whether it is video (the
// handler of its mdia is "vide").
func (w *walker) track(trak box, buf []byte) (width, height int, video bool, err error) {
	err = w.children(trak.payload(), trak.end(), "trak", func(b box) error {
		switch b.typ {
		case "tkhd":
			p, err := w.fields(b, buf[:96])
			if err != nil {
				return err
			}
			// Width and height, 16.16 fixed point, end the fields of
			// either version (84 bytes in version 0, 96 in version 1).
			n := 84
			if len(p) > 0 && p[0] == 1 {
				n = 96
			}
			if len(p) < n {
				return fmt.Errorf("corrupt video (track header at byte %d is %d bytes, too short); export the video again", b.off, b.size)
			}
			width = int(binary.BigEndian.Uint32(p[n-8:n-4]) >> 16)
			height = int(binary.BigEndian.Uint32(p[n-4:n]) >> 16)
		case "mdia":
			return w.children(b.payload(), b.end(), "mdia", func(c box) error {
				if c.typ != "hdlr" {
					return nil
				}
				p, err := w.fields(c, buf[:12])
				if err != nil {
					return err
				}
				video = video || len(p) == 12 && string(p[8:12]) == "vide"
				return nil
			})
		}
		return nil
	})
	return width, height, video, err
}
