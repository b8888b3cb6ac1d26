package testmedia

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Box returns an MP4 box of type typ (four characters) holding parts.
func Box(typ string, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	b := make([]byte, 8, 8+len(body))
	binary.BigEndian.PutUint32(b, uint32(8+len(body)))
	copy(b[4:], typ)
	return append(b, body...)
}

// u32 is a big-endian 32-bit field.
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// MP4Bytes returns a small complete MP4 in memory with the boxes a camera
// writes, so that a test can damage any of them: ftyp, moov (mvhd; a video
// trak with tkhd and mdia holding mdhd, hdlr and minf/stbl with its sample
// tables; udta/meta with a handler and an ilst), a uuid box and an mdat of
// payload bytes. Each four-character box type appears once as a type,
// except hdlr (mdia's first, then meta's).
func MP4Bytes(width, height int, durationMS uint32, payload int) []byte {
	zeros := func(n int) []byte { return make([]byte, n) }
	// version 0 mvhd: flags, creation, modification, timescale, duration,
	// rate, volume, reserved, matrix, pre-defined, next track id.
	mvhd := Box("mvhd", zeros(4), zeros(8), u32(1000), u32(durationMS), u32(0x00010000), []byte{1, 0}, zeros(10), matrix(), zeros(24), u32(2))
	tkhd := Box("tkhd", u32(3), zeros(8), u32(1), zeros(4), u32(durationMS), zeros(8), zeros(8), matrix(),
		u32(uint32(width)<<16), u32(uint32(height)<<16))
	mdhd := Box("mdhd", zeros(4), zeros(8), u32(1000), u32(durationMS), []byte{0x55, 0xC4, 0, 0})
	hdlr := Box("hdlr", zeros(4), zeros(4), []byte("vide"), zeros(12), []byte("VideoHandler\x00"))
	stbl := Box("stbl",
		Box("stsd", zeros(4), u32(1), Box("avc1", zeros(70))),
		Box("stts", zeros(4), u32(1), u32(1), u32(durationMS)),
		Box("stsc", zeros(4), u32(1), u32(1), u32(1), u32(1)),
		Box("stsz", zeros(4), u32(0), u32(1), u32(uint32(payload))),
		Box("stco", zeros(4), u32(1), u32(0)),
	)
	minf := Box("minf", Box("vmhd", u32(1), zeros(8)), Box("dinf", Box("dref", zeros(4), u32(1), Box("url ", u32(1)))), stbl)
	trak := Box("trak", tkhd, Box("mdia", mdhd, hdlr, minf))
	udta := Box("udta", Box("meta", zeros(4), Box("hdlr", zeros(8), []byte("mdir"), zeros(13)), Box("ilst")))
	moov := Box("moov", mvhd, trak, udta)
	ftyp := Box("ftyp", []byte("isom"), u32(0x200), []byte("isommp41"))
	uuid := Box("uuid", []byte("0123456789abcdef"), []byte("camera"))
	mdat := Box("mdat", bytes.Repeat([]byte{0x5A}, payload))
	return bytes.Join([][]byte{ftyp, moov, uuid, mdat}, nil)
}

func matrix() []byte {
	var b []byte
	for _, v := range []uint32{0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000} {
		b = append(b, u32(v)...)
	}
	return b
}

// Declare returns a copy of an MP4Bytes file whose first box of type typ
// declares size bytes, as a damaged or hostile file would.
func Declare(data []byte, typ string, size uint32) []byte {
	out := bytes.Clone(data)
	i := bytes.Index(out, []byte(typ))
	if i < 4 {
		panic(fmt.Sprintf("testmedia: no %q box", typ))
	}
	binary.BigEndian.PutUint32(out[i-4:], size)
	return out
}

// DeclareEntries returns a copy of an MP4Bytes file whose sample table typ
// (stsz, stco, stts, stsc) declares count entries.
func DeclareEntries(data []byte, typ string, count uint32) []byte {
	out := bytes.Clone(data)
	i := bytes.Index(out, []byte(typ))
	if i < 4 {
		panic(fmt.Sprintf("testmedia: no %q box", typ))
	}
	at := i + 4 + 4 // after the type, version and flags
	if typ == "stsz" {
		at += 4 // after the common sample size (0: a table follows)
	}
	binary.BigEndian.PutUint32(out[at:], count)
	return out
}

// HugeHeaderBox returns the start of a file whose moov holds one header
// box typ ("mvhd", "tkhd" or "hdlr", inside a trak and mdia as it belongs)
// that declares size bytes, every box around it sized to hold it: written
// out and extended to len+size bytes as a sparse file, each box truly
// spans what it declares, and only the headers take room on disk.
func HugeHeaderBox(typ string, size uint32) []byte {
	mvhd := Box("mvhd", make([]byte, 12), u32(1000), u32(3000), make([]byte, 80))
	path := map[string][]string{"mvhd": {"moov"}, "tkhd": {"moov", "trak"}, "hdlr": {"moov", "trak", "mdia"}}[typ]
	if path == nil {
		panic(fmt.Sprintf("testmedia: %q is not a header box", typ))
	}
	// From the inside out: each box is its header, the boxes before its
	// child (moov's mvhd), and the start of the child.
	start := Box(typ)
	binary.BigEndian.PutUint32(start, size)
	for i := len(path) - 1; i >= 0; i-- {
		var pre []byte
		if path[i] == "moov" && typ != "mvhd" {
			pre = mvhd
		}
		size += 8 + uint32(len(pre))
		start = append(append(Box(path[i]), pre...), start...)
		binary.BigEndian.PutUint32(start, size)
	}
	return append(Box("ftyp", []byte("qt  "), make([]byte, 4)), start...)
}
