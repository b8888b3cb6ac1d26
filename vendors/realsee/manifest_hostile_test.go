package realsee

import (
	"archive/zip"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/scandrop/scandrop/internal/testkit/testmedia"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/vendortest"
)

// utf16Text encodes s as UTF-16, as Windows editors save "Unicode" text.
func utf16Text(s string, bigEndian, bom bool) []byte {
	var order binary.AppendByteOrder = binary.LittleEndian
	if bigEndian {
		order = binary.BigEndian
	}
	var b []byte
	if bom {
		b = order.AppendUint16(b, 0xFEFF)
	}
	for _, r := range utf16.Encode([]rune(s)) {
		b = order.AppendUint16(b, r)
	}
	return b
}

// manyScans is a manifest of n scans of one id each, written as tightly
// as JSON allows.
func manyScans(n int, scan string) string {
	return `{"version":"1.0","floor_map":{"0":0},"scan_list":[` + strings.TrimSuffix(strings.Repeat(scan+",", n), ",") + `]}`
}

// TestValidateHostileManifest: a manifest that is huge (sparse or real),
// UTF-16, nested without end, or lists more scans or floors than a project
// has is refused with a problem naming manifest.json, within a bounded
// allocation and quickly.
func TestValidateHostileManifest(t *testing.T) {
	good := goodManifest
	floors := `{"version":"1.0","floor_map":{` + func() string {
		var b strings.Builder
		for i := range maxFloors + 1 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + strconv.Itoa(i) + `":0`)
		}
		return b.String()
	}() + `},"scan_list":[{"id":"entrance","floor":0}]}`
	tests := []struct {
		name     string
		manifest []byte
		size     int64 // a sparse file of this size instead
		want     string
	}{
		{"sparse 5 GB", nil, 5 << 30, "manifest.json: file too large (5368709120 bytes, limit 2097152)"},
		{"just over the limit", []byte(good + strings.Repeat(" ", maxManifest)), 0, "manifest.json: file too large ("},
		{"UTF-16LE with BOM", utf16Text(good, false, true), 0, "manifest.json: manifest.json is UTF-16; save it as UTF-8"},
		{"UTF-16BE with BOM", utf16Text(good, true, true), 0, "manifest.json: manifest.json is UTF-16; save it as UTF-8"},
		{"UTF-16LE without BOM", utf16Text(good, false, false), 0, "manifest.json: manifest.json is UTF-16; save it as UTF-8"},
		{"UTF-8 BOM then UTF-16", append([]byte("\uFEFF"), utf16Text(good, false, true)...), 0, "manifest.json: manifest.json is UTF-16"},
		{"deep nesting", []byte(`{"version":` + strings.Repeat("[", 1_000_000)), 0, "manifest.json: line 1, column"},
		{"deep nesting in an unknown key", []byte(`{"x":` + strings.Repeat(`{"x":`, 100_000)), 0, "manifest.json: line 1, column"},
		{"too many scans", []byte(manyScans(maxScans+1, `{"id":"a","floor":0}`)), 0, "manifest.json: scan_list has 10001 scans, more than the 10000"},
		{"2 MiB of empty scans", []byte(manyScans((maxManifest-100)/3, `{}`)), 0, "manifest.json: scan_list has 699017 scans"},
		{"too many floors", []byte(floors), 0, "manifest.json: floor_map has 1001 floors, more than 1000"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		write(t, dir, "manifest.json", tt.manifest)
		write(t, dir, "images/entrance.jpg", jpegBytes(t, 128, 64))
		if tt.size > 0 {
			if err := os.Truncate(filepath.Join(dir, "manifest.json"), tt.size); err != nil {
				t.Fatal(err)
			}
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err := validate(dir)
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		if err == nil || vendors.KindOf(err) != vendors.Invalid || !strings.HasPrefix(strings.TrimPrefix(err.Error(), "realsee: validate: "), tt.want) {
			t.Errorf("%s: %v; want an invalid %q", tt.name, err, tt.want)
		}
		// Decoding allocates some fifty times the JSON in all (transient: a
		// 2 MiB manifest of empty scans costs ~110 MiB, ~40 MiB at a time),
		// and no more however many bytes a file claims.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64*uint64(len(tt.manifest))+(16<<20) {
			t.Errorf("%s: allocated %d MiB", tt.name, alloc>>20)
		}
		if took > 20*time.Second { // generous: -race on a busy machine; the cost it guards against is minutes
			t.Errorf("%s: took %v", tt.name, took)
		}
	}
}

// TestManifestUTF8BOM: a manifest saved with a UTF-8 byte order mark is
// accepted, and the archive carries it without the mark, as JSON.
func TestManifestUTF8BOM(t *testing.T) {
	dir := writeDrop(t)
	write(t, dir, "manifest.json", []byte("\uFEFF"+goodManifest))
	vj, err := New(Config{}).Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	jr := vendortest.NewMemJournal()
	if err := vj.Package(context.Background(), jr); err != nil {
		t.Fatal(err)
	}
	l, stamps := crcLayout(t, vj.(*job), jr)
	a := &archive{layout: l, dir: dir, stamps: stamps}
	defer a.Close()
	zr, err := zip.NewReader(a, a.Size())
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc) // checks the CRC
	if err != nil || zr.File[0].Name != ManifestName || string(got) != goodManifest {
		t.Fatalf("%s: %q, %v; want the manifest without its BOM", zr.File[0].Name, got, err)
	}
	// A restart finds the packaged entries still match the drop.
	if !vj.(*job).matches(mustPackage(t, jr)) {
		t.Error("packaged entries do not match the drop they came from")
	}
}

func mustPackage(t *testing.T, jr vendors.Journal) packageState {
	var ps packageState
	if ok, err := jr.Load(journalPackage, &ps); !ok || err != nil {
		t.Fatal(ok, err)
	}
	return ps
}

// FuzzManifest parses any manifest.json: no panic, an allocation bounded
// by the input's size, and an error is a message fit for result.json.
func FuzzManifest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m, err := parseManifest(data)
		runtime.ReadMemStats(&after)
		if alloc, limit := after.TotalAlloc-before.TotalAlloc, uint64(1<<20+64*len(data)); alloc > limit {
			t.Fatalf("%d bytes of JSON allocated %d bytes (limit %d)", len(data), alloc, limit)
		}
		if err != nil {
			if msg := err.Error(); msg == "" || !utf8.ValidString(msg) {
				t.Fatalf("unfit message %q", msg)
			}
			return
		}
		if len(m.ScanList) > maxScans || len(m.FloorMap) > maxFloors {
			t.Fatalf("accepted %d scans, %d floors", len(m.ScanList), len(m.FloorMap))
		}
	})
}

// FuzzPanorama checks any file as a scan's panorama (realsee's own JPEG
// probe): no panic, a bounded allocation, and an error fit for
// result.json, or a JPEG with a 2:1 size.
func FuzzPanorama(f *testing.F) {
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.MkdirAll(filepath.Join(dir, "images"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "images", "a.jpg"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		img, err := checkPanorama(dir, "images/a.jpg")
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
			t.Fatalf("%d bytes: allocated %d bytes", len(data), alloc)
		}
		if err != nil {
			if msg := err.Error(); msg == "" || !utf8.ValidString(msg) {
				t.Fatalf("unfit message %q", msg)
			}
			return
		}
		if img.Height <= 0 || img.Width < 2*img.Height-img.Height/25 || img.Size != int64(len(data)) ||
			img.Width > maxPanoramaWidth || int64(img.Width)*int64(img.Height) > img.Size*maxPixelsPerByte {
			t.Fatalf("accepted %+v", img)
		}
	})
}

// TestWriteRealseeSeeds writes the seed corpora of FuzzManifest and
// FuzzPanorama when SCANDROP_WRITE_SEEDS=1: real files and hostile ones.
func TestWriteRealseeSeeds(t *testing.T) {
	if os.Getenv("SCANDROP_WRITE_SEEDS") != "1" {
		t.Skip("set SCANDROP_WRITE_SEEDS=1 to regenerate testdata/fuzz")
	}
	example, err := os.ReadFile("../../examples/realsee/nave-2026-11-20/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	pano := jpegBytes(t, 64, 32)
	// A JPEG whose first segment (APP1) declares its largest length and
	// ends at once.
	hugeSeg := append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF}, "Exif\x00\x00"...)
	seeds := map[string]map[string]string{
		"FuzzManifest": {
			"example":      string(example),
			"good":         goodManifest,
			"utf8-bom":     "\uFEFF" + goodManifest,
			"utf16le-bom":  string(utf16Text(goodManifest, false, true)),
			"utf16be-bom":  string(utf16Text(goodManifest, true, true)),
			"utf16-no-bom": string(utf16Text(goodManifest, false, false)),
			"deep":         `{"version":` + strings.Repeat("[", 10001),
			"unknown-deep": `{"x":` + strings.Repeat(`{"x":`, 200),
			"many-scans":   manyScans(200, `{}`),
			"wrong-types":  `{"version":1,"floor_map":[],"project_name":{},"scan_list":{"id":"a"}}`,
			"two-values":   goodManifest + goodManifest,
			"big-numbers":  `{"version":"1.0","floor_map":{"0":1e999},"scan_list":[{"id":"a","floor":99999999999999999999}]}`,
			"escapes":      `{"version":"1.0","project_name":"\ud800\u0000\\","scan_list":[{"id":"\u002e\u002e/x","floor":0}]}`,
			"truncated":    goodManifest[:40],
		},
		"FuzzPanorama": {
			"good":                           string(pano),
			"truncated":                      string(pano[:len(pano)/2]),
			"header-only":                    string(pano[:200]),
			"huge-segment":                   string(hugeSeg),
			"no-eoi":                         string(pano[:len(pano)-2]),
			"trailer":                        string(pano) + "TRAILERDATA",
			"png":                            "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
			"claims-60000x30000":             string(testmedia.JPEGClaiming(pano, 60000, 30000)),
			"claims-progressive-65534x32767": string(progressive(testmedia.JPEGClaiming(pano, 65534, 32767))),
			"claims-8192x4096-in-1KB":        string(testmedia.JPEGClaiming(pano, 8192, 4096)),
		},
	}
	for target, files := range seeds {
		d := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, s := range files {
			if err := os.WriteFile(filepath.Join(d, name), []byte("go test fuzz v1\n[]byte("+strconv.Quote(s)+")\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
