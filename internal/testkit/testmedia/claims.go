package testmedia

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// The helpers below make files whose headers claim what their data is not:
// a picture size or a duration far beyond the bytes that follow, as a
// damaged or crafted file does. Each starts from a real small file.

// JPEGClaiming returns a copy of the JPEG jpg whose frame header (the first
// SOF segment, baseline or progressive) says width x height; the scan data
// stays that of the small image. width and height must fit 16 bits.
func JPEGClaiming(jpg []byte, width, height int) []byte {
	out := bytes.Clone(jpg)
	for off := 2; off+9 <= len(out); {
		if out[off] != 0xFF {
			break
		}
		m := out[off+1]
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			binary.BigEndian.PutUint16(out[off+5:], uint16(height))
			binary.BigEndian.PutUint16(out[off+7:], uint16(width))
			return out
		}
		off += 2 + int(binary.BigEndian.Uint16(out[off+2:]))
	}
	panic("testmedia: no SOF segment")
}

// PNGClaiming returns a copy of the PNG png whose IHDR says width x height
// (with its CRC recomputed, so a decoder reads it); the image data stays
// that of the small image.
func PNGClaiming(png []byte, width, height int) []byte {
	out := bytes.Clone(png)
	if string(out[12:16]) != "IHDR" {
		panic("testmedia: IHDR is not the first chunk")
	}
	binary.BigEndian.PutUint32(out[16:], uint32(width))
	binary.BigEndian.PutUint32(out[20:], uint32(height))
	binary.BigEndian.PutUint32(out[29:], crc32.ChecksumIEEE(out[12:29]))
	return out
}

// MP4Lasting returns a copy of an MP4Bytes file whose movie header is a
// version 1 mvhd (64-bit duration) saying duration units at timescale
// units per second.
func MP4Lasting(mp4 []byte, timescale uint32, duration uint64) []byte {
	i := bytes.Index(mp4, []byte("moov")) - 4
	j := bytes.Index(mp4, []byte("mvhd")) - 4
	if i < 0 || j < i {
		panic(fmt.Sprintf("testmedia: no moov/mvhd (%d, %d)", i, j))
	}
	old := int(binary.BigEndian.Uint32(mp4[j:]))
	body := []byte{1, 0, 0, 0}               // version 1, flags
	body = append(body, make([]byte, 16)...) // creation, modification
	body = binary.BigEndian.AppendUint32(body, timescale)
	body = binary.BigEndian.AppendUint64(body, duration)
	body = append(body, u32(0x00010000)...)  // rate
	body = append(body, 1, 0)                // volume
	body = append(body, make([]byte, 10)...) // reserved
	body = append(body, matrix()...)
	body = append(body, make([]byte, 24)...) // pre-defined
	body = append(body, u32(2)...)           // next track id
	mvhd := Box("mvhd", body)
	out := bytes.Join([][]byte{mp4[:j], mvhd, mp4[j+old:]}, nil)
	moov := binary.BigEndian.Uint32(out[i:])
	binary.BigEndian.PutUint32(out[i:], moov+uint32(len(mvhd)-old))
	return out
}
