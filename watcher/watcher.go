// Package watcher finds project folders dropped into <dir>/inbox/ that are
// complete, and claims each one for exactly one job by an atomic rename into
// <dir>/processing/.
//
// A drop usually arrives over a network share, written by a copier we do not
// control: it may write the marker first, keep a file open for minutes, or
// preserve old mtimes. So a folder is claimed only when it has a marker at its
// root and its whole tree (names, sizes, mtimes, modes) has been seen
// unchanged for Settle, measured on our own clock between two walks.
//
// File events (fsnotify, on inbox/ only, never inside project folders) are a
// hint that makes discovery prompt; they are lost on overflow and never come
// at all on NFS/SMB/FUSE. A full rescan every PollInterval is the truth.
//
// Claiming is os.Rename(inbox/<name>, processing/<name>): on one file system
// it is atomic, so two daemons watching one share never run the same folder;
// the loser sees ENOENT and moves on.
package watcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/scandrop/scandrop/internal/dropname"
)

// Mode selects how new folders are noticed.
type Mode string

const (
	// ModeAuto uses file events as hints plus rescans, and falls back to
	// rescans alone (with one warning) when file events are unavailable.
	ModeAuto Mode = "auto"
	// ModeNotify requires file events; Run fails if they are unavailable.
	ModeNotify Mode = "notify"
	// ModePoll uses rescans only: for NAS/SMB/NFS/FUSE mounts where no
	// events arrive.
	ModePoll Mode = "poll"
)

// Options configure a Watcher. Defaults belong to the configuration layer;
// New only rejects values that cannot work.
type Options struct {
	// Dir is the watch root holding inbox/ processing/ done/ failed/.
	Dir string
	// Mode is ModeAuto, ModeNotify or ModePoll; "" means ModeAuto.
	Mode Mode
	// OnScan, if set, is told how long each scan of inbox/ took (full
	// rescans and the quick ones after file events), for metrics. It is
	// called from the watcher's goroutine and must be quick.
	OnScan func(full bool, took time.Duration)
	// PollInterval is the period of the full rescan (plus up to 10% jitter,
	// so that daemons sharing a mount do not scan in lockstep); 0 means
	// DefaultPollInterval.
	PollInterval time.Duration
	// Settle is how long a folder's tree must be seen unchanged, across at
	// least two walks, before it is claimed. 0 is valid and means no wait
	// beyond that: the folder is claimed at the second walk that finds it
	// unchanged, which comes a recheck (MinRecheck) after the first. The
	// configuration's default is DefaultSettle.
	Settle time.Duration
	// Markers are entry names at a folder's root that make it a drop, e.g.
	// "manifest.json", "recon.yaml". Any one of them is enough.
	Markers []string
	// Logger receives one event per line; nil means slog.Default().
	Logger *slog.Logger
	// Hold, if set, is asked about each ready folder (its path in inbox/)
	// just before it would be claimed: a non-empty answer says why it
	// must wait, leaves it in inbox/ (Inbox shows the answer) and it is
	// asked again at the next check. The daemon holds the drops of a
	// vendor whose credentials are refused. It runs on the watcher's
	// goroutine and must be quick.
	Hold func(path string) string
}

// Subdirectories of the watch root.
const (
	InboxDir      = "inbox"
	ProcessingDir = "processing"
	DoneDir       = "done"
	FailedDir     = "failed"
)

// Defaults of the configuration keys the watcher owns (internal/config
// applies them, so that an explicit "settle: 0s" stays 0).
const (
	DefaultMode         = ModeAuto
	DefaultPollInterval = 10 * time.Second
	DefaultSettle       = 10 * time.Second
)

const (
	// MinRecheck is the shortest period between two walks of a folder
	// that is settling.
	MinRecheck = 10 * time.Millisecond
	// debounceDelay groups a burst of file events (a copier creating a
	// folder and its first files) into one discovery scan.
	debounceDelay = 75 * time.Millisecond
	// maxRecheck caps the pending re-check period so that pickup happens
	// within about Settle + 1s of the last change, whatever PollInterval is.
	maxRecheck = time.Second
)

// errInboxUnavailable makes Run go back to waiting for the root: the share
// was unmounted, or inbox/ was removed or became unreadable.
var errInboxUnavailable = errors.New("inbox unavailable")

// Watcher watches one watch root. Create it with New; call Run once.
type Watcher struct {
	opts      Options
	log       *slog.Logger
	noMarker  string // the "no marker (...)" reason, built once
	recheck   time.Duration
	now       func() time.Time
	newNotify func(dir string) (*fsnotify.Watcher, error)

	running        atomic.Bool
	warnedFallback bool // only touched by the Run goroutine

	// mu guards folders and the fields of the folders that Inbox reads.
	// Only the Run goroutine writes them, so it may read them without the
	// lock; Inbox reads them from other goroutines under the lock.
	mu      sync.Mutex
	folders map[string]*folder
	// refused are the inbox/ entries that can never be drops (symlinks,
	// FIFOs, sockets, devices), by name, with why (see refusal).
	refused map[string]string
	// refusedSaid is when each refused name was last warned about, for
	// refusalQuiet; only touched by the Run goroutine, under mu.
	refusedSaid map[string]time.Time
	pass        uint64 // observation pass, only touched by the Run goroutine
	rescans     uint64 // full rescans, likewise
}

// folder is what the watcher knows about one candidate in inbox/.
type folder struct {
	name      string
	firstSeen time.Time
	marker    bool
	sig       string    // hash of the tree, see signature
	since     time.Time // end of the first walk that saw sig
	ready     bool
	pass      uint64 // pass of the last observation
	block     block  // why a ready folder is not claimed yet
	problem   string // read or claim error, for Inbox
	held      string // why Hold keeps it, with blockHeld
	// Without a marker: the names at the root, and when they last changed.
	top        string
	topChanged time.Time
	// dirMod is the folder's own mtime when its root was last read without
	// a marker, if old enough to trust (see unchanged); zero otherwise.
	dirMod time.Time
	warned string // last warning logged for this folder: each problem is logged once
}

type block int

const (
	blockNone  block = iota
	blockSlot        // no free job slot
	blockBusy        // processing/<name> exists
	blockError       // rename failed
	blockHeld        // Options.Hold said to wait
)

// FolderState says why a folder in inbox/ has not been claimed yet.
type FolderState struct {
	Name string
	// Reason is human-readable: "no marker (manifest.json or recon.yaml)",
	// "settling: changed 3s ago, needs 10s unchanged", "ready",
	// "waiting for a free job slot",
	// "a job named X is already in processing/", ...
	Reason string
	// Since is when the current contents were first seen; zero when unknown
	// (Inspect cannot know it from one scan).
	Since time.Time
	// Refused marks an entry that can never be a drop: a symlink, FIFO,
	// socket or device in inbox/. Reason says what it is and what to do.
	Refused bool
}

// Slots bounds how many claimed jobs run at once. One Slots is shared by all
// watchers of a daemon.
type Slots interface {
	// TryAcquire takes a slot if one is free, without blocking: a folder
	// that finds none stays in inbox/, where another daemon may take it.
	TryAcquire() bool
	// Release returns a slot taken by TryAcquire.
	Release()
}

// NewSlots returns Slots with n slots; n < 1 is treated as 1 so that a
// misconfigured daemon still makes progress.
func NewSlots(n int) Slots {
	return make(chanSlots, max(n, 1))
}

type chanSlots chan struct{}

func (s chanSlots) TryAcquire() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s chanSlots) Release() {
	select {
	case <-s:
	default:
		panic("watcher: Slots.Release without a matching TryAcquire")
	}
}

// New validates opts and returns a Watcher. It does not touch the disk: the
// root may legitimately be missing until a share is mounted.
func New(opts Options) (*Watcher, error) {
	switch opts.Mode {
	case "":
		opts.Mode = ModeAuto
	case ModeAuto, ModeNotify, ModePoll:
	default:
		return nil, fmt.Errorf("watcher: mode %q: want auto, notify or poll", opts.Mode)
	}
	if opts.Dir == "" {
		return nil, errors.New("watcher: dir is empty")
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if err := ValidateTimes(opts.PollInterval, opts.Settle); err != nil {
		return nil, fmt.Errorf("watcher: %s: %w", opts.Dir, err)
	}
	if len(opts.Markers) == 0 {
		return nil, fmt.Errorf("watcher: %s: no markers: nothing could ever be claimed", opts.Dir)
	}
	for _, m := range opts.Markers {
		if m == "" || m == "." || m == ".." || strings.ContainsAny(m, `/\`) {
			return nil, fmt.Errorf("watcher: %s: marker %q must be a plain entry name", opts.Dir, m)
		}
	}
	opts.Markers = slices.Clone(opts.Markers)
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Watcher{
		opts:      opts,
		log:       logger.With("dir", opts.Dir),
		noMarker:  noMarkerReason(opts.Markers),
		recheck:   max(min(maxRecheck, opts.Settle/2), MinRecheck),
		now:       time.Now,
		newNotify: newNotify,
		folders:   make(map[string]*folder),
	}, nil
}

// ValidateTimes checks a watch's poll interval and settle time, as the
// watcher takes them: the one home of these rules, which the configuration
// applies to its keys too. A poll interval must be positive; settle may be
// 0 (see Options.Settle) but not negative.
func ValidateTimes(pollInterval, settle time.Duration) error {
	if pollInterval <= 0 {
		return fmt.Errorf("poll interval %v must be positive", pollInterval)
	}
	if settle < 0 {
		return fmt.Errorf("settle %v must not be negative", settle)
	}
	return nil
}

func noMarkerReason(markers []string) string {
	return "no marker (" + strings.Join(markers, " or ") + ")"
}

func (w *Watcher) path(sub string, name ...string) string {
	return filepath.Join(append([]string{w.opts.Dir, sub}, name...)...)
}

// runner is what Run needs to start jobs.
type runner struct {
	slots  Slots
	handle func(claimedPath string)
	jobs   sync.WaitGroup
}

// Run watches until ctx is cancelled, then returns ctx.Err() once every
// handler it started has returned.
//
// While the root is missing (an unmounted share) Run waits and retries every
// PollInterval, logging one line per distinct cause rather than one per
// retry. It creates inbox/ processing/ done/ failed/ inside an existing root
// but never the root itself: that would write to the local disk under an
// unmounted mount point.
//
// For every ready folder, if slots.TryAcquire succeeds, Run renames
// inbox/<name> to processing/<name> and calls handle(claimedPath) in a new
// goroutine, releasing the slot when handle returns. Without a free slot the
// folder stays in inbox/ and is tried at the next check.
//
// Run fails early only in ModeNotify when file events are unavailable.
func (w *Watcher) Run(ctx context.Context, slots Slots, handle func(claimedPath string)) error {
	if slots == nil || handle == nil {
		return errors.New("watcher: Run needs slots and a handler")
	}
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("watcher: Run called twice")
	}
	r := &runner{slots: slots, handle: handle}
	err := w.run(ctx, r)
	r.jobs.Wait()
	w.forgetAll()
	return err
}

func (w *Watcher) run(ctx context.Context, r *runner) error {
	for {
		if err := w.waitRoot(ctx); err != nil {
			return err
		}
		err := w.watch(ctx, r)
		if !errors.Is(err, errInboxUnavailable) {
			return err
		}
		// Whatever we knew about the folders may be stale once the share
		// comes back: start their settle time over. Wait a period first so
		// that a share that lists its root but fails on inbox/ does not make
		// us spin.
		w.forgetAll()
		if err := sleep(ctx, w.opts.PollInterval); err != nil {
			return err
		}
	}
}

// waitRoot returns once the root exists with its subdirectories, or when
// ctx is done.
func (w *Watcher) waitRoot(ctx context.Context) error {
	var logged string
	for {
		err := w.prepareRoot()
		if err == nil {
			if logged != "" {
				w.log.Info("watch root available again")
			}
			return nil
		}
		if msg := err.Error(); msg != logged {
			w.log.Warn("watch root unavailable, retrying every poll interval (is the share mounted?)",
				"err", err, "poll_interval", w.opts.PollInterval)
			logged = msg
		}
		if err := sleep(ctx, w.opts.PollInterval); err != nil {
			return err
		}
	}
}

// prepareRoot checks the root and creates its missing subdirectories with
// os.Mkdir, not MkdirAll: if the root vanishes meanwhile, Mkdir fails instead
// of recreating it on the local disk.
func (w *Watcher) prepareRoot() error {
	fi, err := os.Stat(w.opts.Dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", w.opts.Dir)
	}
	for _, sub := range []string{InboxDir, ProcessingDir, DoneDir, FailedDir} {
		p := w.path(sub)
		// The umask decides, so a shared drop folder can be group-writable.
		err := os.Mkdir(p, 0o777)
		switch {
		case err == nil:
			w.log.Info("created missing subdirectory", "path", p)
		case errors.Is(err, fs.ErrExist):
			if fi, err := os.Stat(p); err != nil {
				return err
			} else if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", p)
			}
		default:
			return err
		}
	}
	// Readable, not merely present: a permission problem must be reported
	// here, once, rather than make every scan fail.
	f, err := os.Open(w.path(InboxDir))
	if err != nil {
		return err
	}
	_, err = f.ReadDir(1)
	f.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// watch runs the scan loop until ctx is done or inbox/ becomes unavailable.
func (w *Watcher) watch(ctx context.Context, r *runner) error {
	events, errs, stop, err := w.startNotify()
	if err != nil {
		return err
	}
	defer stop()

	poll := time.NewTimer(w.jittered())
	defer poll.Stop()
	pending := time.NewTimer(time.Hour)
	pending.Stop()
	defer pending.Stop()
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	debouncing, fullNext := false, false
	arm := func() {
		if !debouncing {
			debounce.Reset(debounceDelay)
			debouncing = true
		}
	}

	// Slots that say when a slot frees for this watch (FairSlots) let the
	// folders waiting for one go at once rather than at the next scan.
	var slotFree <-chan struct{}
	if n, ok := r.slots.(interface{ Free() <-chan struct{} }); ok {
		slotFree = n.Free()
	}

	err = w.scan(ctx, r, true)
	for err == nil {
		w.schedule(pending)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-slotFree:
			w.claimReady(ctx, r)
		case <-poll.C:
			err = w.scan(ctx, r, true)
			poll.Reset(w.jittered())
		case <-pending.C:
			w.recheckPending(ctx, r)
		case <-debounce.C:
			debouncing = false
			err = w.scan(ctx, r, fullNext)
			fullNext = false
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Op != fsnotify.Chmod && !dropname.Ignored(filepath.Base(ev.Name)) {
				arm()
			}
		case e, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// Events were lost or the watch broke: only a full rescan
			// can tell what happened meanwhile.
			if errors.Is(e, fsnotify.ErrEventOverflow) {
				w.log.Info("file event overflow, rescanning", "err", e)
			} else {
				w.log.Warn("file event error, rescanning", "err", e)
			}
			fullNext = true
			arm()
		}
	}
	return err
}

func (w *Watcher) startNotify() (<-chan fsnotify.Event, <-chan error, func(), error) {
	noop := func() {}
	if w.opts.Mode == ModePoll {
		return nil, nil, noop, nil
	}
	inbox := w.path(InboxDir)
	fw, err := w.newNotify(inbox)
	if err != nil {
		if w.opts.Mode == ModeNotify {
			return nil, nil, noop, fmt.Errorf("watcher: %s: file events unavailable (mode notify; use mode poll on network shares): %w", inbox, err)
		}
		if !w.warnedFallback {
			w.log.Warn("file events unavailable, falling back to polling", "err", err, "poll_interval", w.opts.PollInterval)
			w.warnedFallback = true
		}
		return nil, nil, noop, nil
	}
	return fw.Events, fw.Errors, func() { fw.Close() }, nil
}

func newNotify(dir string) (*fsnotify.Watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := fw.Add(dir); err != nil {
		fw.Close()
		return nil, err
	}
	return fw, nil
}

// jittered spreads the rescans of daemons sharing a mount.
func (w *Watcher) jittered() time.Duration {
	d := w.opts.PollInterval
	return d + rand.N(d/10+1)
}

// schedule arms the pending re-check timer: every w.recheck while any folder
// with a marker is unclaimed or a folder without one is young, and exactly when a folder's settle time is up,
// so that pickup does not wait for an extra period.
func (w *Watcher) schedule(t *time.Timer) {
	t.Stop()
	now := w.now()
	next, any := now.Add(w.recheck), false
	for _, f := range w.folders {
		if !f.marker && !w.young(f, now) {
			continue
		}
		any = true
		// At least a recheck apart: with settle 0 the second walk is the
		// whole stability check, and must not follow the first at once.
		if due := f.since.Add(max(w.opts.Settle, w.recheck)); !f.ready && due.Before(next) {
			next = due
		}
	}
	if any {
		t.Reset(max(next.Sub(now), time.Millisecond))
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Inbox reports every candidate folder in inbox/ and why it is not claimed
// yet, sorted by name. It is empty while Run is not running.
func (w *Watcher) Inbox() []FolderState {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]FolderState, 0, len(w.folders))
	for _, f := range w.folders {
		st := FolderState{Name: f.name, Since: f.since}
		switch {
		case !f.marker && f.problem != "":
			st.Reason = "cannot read: " + f.problem + " (check its permissions)"
		case !f.marker:
			st.Reason, st.Since = w.noMarker, f.firstSeen
		case !f.ready:
			st.Reason = fmt.Sprintf("settling: changed %v ago, needs %v unchanged", roundAgo(now.Sub(f.since)), w.opts.Settle)
		case f.block == blockSlot:
			st.Reason = "waiting for a free job slot"
		case f.block == blockBusy:
			st.Reason = busyReason(f.name)
		case f.block == blockHeld:
			st.Reason = f.held
		case f.block == blockError:
			st.Reason = "cannot claim, retrying: " + f.problem
		default:
			st.Reason = "ready"
		}
		out = append(out, st)
	}
	for name, why := range w.refused {
		out = append(out, FolderState{Name: name, Reason: refusedReason(why), Refused: true})
	}
	slices.SortFunc(out, func(a, b FolderState) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func busyReason(name string) string {
	return fmt.Sprintf("a job named %s is already in processing/", name)
}

// roundAgo keeps status output readable for both test-sized and real settle
// times.
func roundAgo(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Second)
}

func (w *Watcher) forgetAll() {
	w.mu.Lock()
	clear(w.folders)
	// The refused entries are kept: they were said once, and a share that
	// comes back with them does not make them news.
	w.mu.Unlock()
}
