package realsee

import (
	"bytes"
	"context"
	"hash/crc32"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/dropfs"
	"github.com/scandrop/scandrop/vendors/vendortest"
)

// crcLayout is the packaged archive's layout with every CRC computed, as
// the upload has it once its CRC pass is over.
func crcLayout(t testing.TB, j *job, jr vendors.Journal) (*zipLayout, map[string]dropfs.Stamp) {
	t.Helper()
	layout, entries, stamps, fp, err := j.layout(jr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := newCRCPass(layout, entries, j.d.dir, stamps, jr, fp, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return layout, stamps
}

// A layout made without the CRCs and given them one by one with setCRC is
// byte for byte the layout made with them, with and without Zip64; and
// needCRCs asks, for any prefix of the archive, for the CRCs of exactly the
// local headers that start in it, and for all of them once the prefix
// reaches the central directory.
func TestSetCRCMatchesLayoutWithCRCs(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	var with, without []zipEntry
	for i, size := range []int64{17, 0, 100_000, 3, 65_536} {
		e := zipEntry{Name: filepath.Join("images", string(rune('a'+i))+".jpg"), File: "f", Size: size,
			time: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
		without = append(without, e)
		e.CRC32 = rng.Uint32()
		with = append(with, e)
	}
	for _, z64 := range []bool{false, true} {
		want, got := layoutZip(with, z64), layoutZip(without, z64)
		for i, e := range with {
			got.setCRC(i, e.CRC32)
		}
		if len(got.segs) != len(want.segs) {
			t.Fatalf("z64=%v: %d segments, want %d", z64, len(got.segs), len(want.segs))
		}
		for i := range want.segs {
			if !bytes.Equal(got.segs[i].lit, want.segs[i].lit) {
				t.Fatalf("z64=%v: segment %d differs", z64, i)
			}
		}
		for end := int64(0); end <= got.total; end++ {
			n := got.needCRCs(end)
			if end > got.cdStart {
				if n != len(with) {
					t.Fatalf("z64=%v: bytes to %d reach the central directory but need %d CRCs", z64, end, n)
				}
				continue
			}
			for i := range with {
				if in := got.localAt[i] < end; in != (i < n) {
					t.Fatalf("z64=%v: bytes to %d: needCRCs %d, but local header %d at %d", z64, end, n, i, got.localAt[i])
				}
			}
		}
	}
}

// The CRC pass journals the CRCs with the layout they belong to; a pass
// after a restart takes them from the journal and reads no file (here: the
// files are gone), while a journal of another layout is not used.
func TestCRCPassJournalled(t *testing.T) {
	dir := sparseDrop(t, 3, 2*mib)
	ctx := context.Background()
	jb, err := New(Config{}).Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	j := jb.(*job)
	jr := vendortest.NewMemJournal()
	if err := j.Package(ctx, jr); err != nil {
		t.Fatal(err)
	}
	crcLayout(t, j, jr)
	var st crcState
	if ok, _ := jr.Load(journalCRC, &st); !ok || len(st.CRCs) != 4 {
		t.Fatalf("journalled %+v; want 4 CRCs", st)
	}
	for i, name := range []string{"images/s000.jpg", "images/s001.jpg", "images/s002.jpg"} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if st.CRCs[i+1] != crc32.ChecksumIEEE(b) {
			t.Errorf("%s: journalled CRC %08x, want %08x", name, st.CRCs[i+1], crc32.ChecksumIEEE(b))
		}
	}
	want, _ := crcLayout(t, j, jr)

	os.RemoveAll(filepath.Join(dir, "images"))
	layout, entries, stamps, fp, err := j.layout(jr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := newCRCPass(layout, entries, dir, stamps, jr, fp, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.run(ctx); err != nil {
		t.Fatalf("a pass with every CRC journalled read a file: %v", err)
	}
	for i := range want.segs {
		if !bytes.Equal(layout.segs[i].lit, want.segs[i].lit) {
			t.Fatalf("segment %d differs from the computed layout's", i)
		}
	}

	c, err = newCRCPass(layout, entries, dir, stamps, jr, "another layout", 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	if c.known != 0 {
		t.Fatalf("the CRCs of another layout were used (%d)", c.known)
	}
}

// The upload does not wait for a whole-drop CRC pass: the parts of the
// first files go while later files are still to be read. Here the last
// image is cut short after validation: Package (which reads no image)
// succeeds, the first files' parts reach the store, and then the upload
// fails, as invalid, naming the file.
func TestUploadOverlapsCRCPass(t *testing.T) {
	h := newHugeSetup(t, mib, false)
	h.dir = sparseDrop(t, 6, 4*mib)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v := New(Config{Endpoint: h.gw.URL, AppKey: "k", AppSecret: "s", PartSize: mib, UploadConcurrency: 1})
	jb, err := v.Open(ctx, h.dir)
	if err != nil {
		t.Fatal(err)
	}
	last := filepath.Join(h.dir, "images", "s005.jpg")
	if err := os.Truncate(last, 3*mib); err != nil {
		t.Fatal(err)
	}
	jr := vendortest.NewMemJournal()
	if err := jb.Package(ctx, jr); err != nil {
		t.Fatalf("Package read the images: %v", err)
	}
	err = jb.Upload(ctx, jr, nil)
	if vendors.KindOf(err) != vendors.Invalid || !dropfs.IsChanged(err) {
		t.Fatalf("Upload: %v (kind %v); want the changed file", err, vendors.KindOf(err))
	}
	if got := h.store.Stats().BytesReceived; got < 4*mib {
		t.Errorf("the store received %d bytes before the last file was read; want the first files' parts (≥ 4 MiB)", got)
	}
}

// blockingJournal holds the second write of the upload's state (the first
// with a part in it) until released.
type blockingJournal struct {
	*vendortest.MemJournal
	mu      sync.Mutex
	uploads int
	release chan struct{}
}

func (j *blockingJournal) Store(key string, v any) error {
	if key == journalUpload {
		j.mu.Lock()
		j.uploads++
		n := j.uploads
		j.mu.Unlock()
		if n == 2 {
			<-j.release
		}
	}
	return j.MemJournal.Store(key, v)
}

// A slow journal write (an fsync while the disk writes back) does not hold
// up the parts: with one part in flight, the next parts go while the write
// recording the first is still under way.
func TestSlowJournalDoesNotHoldParts(t *testing.T) {
	h := newHugeSetup(t, mib, false)
	h.dir = sparseDrop(t, 3, 2*mib)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v := New(Config{Endpoint: h.gw.URL, AppKey: "k", AppSecret: "s", PartSize: mib, UploadConcurrency: 1})
	jb, err := v.Open(ctx, h.dir)
	if err != nil {
		t.Fatal(err)
	}
	jr := &blockingJournal{MemJournal: vendortest.NewMemJournal(), release: make(chan struct{})}
	if err := jb.Package(ctx, jr); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- jb.Upload(ctx, jr, nil) }()
	deadline := time.Now().Add(10 * time.Second)
	for h.store.Stats().PartsUploaded < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	parts := h.store.Stats().PartsUploaded
	close(jr.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if parts < 4 {
		t.Fatalf("%d parts went up while the journal write for the first was held; want the others to go on", parts)
	}
}
