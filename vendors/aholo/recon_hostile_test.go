package aholo

import (
	"context"
	"encoding/binary"
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
)

// utf16Text encodes s as UTF-16 with a byte order mark, as Windows
// editors save "Unicode" text.
func utf16Text(s string, bigEndian, bom bool) []byte {
	var order binary.AppendByteOrder = binary.LittleEndian
	var b []byte
	if bigEndian {
		order = binary.BigEndian
	}
	if bom {
		b = order.AppendUint16(b, 0xFEFF)
	}
	for _, r := range utf16.Encode([]rune(s)) {
		b = order.AppendUint16(b, r)
	}
	return b
}

// aliasBomb is a "billion laughs" YAML document: nine levels of nine
// aliases, a billion strings if expanded.
func aliasBomb(key string) string {
	var b strings.Builder
	b.WriteString(key + ": &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	prev := "a"
	for _, c := range "bcdefghi" {
		b.WriteString("x" + string(c) + ": &" + string(c) + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ",") + "]\n")
		prev = string(c)
	}
	b.WriteString("resources: *i\n")
	return b.String()
}

// TestOpenHostileRecon: a recon.yaml that is huge, UTF-16, an alias bomb,
// nested without end or broken at length is refused with a problem naming
// recon.yaml, quickly and within a bounded allocation; a UTF-8 byte order
// mark is accepted.
func TestOpenHostileRecon(t *testing.T) {
	settings := "name: chair\nscene: space\n"
	// A flow list over 490 lines, never closed: finding the broken line
	// by parsing every prefix would parse 60 MB of YAML.
	longBroken := "resources: [\n" + strings.Repeat(strings.Repeat("a,", 250)+"\n", 490)
	tests := []struct {
		name  string
		recon []byte
		size  int64 // a sparse file of this size instead
		want  string
	}{
		{"sparse 5 GB", nil, 5 << 30, "recon.yaml: file too large (5368709120 bytes, limit 262144)"},
		{"just over the limit", []byte("# " + strings.Repeat("x", maxRecon)), 0, "recon.yaml: file too large (262146 bytes, limit 262144)"},
		{"UTF-16LE with BOM", utf16Text(settings, false, true), 0, "recon.yaml: recon.yaml is UTF-16; save it as UTF-8"},
		{"UTF-16BE with BOM", utf16Text(settings, true, true), 0, "recon.yaml: recon.yaml is UTF-16; save it as UTF-8"},
		{"UTF-16LE without BOM", utf16Text(settings, false, false), 0, "recon.yaml: recon.yaml is UTF-16; save it as UTF-8"},
		{"alias bomb", []byte(aliasBomb("xa")), 0, `recon.yaml:1: unknown key "xa"`},
		{"deep flow nesting", []byte("name: " + strings.Repeat("[", 200_000)), 0, "recon.yaml"},
		{"deep block nesting", []byte(deepBlock(600)), 0, "recon.yaml:1: unknown key"},
		{"too many resources", []byte("resources:\n" + strings.Repeat("- images/001.jpg\n", maxPatterns+1)), 0, "recon.yaml:2: resources: 10001 entries, more than 10000"},
		{"long broken file", []byte(longBroken), 0, "recon.yaml: not valid YAML"},
	}
	for _, tt := range tests {
		dir := writeFiles(t, map[string][]byte{Marker: tt.recon, "images/001.jpg": testmedia.JPEG(64, 48, 1)})
		if tt.size > 0 {
			if err := os.Truncate(filepath.Join(dir, Marker), tt.size); err != nil {
				t.Fatal(err)
			}
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err := New(Config{}).Open(context.Background(), dir)
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		ps := problemsOf(t, err)
		if len(ps) == 0 || !strings.HasPrefix(ps[0], tt.want) {
			t.Errorf("%s: problems %q, want %q", tt.name, ps, tt.want)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
			t.Errorf("%s: allocated %d MiB", tt.name, alloc>>20)
		}
		if took > 20*time.Second { // generous: -race on a busy machine; the cost it guards against is minutes
			t.Errorf("%s: took %v", tt.name, took)
		}
	}
}

func deepBlock(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i) + "k" + strconv.Itoa(i) + ":\n")
	}
	return b.String()
}

func TestOpenReconUTF8BOM(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{Marker: []byte("\uFEFFname: chair\nscene: space\n"), "images/001.jpg": testmedia.JPEG(64, 48, 1)})
	job, err := New(Config{}).Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if r := job.(*Job).recon; r.Name != "chair" || r.Scene != "space" {
		t.Errorf("recon %+v", r)
	}
}

// FuzzRecon parses any recon.yaml: no panic, an allocation bounded by the
// input's size, and every problem names recon.yaml (with a line or not)
// in a message fit for result.json.
func FuzzRecon(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, ps := parseRecon(data, "chair-scan")
		runtime.ReadMemStats(&after)
		if alloc, limit := after.TotalAlloc-before.TotalAlloc, uint64(1<<20+1024*len(data)); alloc > limit {
			t.Fatalf("%d bytes of YAML allocated %d bytes (limit %d)", len(data), alloc, limit)
		}
		for _, p := range ps {
			if p.File != Marker && !strings.HasPrefix(p.File, Marker+":") {
				t.Fatalf("problem names %q, not recon.yaml: %v", p.File, p)
			}
			if p.Message == "" || !utf8.ValidString(p.Message) {
				t.Fatalf("unfit message %q", p.Message)
			}
		}
		if err := ps.Err("aholo: open"); len(ps) > 0 && vendors.KindOf(err) != vendors.Invalid {
			t.Fatalf("kind %v", vendors.KindOf(err))
		}
	})
}

// TestWriteReconSeeds writes FuzzRecon's seed corpus when
// SCANDROP_WRITE_SEEDS=1: real recon.yaml files and hostile ones.
func TestWriteReconSeeds(t *testing.T) {
	if os.Getenv("SCANDROP_WRITE_SEEDS") != "1" {
		t.Skip("set SCANDROP_WRITE_SEEDS=1 to regenerate testdata/fuzz")
	}
	example, err := os.ReadFile("../../examples/aholo/chair/recon.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seeds := map[string]string{
		"example":       string(example),
		"empty":         "",
		"all-keys":      "name: Chair\nscene: model\nquality: HIGH\naccess: private\npanorama: false\nupload_sog: true\ncover: images/001.jpg\ndownload_assets: true\nresources:\n  - images/*.jpg\n  - clips/walk.mov\n",
		"utf8-bom":      "\uFEFFname: chair\n",
		"utf16le-bom":   string(utf16Text("name: chair\n", false, true)),
		"utf16be-bom":   string(utf16Text("name: chair\n", true, true)),
		"alias-bomb":    aliasBomb("xa"),
		"deep-flow":     "name: " + strings.Repeat("[", 2000),
		"deep-block":    deepBlock(200),
		"syntax":        "name: x\nresources: [images/*.jpg\ncover: images/001.jpg\n",
		"anchors":       "a: &x images/*.jpg\nresources: [*x, *x]\ncover: *x\n",
		"tags":          "name: !!binary aGVsbG8=\nquality: !!int 3\npanorama: !!str true\n",
		"dup-keys":      "quality: LOW\nquality: HIGH\n",
		"documents":     "name: a\n---\nname: b\n",
		"name-controls": "name: \"\\e]0;owned\\a\\u202Eexe\"\n",
		"name-long":     "name: " + strings.Repeat("\\e", 50000) + "\n",
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzRecon")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, s := range seeds {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("go test fuzz v1\n[]byte("+strconv.Quote(s)+")\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
