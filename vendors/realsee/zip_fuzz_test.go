package realsee

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// FuzzZipLayout lays out an archive of files whose names, sizes and
// contents come from the fuzzer and reads it back: archive/zip must list
// every entry, stored, under its name, with its CRC and content, and each
// local header must carry the CRC and sizes itself (stored entries have no
// data descriptor to take them from).
//
// spec describes the files, a record each: one byte of flags (bit 0: the
// file starts with a UTF-8 byte order mark the entry leaves out), two bytes
// of size, one byte of name length and the name, "images/" + name.
func FuzzZipLayout(f *testing.F) {
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, spec []byte, force64 bool, seed int64) {
		rng := rand.New(rand.NewSource(seed))
		var entries []zipEntry
		contents := map[string][]byte{}
		seen := map[string]bool{}
		for len(spec) >= 4 && len(entries) < 32 {
			flags, size, n := spec[0], int(binary.LittleEndian.Uint16(spec[1:3])), int(spec[3])
			spec = spec[4:]
			n = min(n, len(spec))
			id := string(spec[:n])
			spec = spec[n:]
			// The ids validation lets through, as validate would give them.
			if checkID(id) != nil || seen[id] {
				continue
			}
			seen[id] = true
			data := make([]byte, size)
			rng.Read(data)
			var skip int64
			stored := data
			if flags&1 != 0 {
				skip, stored = 3, append([]byte{0xEF, 0xBB, 0xBF}, data...)
			}
			file := "f" + strconv.Itoa(len(entries))
			if err := os.WriteFile(filepath.Join(dir, file), stored, 0o644); err != nil {
				t.Fatal(err)
			}
			name := "images/" + id + ".jpg"
			contents[name] = data
			entries = append(entries, zipEntry{Name: name, File: file, Size: int64(size), Skip: skip,
				CRC32: crc32.ChecksumIEEE(data), time: time.Unix(int64(rng.Uint32()), 0)})
		}
		l := layoutZip(entries, force64)
		a := &archive{layout: l, dir: dir, stamps: stampsOf(t, dir, entries)}
		defer a.Close()
		var buf bytes.Buffer
		if n, err := io.Copy(&buf, io.NewSectionReader(a, 0, a.Size())); err != nil || n != a.Size() {
			t.Fatalf("read %d of %d bytes: %v", n, a.Size(), err)
		}
		raw := buf.Bytes()

		zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
		if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
			t.Fatalf("%d entries, force64=%v: %v", len(entries), force64, err)
		}
		if len(zr.File) != len(entries) {
			t.Fatalf("archive lists %d entries, laid out %d", len(zr.File), len(entries))
		}
		off := 0
		for i, zf := range zr.File {
			e := entries[i]
			if zf.Name != e.Name || zf.Method != zip.Store || zf.CRC32 != e.CRC32 || zf.UncompressedSize64 != uint64(e.Size) {
				t.Fatalf("entry %d: %q method %d crc %08x size %d; want %q stored crc %08x size %d",
					i, zf.Name, zf.Method, zf.CRC32, zf.UncompressedSize64, e.Name, e.CRC32, e.Size)
			}
			rc, err := zf.Open()
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc) // checks the CRC
			if err != nil || !bytes.Equal(got, contents[e.Name]) {
				t.Fatalf("%s: content differs (%v)", e.Name, err)
			}
			// The local header, read on its own, as a streaming reader does.
			crc, csize, usize, next, err := localEntry(raw, off)
			if err != nil {
				t.Fatalf("%s: local header at %d: %v", e.Name, off, err)
			}
			if crc != e.CRC32 || csize != uint64(e.Size) || usize != uint64(e.Size) {
				t.Fatalf("%s: local header says crc %08x sizes %d/%d; want %08x, %d", e.Name, crc, csize, usize, e.CRC32, e.Size)
			}
			off = next
		}
		if len(raw) < off+4 || binary.LittleEndian.Uint32(raw[off:]) != sigCentral && len(entries) > 0 {
			t.Fatalf("no central directory after the entries, at byte %d", off)
		}
	})
}

// localEntry parses the local header at off (sizes from the zip64 extra
// field when the header defers to it) and returns where the next entry
// starts.
func localEntry(raw []byte, off int) (crc uint32, csize, usize uint64, next int, err error) {
	le := binary.LittleEndian
	if len(raw) < off+30 || le.Uint32(raw[off:]) != sigLocal {
		return 0, 0, 0, 0, errors.New("no local header signature")
	}
	h := raw[off:]
	if le.Uint16(h[6:])&0x8 != 0 {
		return 0, 0, 0, 0, errors.New("sizes deferred to a data descriptor")
	}
	crc, csize, usize = le.Uint32(h[14:]), uint64(le.Uint32(h[18:])), uint64(le.Uint32(h[22:]))
	nlen, xlen := int(le.Uint16(h[26:])), int(le.Uint16(h[28:]))
	if len(h) < 30+nlen+xlen {
		return 0, 0, 0, 0, errors.New("header runs past the archive")
	}
	extra := h[30+nlen : 30+nlen+xlen]
	if csize == zip64Limit || usize == zip64Limit {
		for len(extra) >= 4 {
			id, n := le.Uint16(extra), int(le.Uint16(extra[2:]))
			if len(extra) < 4+n {
				break
			}
			if id == 0x0001 && n >= 16 {
				usize, csize = le.Uint64(extra[4:]), le.Uint64(extra[12:])
			}
			extra = extra[4+n:]
		}
	}
	return crc, csize, usize, off + 30 + nlen + xlen + int(csize), nil
}

// TestWriteZipSeeds writes FuzzZipLayout's seed corpus when
// SCANDROP_WRITE_SEEDS=1.
func TestWriteZipSeeds(t *testing.T) {
	if os.Getenv("SCANDROP_WRITE_SEEDS") != "1" {
		t.Skip("set SCANDROP_WRITE_SEEDS=1 to regenerate testdata/fuzz")
	}
	rec := func(flags byte, size uint16, id string) []byte {
		return append([]byte{flags, byte(size), byte(size >> 8), byte(len(id))}, id...)
	}
	cat := func(rs ...[]byte) []byte { return bytes.Join(rs, nil) }
	seeds := map[string]struct {
		spec    []byte
		force64 bool
		seed    int64
	}{
		"nave":       {cat(rec(1, 300, "manifest"), rec(0, 20000, "entrance"), rec(0, 40000, "hall")), false, 1},
		"nave-zip64": {cat(rec(0, 300, "manifest"), rec(0, 20000, "entrance"), rec(0, 40000, "hall")), true, 2},
		"empty":      {nil, false, 3},
		"zero-size":  {cat(rec(0, 0, "a"), rec(1, 0, "b")), false, 4},
		"unicode":    {cat(rec(0, 10, "ü ñ 全景"), rec(0, 65535, "x")), true, 5},
		"long-name":  {cat(rec(0, 5, string(bytes.Repeat([]byte("n"), 251)))), false, 6},
	}
	d := filepath.Join("testdata", "fuzz", "FuzzZipLayout")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, s := range seeds {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s.spec)) + ")\nbool(" + strconv.FormatBool(s.force64) + ")\nint64(" + strconv.FormatInt(s.seed, 10) + ")\n"
		if err := os.WriteFile(filepath.Join(d, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
