package realsee

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/dropfs"
)

// The CRCs of the archive's entries are computed while it uploads, not in
// a pass of their own before: a file's CRC is read, in order, while the
// parts before its header are sent, so the network never waits for a
// whole-drop pass. The reader runs ahead of the parts by a bounded window
// (crcWindow), so that what it reads is still in the page cache when the
// part is read from the file: the disk is read once per byte. The CRCs are
// journalled as they come, with the layout they belong to, so that a
// restart reads again only what was not journalled.

// journalCRC is the journal key of the CRCs computed so far.
const journalCRC = "realsee.crc"

// crcState is the journal record of the CRCs computed so far: CRCs[i] is
// entry i's, for the first len(CRCs) entries of the layout Layout.
type crcState struct {
	Layout string   `json:"layout"`
	CRCs   []uint32 `json:"crcs"`
}

// crcJournalEvery is how many bytes of files are checksummed between two
// journal writes: a restart reads at most this much again, and a drop of
// many small files does not cost a journal write per file.
const crcJournalEvery = 256 << 20

// crcPass computes the entries' CRCs in order and sets them in the layout.
// Parts wait for the CRCs of their headers (wait); the pass waits for the
// parts (advance) when it is more than window bytes ahead of them.
type crcPass struct {
	layout      *zipLayout
	entries     []zipEntry
	dir         string
	stamps      map[string]dropfs.Stamp
	jr          vendors.Journal
	fingerprint string
	window      int64

	mu      sync.Mutex
	known   int   // entries with their CRC set, from the first
	err     error // why the pass stopped before the end, if it did
	upTo    int64 // the archive's bytes the upload has asked for so far
	changed chan struct{}
	crcs    []uint32 // journalled with the layout
}

// crcWindow is how far ahead of the parts the CRC pass may start a file:
// more than a part (see run), and enough to keep the parts in flight fed,
// while what it read is still in the page cache when the parts read it.
func crcWindow(partSize int64, concurrency int) int64 {
	return max(2*partSize*int64(max(concurrency, 1)), 64<<20)
}

// newCRCPass prepares the pass for layout and applies the CRCs journalled
// for it by an earlier run.
func newCRCPass(layout *zipLayout, entries []zipEntry, dir string, stamps map[string]dropfs.Stamp,
	jr vendors.Journal, fingerprint string, window int64) (*crcPass, error) {
	c := &crcPass{layout: layout, entries: entries, dir: dir, stamps: stamps, jr: jr,
		fingerprint: fingerprint, window: window, changed: make(chan struct{})}
	var st crcState
	if _, err := jr.Load(journalCRC, &st); err != nil {
		return nil, err
	}
	if st.Layout == fingerprint && len(st.CRCs) <= len(entries) {
		for i, v := range st.CRCs {
			layout.setCRC(i, v)
		}
		c.crcs, c.known = st.CRCs, len(st.CRCs)
	}
	return c, nil
}

// signal wakes every waiter; c.mu is held.
func (c *crcPass) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// wait returns once the first n entries have their CRCs, or why they will
// not.
func (c *crcPass) wait(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		known, err, ch := c.known, c.err, c.changed
		c.mu.Unlock()
		if known >= n {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return vendors.E(vendors.Transient, opUpload, ctx.Err())
		}
	}
}

// waitFor returns once the archive's bytes up to end can be read. It also
// tells the pass how far the upload has got, which lets it read ahead.
func (c *crcPass) waitFor(ctx context.Context, end int64) error {
	c.advance(end)
	return c.wait(ctx, c.layout.needCRCs(end))
}

// advance records that the upload wants the archive's bytes up to end.
func (c *crcPass) advance(end int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if end > c.upTo {
		c.upTo = end
		c.signal()
	}
}

// run computes the missing CRCs, in order. It returns when all are known,
// when a file is not the one validated (the error every waiter then gets),
// or when ctx ends.
func (c *crcPass) run(ctx context.Context) (err error) {
	defer func() {
		c.mu.Lock()
		if err != nil && c.err == nil {
			c.err = err
		}
		c.signal()
		c.mu.Unlock()
	}()
	buf := make([]byte, 256<<10)
	var unjournalled int64
	for i := c.known; i < len(c.entries); i++ {
		// Start a file only while the parts are less than the window
		// behind. A file is always read to its end (its CRC is wanted by the
		// part its header is in), so a part waiting for this one's header
		// (which starts before that part ends) is never stuck behind the
		// window: the window is larger than a part.
		for {
			c.mu.Lock()
			ahead, ch := c.layout.dataAt(i)-c.upTo, c.changed
			c.mu.Unlock()
			if ahead <= c.window {
				break
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return vendors.E(vendors.Transient, opUpload, ctx.Err())
			}
		}
		e := c.entries[i]
		crc, err := c.fileCRC(ctx, e, buf)
		if err != nil {
			return err
		}
		unjournalled += e.Size
		c.mu.Lock()
		c.layout.setCRC(i, crc)
		c.crcs = append(c.crcs, crc)
		c.known = i + 1
		c.signal()
		c.mu.Unlock()
		if unjournalled >= crcJournalEvery || i == len(c.entries)-1 {
			unjournalled = 0
			if err := c.jr.Store(journalCRC, crcState{Layout: c.fingerprint, CRCs: c.crcs}); err != nil {
				return err
			}
		}
	}
	return nil
}

// fileCRC is the CRC-32 of entry e's bytes, read from its file, which must
// be the one validation checked and still be it once read.
func (c *crcPass) fileCRC(ctx context.Context, e zipEntry, buf []byte) (uint32, error) {
	if e.Size == 0 {
		return 0, nil
	}
	fh, err := dropfs.OpenStamped(opUpload, c.dir, e.File, c.stamps[e.File])
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	h := crc32.NewIEEE()
	sr := io.NewSectionReader(fh, e.Skip, e.Size)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return 0, vendors.E(vendors.Transient, opUpload, err)
		}
		m, rerr := sr.Read(buf)
		h.Write(buf[:m])
		n += int64(m)
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return 0, vendors.E(vendors.Other, opUpload, fmt.Errorf("%s: %v", e.File, rerr))
		}
	}
	if err := dropfs.CheckOpen(opUpload, c.dir, e.File, fh, c.stamps[e.File]); err != nil {
		return 0, err
	}
	if n != e.Size {
		return 0, dropfs.Changed(opUpload, e.File, "shorter than when it was checked")
	}
	return h.Sum32(), nil
}
