package realsee

import (
	"encoding/binary"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/scandrop/scandrop/vendors/dropfs"
)

// The archive is laid out in advance rather than written through
// archive/zip: with every entry stored (JPEGs do not deflate), each byte of
// the archive is a function of the files alone, and every offset a function
// of the names and sizes alone. So any part of it can be produced on its
// own — parts upload in parallel straight from the files, with no temporary
// zip and no buffer — and after a restart the upload resumes at any part,
// because the same drop always gives the same bytes.
//
// The one thing not known up front is each entry's CRC-32, which its local
// header holds (streaming readers such as Java's ZipInputStream refuse a
// stored entry whose CRC and sizes come after the data). The CRCs are
// computed during the upload, file after file (crc.go), and patched into
// the headers with setCRC; a part is read only once the CRCs of every
// header in it are (needCRCs).

// zipEntry is one stored file of the archive.
type zipEntry struct {
	Name    string `json:"name"` // name inside the archive
	File    string `json:"file"` // path in the drop folder
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime"` // Unix nanoseconds
	CRC32   uint32 `json:"crc32"`
	// Skip is how many bytes at the start of File the entry leaves out
	// (a manifest's UTF-8 byte order mark); Size counts the rest.
	Skip int64     `json:"skip,omitempty"`
	time time.Time // ModTime as a time, for the DOS fields
}

// segment is a run of the archive: literal bytes or a range of a file.
type segment struct {
	off  int64  // offset in the archive
	lit  []byte // literal bytes (headers, directory), or nil
	file string // drop path when lit is nil
	foff int64  // where in file the run starts
	size int64
}

// zipLayout is a complete archive, as segments.
type zipLayout struct {
	segs  []segment
	total int64
	// Where each entry's CRC is written: its local header (a segment, and
	// the header's offset in the archive) and its central header (a
	// position in the central directory's segment).
	local   []int
	localAt []int64
	central []int
	cd      int   // the central directory's segment
	cdStart int64 // its offset in the archive
}

const (
	zip64Limit   = 0xFFFFFFFF
	sigLocal     = 0x04034b50
	sigCentral   = 0x02014b50
	sigEnd       = 0x06054b50
	sigEnd64     = 0x06064b50
	sigLocator64 = 0x07064b50
	flagUTF8     = 0x0800
)

// layoutZip lays out a stored (uncompressed) archive of entries. Zip64 is
// used throughout when the archive could outgrow the classic format; force64
// turns it on regardless, for tests.
func layoutZip(entries []zipEntry, force64 bool) *zipLayout {
	var sum int64
	for _, e := range entries {
		sum += e.Size + 30 + 20 + int64(len(e.Name))
	}
	z64 := force64 || sum >= zip64Limit || len(entries) >= 0xFFFF

	l := &zipLayout{}
	add := func(s segment) {
		s.off = l.total
		if s.lit != nil {
			s.size = int64(len(s.lit))
		}
		l.segs = append(l.segs, s)
		l.total += s.size
	}

	offsets := make([]int64, len(entries))
	l.local = make([]int, len(entries))
	for i, e := range entries {
		offsets[i] = l.total
		l.local[i] = len(l.segs)
		add(segment{lit: localHeader(e, z64)})
		if e.Size > 0 {
			add(segment{file: e.File, foff: e.Skip, size: e.Size})
		}
	}
	l.localAt = offsets
	cdStart := l.total
	var cd []byte
	l.central = make([]int, len(entries))
	for i, e := range entries {
		l.central[i] = len(cd)
		cd = append(cd, centralHeader(e, offsets[i], z64)...)
	}
	l.cd, l.cdStart = len(l.segs), cdStart
	add(segment{lit: cd})
	cdSize := int64(len(cd))
	add(segment{lit: endRecords(len(entries), cdStart, cdSize, z64)})
	return l
}

// setCRC writes entry i's CRC-32 into its local and central headers. The
// caller makes sure no one reads those bytes meanwhile: a part that holds
// them is read only after needCRCs says so.
func (l *zipLayout) setCRC(i int, crc uint32) {
	binary.LittleEndian.PutUint32(l.segs[l.local[i]].lit[14:], crc)
	binary.LittleEndian.PutUint32(l.segs[l.cd].lit[l.central[i]+16:], crc)
}

// needCRCs is how many entries, from the first, must have their CRC set
// before the archive's bytes up to end may be read: those whose local
// header starts before end, or all of them once end reaches into the
// central directory.
func (l *zipLayout) needCRCs(end int64) int {
	if end > l.cdStart {
		return len(l.local)
	}
	return sort.Search(len(l.localAt), func(i int) bool { return l.localAt[i] >= end })
}

// dataAt is the offset in the archive of entry i's data.
func (l *zipLayout) dataAt(i int) int64 {
	return l.localAt[i] + l.segs[l.local[i]].size
}

func dosTime(t time.Time) (date, tm uint16) {
	t = t.UTC()
	if t.Year() < 1980 {
		t = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	date = uint16(t.Day() + int(t.Month())<<5 + (t.Year()-1980)<<9)
	tm = uint16(t.Second()/2 + t.Minute()<<5 + t.Hour()<<11)
	return
}

func localHeader(e zipEntry, z64 bool) []byte {
	var extra []byte
	csize, usize := uint32(e.Size), uint32(e.Size)
	version := uint16(10)
	if z64 {
		extra = make([]byte, 20)
		binary.LittleEndian.PutUint16(extra[0:], 0x0001)
		binary.LittleEndian.PutUint16(extra[2:], 16)
		binary.LittleEndian.PutUint64(extra[4:], uint64(e.Size))
		binary.LittleEndian.PutUint64(extra[12:], uint64(e.Size))
		csize, usize = zip64Limit, zip64Limit
		version = 45
	}
	date, tm := dosTime(e.time)
	b := make([]byte, 30, 30+len(e.Name)+len(extra))
	le := binary.LittleEndian
	le.PutUint32(b[0:], sigLocal)
	le.PutUint16(b[4:], version)
	le.PutUint16(b[6:], flagUTF8)
	le.PutUint16(b[8:], 0) // stored
	le.PutUint16(b[10:], tm)
	le.PutUint16(b[12:], date)
	le.PutUint32(b[14:], e.CRC32)
	le.PutUint32(b[18:], csize)
	le.PutUint32(b[22:], usize)
	le.PutUint16(b[26:], uint16(len(e.Name)))
	le.PutUint16(b[28:], uint16(len(extra)))
	b = append(b, e.Name...)
	return append(b, extra...)
}

func centralHeader(e zipEntry, off int64, z64 bool) []byte {
	var extra []byte
	csize, usize, offset := uint32(e.Size), uint32(e.Size), uint32(off)
	version := uint16(10)
	if z64 {
		extra = make([]byte, 28)
		binary.LittleEndian.PutUint16(extra[0:], 0x0001)
		binary.LittleEndian.PutUint16(extra[2:], 24)
		binary.LittleEndian.PutUint64(extra[4:], uint64(e.Size))
		binary.LittleEndian.PutUint64(extra[12:], uint64(e.Size))
		binary.LittleEndian.PutUint64(extra[20:], uint64(off))
		csize, usize, offset = zip64Limit, zip64Limit, zip64Limit
		version = 45
	}
	date, tm := dosTime(e.time)
	b := make([]byte, 46, 46+len(e.Name)+len(extra))
	le := binary.LittleEndian
	le.PutUint32(b[0:], sigCentral)
	le.PutUint16(b[4:], 3<<8|version) // made by Unix
	le.PutUint16(b[6:], version)
	le.PutUint16(b[8:], flagUTF8)
	le.PutUint16(b[10:], 0)
	le.PutUint16(b[12:], tm)
	le.PutUint16(b[14:], date)
	le.PutUint32(b[16:], e.CRC32)
	le.PutUint32(b[20:], csize)
	le.PutUint32(b[24:], usize)
	le.PutUint16(b[28:], uint16(len(e.Name)))
	le.PutUint16(b[30:], uint16(len(extra)))
	// comment length, disk start, internal attrs: zero
	le.PutUint32(b[38:], uint32(0o100644)<<16) // external attrs: a regular file, rw-r--r--
	le.PutUint32(b[42:], offset)
	b = append(b, e.Name...)
	return append(b, extra...)
}

func endRecords(n int, cdStart, cdSize int64, z64 bool) []byte {
	le := binary.LittleEndian
	var b []byte
	count16, size32, start32 := uint16(n), uint32(cdSize), uint32(cdStart)
	if z64 {
		rec := make([]byte, 56)
		le.PutUint32(rec[0:], sigEnd64)
		le.PutUint64(rec[4:], 44)
		le.PutUint16(rec[12:], 45)
		le.PutUint16(rec[14:], 45)
		le.PutUint64(rec[24:], uint64(n))
		le.PutUint64(rec[32:], uint64(n))
		le.PutUint64(rec[40:], uint64(cdSize))
		le.PutUint64(rec[48:], uint64(cdStart))
		loc := make([]byte, 20)
		le.PutUint32(loc[0:], sigLocator64)
		le.PutUint64(loc[8:], uint64(cdStart+cdSize))
		le.PutUint32(loc[16:], 1)
		b = append(rec, loc...)
		count16, size32, start32 = 0xFFFF, zip64Limit, zip64Limit
	}
	end := make([]byte, 22)
	le.PutUint32(end[0:], sigEnd)
	le.PutUint16(end[8:], count16)
	le.PutUint16(end[10:], count16)
	le.PutUint32(end[12:], size32)
	le.PutUint32(end[16:], start32)
	return append(b, end...)
}

// archive reads a laid-out zip from the drop's files. It is an io.ReaderAt
// and safe for concurrent use. Files are opened once, on first use, with
// the same symlink-refusing rules as validation, and only if they still
// match the stamps they were packaged with; each is checked again (fstat)
// when a read reaches its end, and every file (Lstat) when a read reaches
// the archive's end. The first mismatch is kept: every later read fails
// with it, and changed reports it whatever the store made of the failure.
type archive struct {
	layout *zipLayout
	dir    string
	stamps map[string]dropfs.Stamp // by drop path

	mu    sync.Mutex
	files map[string]*os.File
	bad   error
}

const opUpload = "realsee: upload"

func (a *archive) file(name string) (*os.File, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.bad != nil {
		return nil, a.bad
	}
	if f, ok := a.files[name]; ok {
		return f, nil
	}
	f, err := dropfs.OpenStamped(opUpload, a.dir, name, a.stamps[name])
	if err != nil {
		a.bad = err
		return nil, err
	}
	if a.files == nil {
		a.files = map[string]*os.File{}
	}
	a.files[name] = f
	return f, nil
}

// fail keeps err as the archive's first mismatch and returns it.
func (a *archive) fail(err error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.bad == nil {
		a.bad = err
	}
	return a.bad
}

// changed returns the first mismatch a read found, or nil.
func (a *archive) changed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.bad
}

// verify checks every file of the archive against its stamp by Lstat, no
// data read: before the upload is completed, since a file can change after
// its part was sent.
func (a *archive) verify() error {
	if err := a.changed(); err != nil {
		return err
	}
	for _, s := range a.layout.segs {
		if s.lit != nil || s.file == "" { // (an empty directory is a nil literal)
			continue
		}
		if err := dropfs.Verify(opUpload, a.dir, s.file, a.stamps[s.file]); err != nil {
			return a.fail(err)
		}
	}
	return nil
}

// Close closes the files the archive opened.
func (a *archive) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range a.files {
		f.Close()
	}
	a.files = nil
	return nil
}

func (a *archive) Size() int64 { return a.layout.total }

func (a *archive) ReadAt(p []byte, off int64) (int, error) {
	segs := a.layout.segs
	if off >= a.layout.total {
		return 0, io.EOF
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i].off+segs[i].size > off })
	n := 0
	for n < len(p) && i < len(segs) {
		s := segs[i]
		in := off + int64(n) - s.off
		want := p[n:]
		if rest := s.size - in; int64(len(want)) > rest {
			want = want[:rest]
		}
		var m int
		if s.lit != nil {
			m = copy(want, s.lit[in:])
		} else {
			f, err := a.file(s.file)
			if err != nil {
				return n, err
			}
			m, err = f.ReadAt(want, s.foff+in)
			if err != nil && !(err == io.EOF && m == len(want)) {
				if err == io.EOF {
					err = a.fail(dropfs.Changed(opUpload, s.file, "shorter than when it was checked"))
				}
				return n + m, err
			}
			if in+int64(m) == s.size {
				if err := dropfs.CheckOpen(opUpload, a.dir, s.file, f, a.stamps[s.file]); err != nil {
					return n, a.fail(err)
				}
			}
		}
		n += m
		i++
	}
	if off+int64(n) == a.layout.total {
		if err := a.verify(); err != nil {
			return 0, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
