// Package media reads what Aholo needs to know about a resource file — its
// kind, pixel size and, for a video, its duration — from the file's own
// headers, and tells in words a person can act on why a file is unusable.
//
// It is shared by the aholo client (validating drops) and by its fake server
// (checking that the meta a client sends matches what it uploaded).
package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // register the decoders DecodeConfig needs
	_ "image/png"
	"io"
	"math"
	"path"
	"strings"

	mp4 "github.com/abema/go-mp4"
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
	var moov *mp4.BoxInfo
	rs := io.NewSectionReader(r, 0, size)
	for off := int64(0); off < size; {
		if _, err := rs.Seek(off, io.SeekStart); err != nil {
			return info, err
		}
		bi, err := mp4.ReadBoxInfo(rs)
		if err != nil {
			return info, fmt.Errorf("truncated video (box header at byte %d cut off); copy the file again", off)
		}
		if bi.ExtendToEOF {
			bi.Size = uint64(size - off)
		}
		if bi.Size < bi.HeaderSize {
			return info, fmt.Errorf("corrupt video (box %q at byte %d has size %d)", bi.Type.String(), off, bi.Size)
		}
		if off+int64(bi.Size) > size {
			return info, fmt.Errorf("truncated video (box %q needs %d bytes, the file ends after %d); copy the file again",
				bi.Type.String(), off+int64(bi.Size), size)
		}
		if bi.Type == mp4.BoxTypeMoov() {
			moov = bi
		}
		off += int64(bi.Size)
	}
	if moov == nil {
		return info, errors.New("no movie header ('moov' box); the recording may be unfinished, export it again")
	}
	mvhds, err := mp4.ExtractBoxWithPayload(rs, moov, mp4.BoxPath{mp4.BoxTypeMvhd()})
	if err != nil || len(mvhds) == 0 {
		return info, errors.New("unreadable movie header ('mvhd'); export the video again")
	}
	mvhd := mvhds[0].Payload.(*mp4.Mvhd)
	if mvhd.Timescale == 0 || mvhd.GetDuration() == 0 {
		return info, errors.New("the video has no duration (fragmented or empty); remux it into a plain MP4")
	}
	info.Duration = math.Round(float64(mvhd.GetDuration())/float64(mvhd.Timescale)*1000) / 1000
	traks, err := mp4.ExtractBox(rs, moov, mp4.BoxPath{mp4.BoxTypeTrak()})
	if err != nil {
		return info, fmt.Errorf("unreadable track list: %v", err)
	}
	for _, trak := range traks {
		boxes, err := mp4.ExtractBoxesWithPayload(rs, trak, []mp4.BoxPath{
			{mp4.BoxTypeTkhd()},
			{mp4.BoxTypeMdia(), mp4.BoxTypeHdlr()},
		})
		if err != nil {
			continue
		}
		var tkhd *mp4.Tkhd
		video := false
		for _, b := range boxes {
			switch p := b.Payload.(type) {
			case *mp4.Tkhd:
				tkhd = p
			case *mp4.Hdlr:
				video = string(p.HandlerType[:]) == "vide"
			}
		}
		if video && tkhd != nil && tkhd.GetWidthInt() > 0 && tkhd.GetHeightInt() > 0 {
			info.Width, info.Height = int(tkhd.GetWidthInt()), int(tkhd.GetHeightInt())
			return info, nil
		}
	}
	return info, errors.New("no video track with a picture size (an audio-only file?)")
}
