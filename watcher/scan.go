package watcher

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/scandrop/scandrop/internal/dropmark"
	"github.com/scandrop/scandrop/internal/dropname"
)

// candidate reports whether an inbox/ entry may be a drop: only real
// directories (a symlink is not followed: it could point anywhere) with a
// name that is not noise.
func candidate(e fs.DirEntry) bool {
	return e.IsDir() && !dropname.Ignored(e.Name())
}

// refusal says why an inbox/ entry that is neither a folder nor a file
// (nor hidden or temporary) can never be a drop, and what to do instead;
// "" for the others. A symlink is refused even when it points to a folder:
// a drop can never make scandrop read outside its own folder. These are
// said once (a WARN) and shown in status: a symlink dropped in by mistake
// must not sit there unexplained.
func refusal(e fs.DirEntry) string {
	if dropname.Ignored(e.Name()) {
		return ""
	}
	t := e.Type()
	var what string
	switch {
	case t&fs.ModeSymlink != 0:
		what = "is a symlink, which scandrop does not follow (a drop must not make it read outside its folder); copy the folder in instead"
	case t&fs.ModeIrregular != 0:
		what = "is neither a folder nor a file; copy the drop folder in instead"
	case dropname.SpecialKind(t) != "":
		what = "is " + dropname.SpecialKind(t) + ", not a folder; remove it and copy the drop folder in"
	default:
		return ""
	}
	return InboxDir + "/" + e.Name() + " " + what
}

func hasMarker(top []fs.DirEntry, markers []string) bool {
	return len(dropmark.Among(top, markers)) > 0
}

// scan reads inbox/. A full scan observes every candidate (the truth); a
// discovery scan, after file events, observes only new names. Both forget
// folders that disappeared and then try to claim ready ones.
func (w *Watcher) scan(ctx context.Context, r *runner, full bool) error {
	if w.opts.OnScan != nil {
		start := time.Now()
		defer func() { w.opts.OnScan(full, time.Since(start)) }()
	}
	entries, err := os.ReadDir(w.path(InboxDir))
	if err != nil {
		// waitRoot logs the cause once; logging here too would double it.
		w.log.Debug("cannot read inbox", "err", err)
		return errInboxUnavailable
	}
	w.pass++
	if full {
		w.rescans++
	}
	seen := make(map[string]bool, len(entries))
	refused := make(map[string]string)
	for _, e := range entries {
		if !candidate(e) {
			if why := refusal(e); why != "" {
				refused[e.Name()] = why
			}
			continue
		}
		name := e.Name()
		seen[name] = true
		f, known := w.folders[name]
		switch {
		case known && full && w.unchanged(f):
			f.pass = w.pass
		case full || !known:
			w.observe(name)
		}
	}
	for name := range w.folders {
		if !seen[name] {
			w.log.Debug("folder gone from inbox", "folder", name)
			w.forget(name)
		}
	}
	w.noteRefused(refused)
	w.claimReady(ctx, r)
	return nil
}

// refusalQuiet is how long a refused entry's name is not warned about
// again. An entry that flips between a folder and a symlink (a sync tool
// replacing it, or someone trying) would otherwise log a WARN at every
// flip; one line per name per window says it, and a different name still
// gets its own line.
const refusalQuiet = 10 * time.Minute

// noteRefused records the refused entries of this scan of inbox/, warning
// about each new one (or one whose reason changed, such as a symlink
// replaced by a FIFO of the same name) unless its name was warned about
// within refusalQuiet, and forgets those gone.
func (w *Watcher) noteRefused(now map[string]string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.now()
	if w.refusedSaid == nil {
		w.refusedSaid = make(map[string]time.Time)
	}
	for name, said := range w.refusedSaid {
		if t.Sub(said) >= refusalQuiet {
			delete(w.refusedSaid, name) // bounded by the names seen in one window
		}
	}
	for name, why := range now {
		if w.refused[name] == why {
			continue
		}
		if _, recent := w.refusedSaid[name]; recent {
			continue
		}
		w.log.Warn("inbox entry refused: "+why, "entry", InboxDir+"/"+name)
		w.refusedSaid[name] = t
	}
	w.refused = now
}

// recheckPending re-walks the folders that have a marker but are not ready,
// on a timer much shorter than PollInterval: their insides produce no file
// events on inbox/, and pickup should follow the end of a copy by about
// Settle, not Settle + PollInterval.
func (w *Watcher) recheckPending(ctx context.Context, r *runner) {
	w.pass++
	now := w.now()
	for name, f := range w.folders {
		if f.marker && !f.ready || w.young(f, now) {
			w.observe(name)
		}
	}
	w.claimReady(ctx, r)
}

// young reports a folder without a marker whose top level changed (or
// appeared) less than a PollInterval ago. It is re-checked with the pending
// ones: a copier creates the folder before it writes the marker, so the
// file event that discovers a folder almost always finds it without one, and
// waiting for the next rescan would add up to PollInterval to every pickup.
// Once quiet, it costs one ReadDir per rescan again.
func (w *Watcher) young(f *folder, now time.Time) bool {
	return !f.marker && f.problem == "" && now.Sub(f.topChanged) < w.opts.PollInterval
}

// topNames fingerprints the names at a folder's root, which ReadDir gives
// for free (no lstat), to tell whether a folder without a marker is still
// being filled.
func topNames(top []fs.DirEntry) string {
	h := fnv.New64a()
	for _, e := range top {
		h.Write([]byte(e.Name()))
		h.Write([]byte{0})
	}
	return string(h.Sum(nil))
}

// Folders without a marker are most of a busy inbox, and reading each one's
// root on every rescan is most of a rescan's cost. A folder's own mtime
// changes whenever an entry is added, removed or renamed at its root — a
// marker arriving included — so while it stays the same, the root need not
// be read again. Only an mtime comfortably in the past is trusted (file
// systems with coarse timestamps could hide a change made in the same
// second), and every dirModRecheck-th rescan reads every root regardless.
const (
	dirModMargin  = 2 * time.Second
	dirModRecheck = 10
)

// unchanged reports whether a folder without a marker certainly has the
// same root entries as when it was last read.
func (w *Watcher) unchanged(f *folder) bool {
	if f.marker || f.problem != "" || f.dirMod.IsZero() || w.rescans%dirModRecheck == 0 {
		return false
	}
	fi, err := os.Lstat(w.path(InboxDir, f.name))
	return err == nil && fi.IsDir() && fi.ModTime().Equal(f.dirMod)
}

// observe looks at one folder and updates its state. A folder without a
// marker costs one ReadDir; only folders with a marker are walked.
func (w *Watcher) observe(name string) {
	dir := w.path(InboxDir, name)
	start := w.now()
	pre, _ := os.Lstat(dir) // before reading: a change after it moves the mtime on
	top, err := os.ReadDir(dir)
	f := w.folders[name]
	isNew := f == nil
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		if f != nil {
			w.log.Debug("folder gone from inbox", "folder", name)
			w.forget(name)
		}
		return
	}
	w.mu.Lock()
	if f == nil {
		f = &folder{name: name, firstSeen: start}
		w.folders[name] = f
	}
	f.pass = w.pass
	w.mu.Unlock()
	if err != nil {
		w.update(f, func() { f.marker, f.ready, f.sig, f.problem = false, false, "", unwrap(err).Error() })
		w.warnOnce(f, "cannot read folder; it is not picked up until scandrop may read it (check its permissions and owner)", "err", err)
		return
	}
	if !hasMarker(top, w.opts.Markers) {
		if isNew || f.marker {
			w.log.Debug("folder has no marker, not a drop (yet)", "folder", name)
		}
		names := topNames(top)
		var mod time.Time
		if pre != nil && start.Sub(pre.ModTime()) > dirModMargin {
			mod = pre.ModTime()
		}
		w.update(f, func() {
			if isNew || names != f.top {
				f.top, f.topChanged = names, start
			}
			f.marker, f.ready, f.sig, f.problem, f.dirMod = false, false, "", "", mod
		})
		return
	}
	sig := signature(dir, top)
	end := w.now()
	switch {
	case !f.marker || sig != f.sig:
		// Changed (or first seen with a marker): the contents are known to
		// be like this only from the end of this walk on.
		if !f.marker || f.ready {
			// Logged when settling starts, not on every change of a copy
			// in progress.
			w.log.Debug("folder settling", "folder", name, "settle", w.opts.Settle)
		}
		w.update(f, func() {
			f.marker, f.ready, f.sig, f.since, f.problem, f.block = true, false, sig, end, "", blockNone
		})
		f.warned = "" // a changed folder may hit the same problem again: say so again
	case !f.ready && start.Sub(f.since) >= w.opts.Settle:
		// Unchanged from the end of the first walk to the start of this
		// one: that is the settle time, on our clock, whatever the mtimes.
		// But network and FUSE mounts answer from an attribute cache (NFS
		// for up to a minute), so a copy still in progress can look
		// unchanged for longer than settle: confirm with attributes fetched
		// from the file system itself before calling the folder ready.
		if fresh := freshSignature(dir); fresh != sig {
			now := w.now()
			w.update(f, func() { f.sig, f.since = fresh, now })
			w.log.Debug("folder changed behind the file system's attribute cache; settling again", "folder", name)
			break
		}
		w.update(f, func() { f.ready = true })
		w.log.Debug("folder ready", "folder", name, "unchanged_for", start.Sub(f.since).Round(time.Millisecond))
	}
}

func (w *Watcher) update(f *folder, fn func()) {
	w.mu.Lock()
	fn()
	w.mu.Unlock()
}

func (w *Watcher) forget(name string) {
	w.mu.Lock()
	delete(w.folders, name)
	w.mu.Unlock()
}

// warnOnce logs a problem of a folder once, until the problem changes, so a
// folder stuck for hours does not flood the log.
func (w *Watcher) warnOnce(f *folder, msg string, args ...any) {
	key := msg + fmt.Sprint(args...)
	if f.warned == key {
		return
	}
	f.warned = key
	w.log.Warn(msg, append([]any{"folder", f.name}, args...)...)
}

// claimReady tries to claim every ready folder, the longest-settled first so
// that limited slots are shared fairly.
func (w *Watcher) claimReady(ctx context.Context, r *runner) {
	var ready []*folder
	for _, f := range w.folders {
		if f.ready {
			ready = append(ready, f)
		}
	}
	if len(ready) == 0 {
		// Slots shared in turns (FairSlots) hold nobody back for a
		// watch with nothing in its inbox; one with folders settling
		// keeps its turn while its wait lasts.
		if i, ok := r.slots.(interface{ Idle() }); ok && len(w.folders) == 0 {
			i.Idle()
		}
		return
	}
	slices.SortFunc(ready, func(a, b *folder) int {
		return cmp.Or(a.since.Compare(b.since), strings.Compare(a.name, b.name))
	})
	for _, f := range ready {
		if ctx.Err() != nil {
			return
		}
		w.claim(f, r)
	}
}

func (w *Watcher) claim(f *folder, r *runner) {
	name := f.name
	src, dst := w.path(InboxDir, name), w.path(ProcessingDir, name)
	// On Linux, rename onto an empty directory replaces it: check first.
	if _, err := os.Lstat(dst); err == nil {
		if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
			// Another daemon claimed it since we looked: not a conflict.
			w.log.Debug("folder claimed by another watcher", "folder", name)
			w.forget(name)
			return
		}
		w.update(f, func() { f.block = blockBusy })
		w.warnOnce(f, "not claiming folder: a job with this name is already in processing/, will retry", "path", dst)
		return
	}
	if w.opts.Hold != nil {
		if why := w.opts.Hold(src); why != "" {
			if f.block != blockHeld || f.held != why {
				w.log.Info("not claiming folder yet", "folder", name, "reason", why)
			}
			w.update(f, func() { f.block, f.held = blockHeld, why })
			return
		}
	}
	if !r.slots.TryAcquire() {
		if f.block != blockSlot {
			w.log.Debug("folder ready, waiting for a free job slot", "folder", name)
		}
		w.update(f, func() { f.block = blockSlot })
		return
	}
	if f.pass != w.pass {
		// Ready as of an earlier pass (it waited for a slot or a name):
		// look again, it may have changed meanwhile.
		w.observe(name)
		if w.folders[name] != f || !f.ready {
			r.slots.Release()
			return
		}
	}
	if err := os.Rename(src, dst); err != nil {
		r.slots.Release()
		_, serr := os.Lstat(src)
		switch {
		case errors.Is(err, fs.ErrNotExist) && errors.Is(serr, fs.ErrNotExist):
			// The loser of a race between daemons on one share.
			w.log.Debug("folder claimed by another watcher", "folder", name)
			w.forget(name)
		case errors.Is(err, fs.ErrExist):
			w.update(f, func() { f.block = blockBusy })
			w.warnOnce(f, "not claiming folder: a job with this name is already in processing/, will retry", "path", dst)
		default:
			if errors.Is(err, fs.ErrNotExist) {
				// The source is there, so processing/ itself is gone.
				if os.Mkdir(w.path(ProcessingDir), 0o777) == nil {
					w.log.Info("created missing subdirectory", "path", w.path(ProcessingDir))
				}
			}
			w.update(f, func() { f.block, f.problem = blockError, err.Error() })
			w.warnOnce(f, "cannot claim folder, will retry", "err", err)
		}
		return
	}
	w.forget(name)
	w.log.Info("claimed folder", "folder", name, "path", dst)
	r.jobs.Add(1)
	go func() {
		defer r.jobs.Done()
		defer r.slots.Release()
		r.handle(dst)
	}()
}

// signature hashes every entry under dir, recursively: relative name, mode,
// size, mtime, and a symlink's target. Hidden and temporary entries count
// too: a growing .part file is a copy in progress. Symlinks are never
// followed (os.ReadDir's entries are lstat'ed). Read errors are hashed rather
// than returned: a file that vanished mid-walk changes the signature, and a
// persistent error settles, so the pipeline gets to report it.
func signature(dir string, top []fs.DirEntry) string {
	h := fnv.New128a()
	walk(h, dir, "", top, false)
	return string(h.Sum(nil))
}

// freshSignature is signature with every attribute fetched from the file
// system rather than from the kernel's attribute cache (see refreshAttrs),
// which is what a share that another host writes to needs. It costs a round
// trip per entry there, so it only confirms what cached walks suggest.
func freshSignature(dir string) string {
	refreshAttrs(dir)
	top, err := os.ReadDir(dir)
	if err != nil {
		return "error: " + err.Error()
	}
	h := fnv.New128a()
	walk(h, dir, "", top, true)
	return string(h.Sum(nil))
}

func walk(h hash.Hash, dir, rel string, entries []fs.DirEntry, fresh bool) {
	var buf [8]byte
	num := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	str := func(s string) {
		num(uint64(len(s)))
		h.Write([]byte(s))
	}
	for _, e := range entries {
		name := path.Join(rel, e.Name())
		full := filepath.Join(dir, e.Name())
		str(name)
		var fi fs.FileInfo
		var err error
		if fresh {
			refreshAttrs(full)
			fi, err = os.Lstat(full)
		} else {
			fi, err = e.Info()
		}
		if err != nil {
			str("error: " + err.Error())
			continue
		}
		num(uint64(fi.Mode()))
		num(uint64(fi.Size()))
		num(uint64(fi.ModTime().UnixNano()))
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(full)
			if err != nil {
				target = "error: " + err.Error()
			}
			str(target)
		case fi.IsDir():
			sub, err := os.ReadDir(full)
			walk(h, full, name, sub, fresh)
			if err != nil {
				str("error: " + err.Error())
			}
		}
	}
	str("end " + rel)
}

// Inspect reports the candidate folders in dir/inbox/ from a single scan, for
// a status command running outside the daemon. One scan cannot judge
// settling, so a folder with a marker is reported as waiting for it.
func Inspect(dir string, markers []string) ([]FolderState, error) {
	inbox := filepath.Join(dir, InboxDir)
	entries, err := os.ReadDir(inbox)
	if err != nil {
		return nil, fmt.Errorf("watcher: inspect %s: %w", inbox, err)
	}
	var out []FolderState
	for _, e := range entries {
		if !candidate(e) {
			if why := refusal(e); why != "" {
				out = append(out, FolderState{Name: e.Name(), Reason: refusedReason(why), Refused: true})
			}
			continue
		}
		st := FolderState{Name: e.Name()}
		top, err := os.ReadDir(filepath.Join(inbox, e.Name()))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // claimed since we listed inbox/
		case err != nil:
			st.Reason = "cannot read: " + unwrap(err).Error()
		case !hasMarker(top, markers):
			st.Reason = noMarkerReason(markers)
		default:
			if _, err := os.Lstat(filepath.Join(dir, ProcessingDir, e.Name())); err == nil {
				st.Reason = busyReason(e.Name())
			} else {
				st.Reason = "has marker, waiting to be unchanged for settle"
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// refusedReason is the status line of a refused entry.
func refusedReason(why string) string { return "refused: " + why }

// unwrap drops the path an *fs.PathError repeats: status shows the name.
func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
