package watcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

const (
	testPoll   = 200 * time.Millisecond
	testSettle = 300 * time.Millisecond
)

var testMarkers = []string{"manifest.json", "recon.yaml"}

// logBuf collects the watcher's log lines; tests assert on them because
// "one clear line, not one per retry" is a promise to operators.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// count counts log lines containing every one of parts.
func (l *logBuf) count(parts ...string) int {
	n := 0
	for line := range strings.SplitSeq(l.String(), "\n") {
		if line != "" && !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) }) {
			n++
		}
	}
	return n
}

type claim struct {
	path string
	at   time.Time
}

type harness struct {
	t      *testing.T
	dir    string
	w      *Watcher
	logs   *logBuf
	claims chan claim
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// newHarness builds a watcher on dir with test-sized durations; mod may
// change the options before New.
func newHarness(t *testing.T, dir string, mod func(*Options)) *harness {
	t.Helper()
	logs := &logBuf{}
	opts := Options{
		Dir:          dir,
		Mode:         ModeAuto,
		PollInterval: testPoll,
		Settle:       testSettle,
		Markers:      testMarkers,
		Logger:       slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&opts)
	}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, dir: dir, w: w, logs: logs, claims: make(chan claim, 1000)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("watcher log of %s:\n%s", dir, logs)
		}
	})
	return h
}

// record is the default handler: it reports each claim with its time.
func (h *harness) record(p string) { h.claims <- claim{p, time.Now()} }

// start runs the watcher; handle nil means h.record.
func (h *harness) start(slots Slots, handle func(string)) {
	h.t.Helper()
	if handle == nil {
		handle = h.record
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.w.Run(ctx, slots, handle) }()
	h.t.Cleanup(func() {
		if err := h.stop(); !errors.Is(err, context.Canceled) {
			h.t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
}

func (h *harness) stop() error {
	h.once.Do(func() {
		h.cancel()
		select {
		case h.err = <-h.done:
		case <-time.After(5 * time.Second):
			h.err = errors.New("Run did not return within 5s of cancel")
		}
	})
	return h.err
}

func (h *harness) waitClaim(timeout time.Duration) claim {
	h.t.Helper()
	select {
	case c := <-h.claims:
		return c
	case <-time.After(timeout):
		h.t.Fatalf("no folder claimed within %v; inbox: %+v", timeout, h.w.Inbox())
		return claim{}
	}
}

func (h *harness) expectNoClaim(d time.Duration) {
	h.t.Helper()
	select {
	case c := <-h.claims:
		h.t.Fatalf("unexpected claim of %s", c.path)
	case <-time.After(d):
	}
}

// waitFor polls cond where there is no channel to wait on (state on disk or
// in Inbox).
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func mkdirs(t *testing.T, dir string) {
	t.Helper()
	for _, sub := range []string{InboxDir, ProcessingDir, DoneDir, FailedDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// writeTree creates dir and the files in it ("a/b.jpg" makes a/).
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, p string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatalf("write during copy: %v (claimed too early?)", err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func noClaimYet(t *testing.T, h *harness) {
	t.Helper()
	select {
	case c := <-h.claims:
		t.Fatalf("claimed %s while the copy was still in progress", c.path)
	default:
	}
}

// assertPickup checks the settle promise: not before the last write +
// Settle, and within last write + Settle + slack.
func assertPickup(t *testing.T, c claim, last time.Time, settle, slack time.Duration) {
	t.Helper()
	lat := c.at.Sub(last)
	t.Logf("claimed %v after the last write (settle %v)", lat.Round(time.Millisecond), settle)
	if lat < settle {
		t.Errorf("claimed %v after the last write, before settle %v", lat, settle)
	}
	if lat > settle+slack {
		t.Errorf("claimed %v after the last write, later than settle %v + %v", lat, settle, slack)
	}
}

// 1. A drop is claimed once, into processing/, in every mode. The name has
// spaces and non-ASCII letters, as capture rigs and Windows users make them.
func TestHappyPath(t *testing.T) {
	for _, mode := range []Mode{ModeAuto, ModeNotify, ModePoll} {
		t.Run(string(mode), func(t *testing.T) {
			dir := t.TempDir()
			h := newHarness(t, dir, func(o *Options) { o.Mode = mode })
			h.start(NewSlots(2), nil)
			waitFor(t, 2*time.Second, "inbox/ created", func() bool { return exists(filepath.Join(dir, InboxDir)) })

			name := "Nave – Iglesia ñ 2026"
			writeTree(t, filepath.Join(dir, InboxDir, name), map[string]string{
				"manifest.json":   `{"images":["img/1.jpg"]}`,
				"img/1.jpg":       "jpeg",
				".DS_Store":       "noise",
				"img/sub/2.jpg":   "jpeg2",
				"img/sub/~x.tmp":  "tmp",
				"empty/.keep.dir": "",
			})
			c := h.waitClaim(3 * time.Second)
			want := filepath.Join(dir, ProcessingDir, name)
			if c.path != want {
				t.Fatalf("handle got %q, want %q", c.path, want)
			}
			if !exists(filepath.Join(want, "manifest.json")) || !exists(filepath.Join(want, "img", "sub", "2.jpg")) {
				t.Errorf("claimed folder is incomplete in processing/")
			}
			if exists(filepath.Join(dir, InboxDir, name)) {
				t.Errorf("folder still in inbox/ after claim")
			}
			if n := h.logs.count("level=INFO", "claimed folder", "folder=\""+name+"\""); n != 1 {
				t.Errorf("%d info lines for the claim with the folder attribute, want 1", n)
			}
			h.expectNoClaim(2*testPoll + testSettle)
		})
	}
}

// A marker that is a directory, and both markers at once, are still claimed:
// the pipeline fails them with a clear error rather than leaving them
// silently in inbox/.
func TestOddMarkersAreClaimed(t *testing.T) {
	dir := t.TempDir()
	mkdirs(t, dir)
	inbox := filepath.Join(dir, InboxDir)
	writeTree(t, filepath.Join(inbox, "dir-marker", "manifest.json"), map[string]string{"x": "y"})
	writeTree(t, filepath.Join(inbox, "both"), map[string]string{"manifest.json": "{}", "recon.yaml": "a: b"})
	writeTree(t, filepath.Join(inbox, "aholo"), map[string]string{"recon.yaml": "a: b"})
	h := newHarness(t, dir, nil)
	h.start(NewSlots(5), nil)
	var got []string
	for range 3 {
		got = append(got, filepath.Base(h.waitClaim(3*time.Second).path))
	}
	slices.Sort(got)
	if want := []string{"aholo", "both", "dir-marker"}; !slices.Equal(got, want) {
		t.Errorf("claimed %v, want %v", got, want)
	}
}

// 2. A slow copier writes the marker first, then five files 400ms apart,
// each in two writes. Settle is longer than any pause of the copier.
func TestSlowCopier(t *testing.T) {
	const settle = 700 * time.Millisecond
	dir := t.TempDir()
	mkdirs(t, dir)
	h := newHarness(t, dir, func(o *Options) { o.Settle = settle })
	h.start(NewSlots(1), nil)

	drop := filepath.Join(dir, InboxDir, "slow")
	writeTree(t, drop, map[string]string{"manifest.json": `{"images":[]}`})
	begin := time.Now()
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	var last time.Time
	for i := range 5 {
		time.Sleep(time.Until(begin.Add(time.Duration(i+1) * 400 * time.Millisecond)))
		noClaimYet(t, h)
		p := filepath.Join(drop, fmt.Sprintf("img_%d.jpg", i))
		appendFile(t, p, chunk)
		time.Sleep(200 * time.Millisecond)
		noClaimYet(t, h)
		appendFile(t, p, chunk)
		last = time.Now()
	}
	c := h.waitClaim(settle + 3*time.Second)
	assertPickup(t, c, last, settle, 1500*time.Millisecond)
	if fi, err := os.Stat(filepath.Join(c.path, "img_4.jpg")); err != nil || fi.Size() != 2*int64(len(chunk)) {
		t.Errorf("last file incomplete in processing/: %v %v", fi, err)
	}
}

// 3. A file that keeps growing in place holds the folder back until it
// stops.
func TestGrowingFile(t *testing.T) {
	dir := t.TempDir()
	mkdirs(t, dir)
	h := newHarness(t, dir, nil)
	h.start(NewSlots(1), nil)

	drop := filepath.Join(dir, InboxDir, "growing")
	writeTree(t, drop, map[string]string{"manifest.json": "{}"})
	p := filepath.Join(drop, "scan.e57")
	var last time.Time
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
		noClaimYet(t, h)
		appendFile(t, p, []byte("0123456789abcdef"))
		last = time.Now()
		time.Sleep(100 * time.Millisecond)
	}
	c := h.waitClaim(testSettle + 3*time.Second)
	assertPickup(t, c, last, testSettle, 1500*time.Millisecond)
}

// 4. A folder prepared elsewhere (with old, preserved mtimes) and renamed
// into inbox/ half-way is not claimed until the writes after the move stop:
// readiness uses the watcher's clock, not mtimes.
func TestRenamedInHalfway(t *testing.T) {
	const settle = 400 * time.Millisecond
	dir := t.TempDir()
	mkdirs(t, dir)
	h := newHarness(t, dir, func(o *Options) { o.Settle = settle })
	h.start(NewSlots(1), nil)

	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	staging := filepath.Join(dir, "staging", "moved")
	writeTree(t, staging, map[string]string{"manifest.json": "{}", "a.jpg": "aaaa", "b.jpg": "bbbb"})
	for _, n := range []string{"manifest.json", "a.jpg", "b.jpg"} {
		if err := os.Chtimes(filepath.Join(staging, n), old, old); err != nil {
			t.Fatal(err)
		}
	}
	drop := filepath.Join(dir, InboxDir, "moved")
	if err := os.Rename(staging, drop); err != nil {
		t.Fatal(err)
	}
	var last time.Time
	for i := range 4 {
		time.Sleep(200 * time.Millisecond)
		noClaimYet(t, h)
		p := filepath.Join(drop, fmt.Sprintf("late_%d.jpg", i))
		appendFile(t, p, []byte("late"))
		// The copier preserves the source's mtime.
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		last = time.Now()
	}
	c := h.waitClaim(settle + 3*time.Second)
	assertPickup(t, c, last, settle, 1500*time.Millisecond)
	if !exists(filepath.Join(c.path, "late_3.jpg")) {
		t.Error("last late file missing in processing/")
	}
}

// 5. Folders without a marker, loose files, hidden and temporary names and
// symlinks are never claimed; Inbox and Inspect say why (a symlink is
// refused, with one warning).
func TestNotCandidates(t *testing.T) {
	dir := t.TempDir()
	mkdirs(t, dir)
	inbox := filepath.Join(dir, InboxDir)
	marker := map[string]string{"manifest.json": "{}", "1.jpg": "j"}
	writeTree(t, filepath.Join(inbox, "plain"), map[string]string{"1.jpg": "j", "sub/manifest.json": "not at the root"})
	writeTree(t, inbox, map[string]string{"manifest.json": "loose", "notes.txt": "loose"})
	for _, n := range []string{".hidden", "~lock", "copy.tmp", "upload.PART", "x.Tmp", "Thumbs.db", "desktop.ini"} {
		writeTree(t, filepath.Join(inbox, n), marker)
	}
	writeTree(t, filepath.Join(dir, "elsewhere"), marker)
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(inbox, "link")); err != nil {
		t.Fatal(err)
	}
	// A control drop, present from the start like the others: once it is
	// claimed, any of the others would have been too.
	writeTree(t, filepath.Join(inbox, "control"), marker)

	h := newHarness(t, dir, nil)
	h.start(NewSlots(10), nil)
	if c := h.waitClaim(3 * time.Second); filepath.Base(c.path) != "control" {
		t.Fatalf("claimed %s, want control", c.path)
	}
	h.expectNoClaim(2*testPoll + testSettle)

	// The symlink is refused out loud: one warning, and shown as refused.
	noMarker := "no marker (manifest.json or recon.yaml)"
	got := h.w.Inbox()
	if len(got) != 2 || got[0].Name != "link" || !got[0].Refused || got[1].Name != "plain" || got[1].Reason != noMarker || got[1].Since.IsZero() {
		t.Errorf("Inbox() = %+v, want link refused and plain with %q", got, noMarker)
	}
	if n, l := h.logs.count("level=WARN"), h.logs.count("entry=inbox/link"); n != 1 || l != 1 {
		t.Errorf("%d warnings, %d about the link; want just one about it", n, l)
	}
	states, err := Inspect(dir, testMarkers)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 || !states[0].Refused || states[1].Name != "plain" || states[1].Reason != noMarker {
		t.Errorf("Inspect() = %+v, want link refused and plain with %q", states, noMarker)
	}
	for _, n := range []string{"plain", ".hidden", "link", "copy.tmp"} {
		if !exists(filepath.Join(inbox, n)) {
			t.Errorf("%s was moved out of inbox/", n)
		}
	}
}

// Inspect works without a watcher, from one scan.
func TestInspect(t *testing.T) {
	dir := t.TempDir()
	mkdirs(t, dir)
	inbox := filepath.Join(dir, InboxDir)
	writeTree(t, filepath.Join(inbox, "a-plain"), map[string]string{"1.jpg": "j"})
	writeTree(t, filepath.Join(inbox, "b-drop"), map[string]string{"recon.yaml": "x"})
	writeTree(t, filepath.Join(inbox, "c-busy"), map[string]string{"manifest.json": "{}"})
	writeTree(t, filepath.Join(inbox, ".d-hidden"), map[string]string{"manifest.json": "{}"})
	writeTree(t, filepath.Join(dir, ProcessingDir, "c-busy"), nil)
	got, err := Inspect(dir, testMarkers)
	if err != nil {
		t.Fatal(err)
	}
	want := []FolderState{
		{Name: "a-plain", Reason: "no marker (manifest.json or recon.yaml)"},
		{Name: "b-drop", Reason: "has marker, waiting to be unchanged for settle"},
		{Name: "c-busy", Reason: "a job named c-busy is already in processing/"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Inspect() =\n%+v\nwant\n%+v", got, want)
	}
	if _, err := Inspect(filepath.Join(dir, "missing"), testMarkers); err == nil {
		t.Error("Inspect of a missing root: no error")
	}
}

// Inbox explains a folder that is still settling.
func TestInboxSettling(t *testing.T) {
	dir := t.TempDir()
	mkdirs(t, dir)
	writeTree(t, filepath.Join(dir, InboxDir, "fresh"), map[string]string{"manifest.json": "{}"})
	h := newHarness(t, dir, func(o *Options) { o.Settle = 5 * time.Second })
	h.start(NewSlots(1), nil)
	waitFor(t, 2*time.Second, "a settling state", func() bool {
		s := h.w.Inbox()
		return len(s) == 1 && strings.HasPrefix(s[0].Reason, "settling: changed ") &&
			strings.HasSuffix(s[0].Reason, " ago, needs 5s unchanged") && !s[0].Since.IsZero()
	})
}

// 6. Poll mode never touches fsnotify and still claims drops.
func TestPollModeWithoutFsnotify(t *testing.T) {
	dir := t.TempDir()
	mkdirs(t, dir)
	h := newHarness(t, dir, func(o *Options) { o.Mode = ModePoll })
	h.w.newNotify = func(string) (*fsnotify.Watcher, error) {
		t.Error("poll mode used fsnotify")
		return nil, errors.New("no file events here")
	}
	h.start(NewSlots(1), nil)
	writeTree(t, filepath.Join(dir, InboxDir, "nfs-drop"), map[string]string{"manifest.json": "{}"})
	h.waitClaim(3 * time.Second)
}

// Auto mode falls back to polling with one warning; notify mode refuses.
func TestNotifyUnavailable(t *testing.T) {
	broken := func(string) (*fsnotify.Watcher, error) { return nil, errors.New("inotify: too many watches") }

	t.Run("auto", func(t *testing.T) {
		dir := t.TempDir()
		mkdirs(t, dir)
		h := newHarness(t, dir, nil)
		h.w.newNotify = broken
		h.start(NewSlots(1), nil)
		writeTree(t, filepath.Join(dir, InboxDir, "d"), map[string]string{"manifest.json": "{}"})
		h.waitClaim(3 * time.Second)
		if n := h.logs.count("level=WARN", "falling back to polling"); n != 1 {
			t.Errorf("%d fallback warnings, want 1", n)
		}
	})
	t.Run("notify", func(t *testing.T) {
		dir := t.TempDir()
		mkdirs(t, dir)
		h := newHarness(t, dir, func(o *Options) { o.Mode = ModeNotify })
		h.w.newNotify = broken
		err := h.w.Run(t.Context(), NewSlots(1), func(string) { t.Error("handler called") })
		if err == nil || errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "too many watches") {
			t.Errorf("Run = %v, want the fsnotify error", err)
		}
	})
}

// In notify mode a new folder is found through file events, long before the
// next rescan. A copier makes the folder before the marker, so the event
// finds it without one; the marker written next is still noticed promptly.
func TestNotifyFindsFoldersBetweenRescans(t *testing.T) {
	dir := t.TempDir()
	mkdirs(t, dir)
	h := newHarness(t, dir, func(o *Options) { o.Mode = ModeNotify; o.PollInterval = 2 * time.Second })
	// The claim of a folder present at start shows the watch is set up.
	writeTree(t, filepath.Join(dir, InboxDir, "sentinel"), map[string]string{"manifest.json": "{}"})
	h.start(NewSlots(1), nil)
	h.waitClaim(3 * time.Second)

	drop := filepath.Join(dir, InboxDir, "evented")
	writeTree(t, drop, nil)
	waitFor(t, time.Second, "the empty folder found by its event", func() bool {
		s := h.w.Inbox()
		return len(s) == 1 && strings.HasPrefix(s[0].Reason, "no marker")
	})
	writeTree(t, drop, map[string]string{"manifest.json": "{}"})
	last := time.Now()
	c := h.waitClaim(testSettle + 1500*time.Millisecond)
	assertPickup(t, c, last, testSettle, time.Second)
}

// Lost events (an overflow) trigger a full rescan: with no rescan due for an
// hour and every event lost, only the overflow error can reveal the folder.
func TestOverflowTriggersRescan(t *testing.T) {
	dir := t.TempDir()
	mkdirs(t, dir)
	h := newHarness(t, dir, func(o *Options) { o.Mode = ModeNotify; o.PollInterval = time.Hour })
	errs := make(chan error)
	h.w.newNotify = func(d string) (*fsnotify.Watcher, error) {
		fw, err := newNotify(d)
		if err != nil {
			return nil, err
		}
		fw.Events = make(chan fsnotify.Event) // every event is lost
		fw.Errors = errs
		return fw, nil
	}
	// The claim of a folder present at start shows the initial scan is over.
	writeTree(t, filepath.Join(dir, InboxDir, "sentinel"), map[string]string{"manifest.json": "{}"})
	h.start(NewSlots(1), nil)
	h.waitClaim(3 * time.Second)
	writeTree(t, filepath.Join(dir, InboxDir, "unseen"), map[string]string{"manifest.json": "{}"})
	h.expectNoClaim(testSettle + 2*testPoll)
	select {
	case errs <- fmt.Errorf("read: %w", fsnotify.ErrEventOverflow):
	case <-time.After(2 * time.Second):
		t.Fatal("the watcher does not read fsnotify errors")
	}
	h.waitClaim(testSettle + 1500*time.Millisecond)
	if n := h.logs.count("overflow, rescanning"); n != 1 {
		t.Errorf("%d overflow lines, want 1", n)
	}
}

// processing/ removed under a running watcher: the claim fails with ENOENT
// although the folder is still in inbox/; that is not another daemon winning,
// so processing/ is recreated and the folder claimed.
func TestProcessingDirRemoved(t *testing.T) {
	dir := t.TempDir()
	mkdirs(t, dir)
	writeTree(t, filepath.Join(dir, InboxDir, "sentinel"), map[string]string{"manifest.json": "{}"})
	h := newHarness(t, dir, nil)
	h.start(NewSlots(1), nil)
	h.waitClaim(3 * time.Second) // the watcher has prepared the root
	if err := os.RemoveAll(filepath.Join(dir, ProcessingDir)); err != nil {
		t.Fatal(err)
	}
	writeTree(t, filepath.Join(dir, InboxDir, "d"), map[string]string{"manifest.json": "{}"})
	c := h.waitClaim(3 * time.Second)
	if !exists(filepath.Join(c.path, "manifest.json")) {
		t.Error("claimed folder is not in processing/")
	}
	if n := h.logs.count("level=WARN", "cannot claim folder", "folder=d"); n != 1 {
		t.Errorf("%d warnings for the failed claim, want 1", n)
	}
}

// 7. Two daemons on one share, 200 drops: each is handled exactly once.
func TestTwoWatchersShareOneDir(t *testing.T) {
	const n = 200
	dir := t.TempDir()
	mkdirs(t, dir)
	var mu sync.Mutex
	handled := map[string]int{}
	total := make(chan struct{}, 2*n)
	handler := func(p string) {
		mu.Lock()
		handled[filepath.Base(p)]++
		mu.Unlock()
		time.Sleep(5 * time.Millisecond) // some work, so slots matter
		total <- struct{}{}
	}
	a := newHarness(t, dir, nil)
	b := newHarness(t, dir, nil)
	a.start(NewSlots(4), handler)
	b.start(NewSlots(4), handler)

	for i := range n {
		writeTree(t, filepath.Join(dir, InboxDir, fmt.Sprintf("drop-%03d", i)),
			map[string]string{"manifest.json": "{}", "img/1.jpg": "j"})
	}
	deadline := time.After(20 * time.Second)
	for i := range n {
		select {
		case <-total:
		case <-deadline:
			t.Fatalf("only %d of %d folders handled", i, n)
		}
	}
	// Any duplicate would come within a couple of checks.
	select {
	case <-total:
		t.Fatal("a folder was handled twice")
	case <-time.After(2*testPoll + testSettle):
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if name := fmt.Sprintf("drop-%03d", i); handled[name] != 1 {
			t.Errorf("%s handled %d times", name, handled[name])
		}
	}
	if left, _ := os.ReadDir(filepath.Join(dir, InboxDir)); len(left) != 0 {
		t.Errorf("%d entries left in inbox/", len(left))
	}
	if got, _ := os.ReadDir(filepath.Join(dir, ProcessingDir)); len(got) != n {
		t.Errorf("%d folders in processing/, want %d", len(got), n)
	}
	ca, cb := a.logs.count("claimed folder"), b.logs.count("claimed folder")
	t.Logf("watcher a claimed %d, b claimed %d", ca, cb)
	if ca+cb != n {
		t.Errorf("claims logged: %d + %d, want %d", ca, cb, n)
	}
	if w := a.logs.count("level=WARN") + b.logs.count("level=WARN"); w != 0 {
		t.Errorf("%d warnings: losing a race to the other daemon is normal", w)
	}
}

// 8. With one slot busy, a second ready folder stays in inbox/ (another
// daemon may take it) until the slot is released.
func TestSlotsHoldFoldersInInbox(t *testing.T) {
	dir := t.TempDir()
	mkdirs(t, dir)
	h := newHarness(t, dir, nil)
	release := make(chan struct{})
	h.start(NewSlots(1), func(p string) {
		h.record(p)
		<-release
	})
	inbox := filepath.Join(dir, InboxDir)
	writeTree(t, filepath.Join(inbox, "first"), map[string]string{"manifest.json": "{}"})
	if c := h.waitClaim(3 * time.Second); filepath.Base(c.path) != "first" {
		t.Fatalf("claimed %s, want first", c.path)
	}
	writeTree(t, filepath.Join(inbox, "second"), map[string]string{"manifest.json": "{}"})
	waitFor(t, 3*time.Second, "second waiting for a slot", func() bool {
		s := h.w.Inbox()
		return len(s) == 1 && s[0].Name == "second" && s[0].Reason == "waiting for a free job slot"
	})
	h.expectNoClaim(testPoll + 100*time.Millisecond)
	if !exists(filepath.Join(inbox, "second")) {
		t.Fatal("second left inbox/ without a slot")
	}
	released := time.Now()
	close(release)
	c := h.waitClaim(3 * time.Second)
	if filepath.Base(c.path) != "second" {
		t.Fatalf("claimed %s, want second", c.path)
	}
	t.Logf("claimed %v after the slot was released", c.at.Sub(released).Round(time.Millisecond))
}

// 9. A missing root (an unmounted share) is waited for, never created, with
// one log line; the same when it disappears while running.
func TestRootMissing(t *testing.T) {
	root := filepath.Join(t.TempDir(), "share")
	h := newHarness(t, root, nil)
	h.start(NewSlots(1), nil)

	unavailable := func() int { return h.logs.count("level=WARN", "watch root unavailable") }
	waitFor(t, 2*time.Second, "the first warning", func() bool { return unavailable() == 1 })
	time.Sleep(4 * testPoll) // several retries
	if exists(root) {
		t.Fatal("the watcher created the missing root")
	}
	if n := unavailable(); n != 1 {
		t.Fatalf("%d warnings for one missing root, want 1", n)
	}

	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "subdirectories created", func() bool {
		return exists(filepath.Join(root, InboxDir)) && exists(filepath.Join(root, FailedDir))
	})
	writeTree(t, filepath.Join(root, InboxDir, "one"), map[string]string{"manifest.json": "{}"})
	h.waitClaim(3 * time.Second)

	// Unmounted while running.
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the second warning", func() bool { return unavailable() == 2 })
	time.Sleep(4 * testPoll)
	if exists(root) {
		t.Fatal("the watcher recreated the removed root")
	}
	if n := unavailable(); n != 2 {
		t.Fatalf("%d warnings after the root went away again, want 2", n)
	}
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "subdirectories created again", func() bool { return exists(filepath.Join(root, InboxDir)) })
	writeTree(t, filepath.Join(root, InboxDir, "two"), map[string]string{"manifest.json": "{}"})
	if c := h.waitClaim(3 * time.Second); filepath.Base(c.path) != "two" {
		t.Fatalf("claimed %s, want two", c.path)
	}
}

// 10. A name already in processing/ is neither claimed nor clobbered (on
// Linux, rename would replace an empty directory); it is claimed once the
// name is free.
func TestNameAlreadyInProcessing(t *testing.T) {
	dir := t.TempDir()
	mkdirs(t, dir)
	busy := filepath.Join(dir, ProcessingDir, "job")
	writeTree(t, busy, nil)
	writeTree(t, filepath.Join(dir, InboxDir, "job"), map[string]string{"manifest.json": "{}"})
	h := newHarness(t, dir, nil)
	h.start(NewSlots(1), nil)

	waitFor(t, 3*time.Second, "the busy name reported", func() bool {
		s := h.w.Inbox()
		return len(s) == 1 && s[0].Reason == "a job named job is already in processing/"
	})
	h.expectNoClaim(2 * testPoll)
	if entries, err := os.ReadDir(busy); err != nil || len(entries) != 0 {
		t.Fatalf("processing/job was clobbered: %v %v", entries, err)
	}
	if !exists(filepath.Join(dir, InboxDir, "job", "manifest.json")) {
		t.Fatal("inbox/job was moved")
	}
	if n := h.logs.count("level=WARN", "already in processing", `folder=job`); n != 1 {
		t.Errorf("%d warnings for the busy name, want 1", n)
	}

	if err := os.Remove(busy); err != nil {
		t.Fatal(err)
	}
	c := h.waitClaim(3 * time.Second)
	if !exists(filepath.Join(c.path, "manifest.json")) {
		t.Error("claimed folder has no manifest")
	}
}

func TestSignature(t *testing.T) {
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"manifest.json": "{}", "a/1.jpg": "j", ".x.part": "pa"})
		if err := os.Symlink("1.jpg", filepath.Join(dir, "a", "ln")); err != nil {
			t.Fatal(err)
		}
		outside := t.TempDir()
		if err := os.Symlink(outside, filepath.Join(dir, "outside")); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	sig := func(t *testing.T, dir string) string {
		top, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		return signature(dir, top)
	}
	cases := []struct {
		name    string
		change  func(t *testing.T, dir string) error
		changed bool
	}{
		{"nothing", func(*testing.T, string) error { return nil }, false},
		{"read a file", func(_ *testing.T, d string) error { _, err := os.ReadFile(filepath.Join(d, "a/1.jpg")); return err }, false},
		{"hidden part file grows", func(_ *testing.T, d string) error {
			return os.WriteFile(filepath.Join(d, ".x.part"), []byte("part"), 0o644)
		}, true},
		{"same size, new mtime", func(_ *testing.T, d string) error {
			old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
			return os.Chtimes(filepath.Join(d, "a/1.jpg"), old, old)
		}, true},
		{"mode", func(_ *testing.T, d string) error { return os.Chmod(filepath.Join(d, "a/1.jpg"), 0o600) }, true},
		{"rename", func(_ *testing.T, d string) error {
			return os.Rename(filepath.Join(d, "a/1.jpg"), filepath.Join(d, "a/2.jpg"))
		}, true},
		{"new empty dir", func(_ *testing.T, d string) error { return os.Mkdir(filepath.Join(d, "a/b"), 0o755) }, true},
		{"symlink target, same length", func(_ *testing.T, d string) error {
			p := filepath.Join(d, "a/ln")
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Symlink("2.jpg", p)
		}, true},
		{"inside a symlinked dir (not followed)", func(_ *testing.T, d string) error {
			target, err := os.Readlink(filepath.Join(d, "outside"))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(target, "big.bin"), []byte("x"), 0o644)
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := setup(t)
			before := sig(t, dir)
			if err := tc.change(t, dir); err != nil {
				t.Fatal(err)
			}
			if changed := sig(t, dir) != before; changed != tc.changed {
				t.Errorf("signature changed = %v, want %v", changed, tc.changed)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	root := filepath.Join(t.TempDir(), "not-mounted")
	ok := Options{Dir: root, PollInterval: time.Second, Settle: time.Second, Markers: testMarkers}
	cases := []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"ok", func(*Options) {}, ""},
		{"empty mode is auto", func(o *Options) { o.Mode = "" }, ""},
		{"bad mode", func(o *Options) { o.Mode = "inotify" }, `mode "inotify"`},
		{"no dir", func(o *Options) { o.Dir = "" }, "dir is empty"},
		{"no poll interval is the default", func(o *Options) { o.PollInterval = 0 }, ""},
		{"negative poll interval", func(o *Options) { o.PollInterval = -time.Second }, "poll interval"},
		{"settle 0", func(o *Options) { o.Settle = 0 }, ""},
		{"negative settle", func(o *Options) { o.Settle = -time.Second }, "settle"},
		{"no markers", func(o *Options) { o.Markers = nil }, "no markers"},
		{"marker path", func(o *Options) { o.Markers = []string{"sub/manifest.json"} }, "plain entry name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.mod(&o)
			w, err := New(o)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.want == "" && w.opts.Mode != ModeAuto:
				t.Errorf("mode = %q, want auto", w.opts.Mode)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("New error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if exists(root) {
		t.Error("New touched the disk")
	}
}

func TestNewSlots(t *testing.T) {
	s := NewSlots(2)
	if !s.TryAcquire() || !s.TryAcquire() {
		t.Fatal("two slots not available")
	}
	if s.TryAcquire() {
		t.Fatal("third slot acquired")
	}
	s.Release()
	if !s.TryAcquire() {
		t.Fatal("released slot not available")
	}
	if z := NewSlots(0); !z.TryAcquire() {
		t.Error("NewSlots(0) has no slot")
	}
}
