package realsee

import (
	"archive/zip"
	"bytes"
	"hash/crc32"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestZipLayoutReadsBack(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(1))
	files := map[string][]byte{
		"manifest.json":   []byte(`{"version":"1.0"}`),
		"images/a.jpg":    randBytes(rng, 100_000),
		"images/b.JPG":    randBytes(rng, 3),
		"images/ü ñ.jpg":  randBytes(rng, 70_001),
		"images/zero.jpg": {},
	}
	var entries []zipEntry
	for _, name := range []string{"manifest.json", "images/a.jpg", "images/b.JPG", "images/ü ñ.jpg", "images/zero.jpg"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			t.Fatal(err)
		}
		zname := name
		if name == "images/b.JPG" {
			zname = "images/b.jpg"
		}
		entries = append(entries, zipEntry{Name: zname, File: name, Size: int64(len(files[name])),
			CRC32: crc32.ChecksumIEEE(files[name]), time: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)})
	}
	for _, force64 := range []bool{false, true} {
		l := layoutZip(entries, force64)
		a := &archive{layout: l, dir: dir, stamps: stampsOf(t, dir, entries)}
		// Read it in odd-sized pieces, the way parts cut across entries.
		var buf bytes.Buffer
		for off := int64(0); off < a.Size(); off += 777 {
			n := int64(777)
			if off+n > a.Size() {
				n = a.Size() - off
			}
			sr := io.NewSectionReader(a, off, n)
			if _, err := io.Copy(&buf, sr); err != nil {
				t.Fatal(err)
			}
		}
		a.Close()
		if int64(buf.Len()) != a.Size() {
			t.Fatalf("read %d bytes, layout says %d", buf.Len(), a.Size())
		}
		zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("force64=%v: %v", force64, err)
		}
		if len(zr.File) != len(entries) {
			t.Fatalf("got %d entries", len(zr.File))
		}
		for i, zf := range zr.File {
			if zf.Name != entries[i].Name || zf.Method != zip.Store {
				t.Errorf("entry %d: %s method %d", i, zf.Name, zf.Method)
			}
			rc, err := zf.Open()
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc) // checks the CRC
			if err != nil {
				t.Fatalf("%s: %v", zf.Name, err)
			}
			if !bytes.Equal(got, files[entries[i].File]) {
				t.Errorf("%s: content differs", zf.Name)
			}
		}
	}
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	rng.Read(b)
	return b
}
