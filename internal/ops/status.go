// Package ops is what operators see of a running scandrop: the status
// report (the same for "scandrop status" and the HTTP listener), metrics in
// the Prometheus text format, and the HTTP listener itself. Notifications
// of finished jobs (webhooks, commands) are internal/notify's.
//
// Everything that follows jobs as they run is a pipeline.Observer: the
// pipeline tells, ops never asks. The status report is read from the watch
// folders themselves (journals, result.json files), so that a status command
// run beside the daemon, with no connection to it, sees the same thing.
package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scandrop/scandrop/internal/dropmark"
	"github.com/scandrop/scandrop/internal/textsafe"
	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/watcher"
)

// Report is the status of every watch: "scandrop status --json" and the
// HTTP listener's /status.
type Report struct {
	GeneratedAt time.Time `json:"generated_at"`
	// Live is true when the report comes from the running daemon (the
	// HTTP listener), false when read from the folders alone.
	Live    bool    `json:"live"`
	Watches []Watch `json:"watches"`
}

// Watch is the status of one watch folder.
type Watch struct {
	Dir string `json:"dir"`
	// Account is the named account (config accounts:) whose credentials
	// the watch's drops use; omitted for the default.
	Account string `json:"account,omitempty"`
	// Error says why the folder could not be read (not mounted?).
	Error      string        `json:"error,omitempty"`
	Processing []Job         `json:"processing"`
	Inbox      []InboxFolder `json:"inbox"`
	// InboxMore counts the inbox entries not listed: at most
	// maxInboxShown are.
	InboxMore int `json:"inbox_more,omitempty"`
	// Recent are the last results in done/ and failed/, newest first.
	Recent []Finished `json:"recent"`
}

// Job is a job in processing/.
type Job struct {
	Folder  string `json:"folder"`
	Vendor  string `json:"vendor,omitempty"`
	Account string `json:"account,omitempty"` // as in result.json
	Attempt int    `json:"attempt,omitempty"`
	// Stage is the stage in progress: validate, package, upload, submit,
	// wait, finish; "claimed" before the first.
	Stage      string    `json:"stage"`
	StageSince time.Time `json:"stage_since,omitzero"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	// StageAge and Age are how long the stage and the job have run, for
	// people ("1m30s").
	StageAge string `json:"stage_age,omitempty"`
	Age      string `json:"age,omitempty"`
	// UploadedBytes of TotalBytes: the upload's progress.
	UploadedBytes int64             `json:"uploaded_bytes,omitempty"`
	TotalBytes    int64             `json:"total_bytes,omitempty"`
	VendorIDs     map[string]string `json:"vendor_ids,omitempty"`
	// VendorStatus is the vendor's last word on the task (live only).
	VendorStatus string `json:"vendor_status,omitempty"`
	// Retrying is the last transient error ("kind: message"), while the
	// job waits to retry it; RetryStage is the stage that failed, Retries
	// how many times in a row, RetryingSince when the first of them was,
	// and NextAttempt when the job tries again (NextAttemptIn, for people:
	// "in 25s"). Read from the journal, so that a status run beside the
	// daemon sees them too.
	Retrying      string    `json:"retrying,omitempty"`
	RetryStage    string    `json:"retry_stage,omitempty"`
	Retries       int       `json:"retries,omitempty"`
	RetryingSince time.Time `json:"retrying_since,omitzero"`
	NextAttempt   time.Time `json:"next_attempt,omitzero"`
	NextAttemptIn string    `json:"next_attempt_in,omitempty"`
	// Owner is the scandrop that claimed the job (its host, pid and last
	// heartbeat), from the job's owner file; absent if none holds it.
	Owner *pipeline.Owner `json:"owner,omitempty"`
	// Orphaned is true when no live scandrop runs the job: its owner died
	// (killed, crashed, its host down) or stopped and gave it up. Orphan
	// says which, and what happens next: a daemon resumes it at its start,
	// and a running one within a minute.
	Orphaned bool   `json:"orphaned,omitempty"`
	Orphan   string `json:"orphan,omitempty"`
	// Error says why the job's journal could not be read.
	Error string `json:"error,omitempty"`
}

// InboxFolder is a folder in inbox/ and why it is not picked up yet.
type InboxFolder struct {
	Folder string `json:"folder"`
	// Reason is the watcher's: "no marker (…)", "settling: …", "waiting for
	// a free job slot", …
	Reason string `json:"reason"`
	// Problem is the first thing an offline validation of a folder with a
	// marker found wrong ("images/hall.jpg: missing"); Problems counts them.
	// The job would fail with it: fix it before the folder settles.
	Problem  string `json:"problem,omitempty"`
	Problems int    `json:"problems,omitempty"`
	// Refused marks an entry that can never be a drop (a symlink, FIFO,
	// socket or device); Reason says what to do instead.
	Refused bool `json:"refused,omitempty"`
}

// Finished is a result in done/ or failed/.
type Finished struct {
	// Folder is "done/<name>" or "failed/<name>".
	Folder     string    `json:"folder"`
	Status     string    `json:"status"`
	Vendor     string    `json:"vendor,omitempty"`
	Account    string    `json:"account,omitempty"` // as in result.json
	FinishedAt time.Time `json:"finished_at"`
	// Link is the VR link, or the first asset's URL.
	Link string `json:"link,omitempty"`
	// Error is "<stage>: <message>" of a failed job.
	Error string `json:"error,omitempty"`
}

// Reporter builds status reports. Its zero value is not usable; fill the
// fields that have no default.
type Reporter struct {
	// Markers are the drop markers, to tell folders worth validating.
	Markers []string
	// Check validates a drop folder offline (pipeline.Check with vendors
	// that have no credentials); nil skips validation.
	Check func(ctx context.Context, dir string) error
	// Recent is how many results of done/ and failed/ to show per watch.
	// Default 10.
	Recent int
	// Now is the clock; default time.Now.
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]checked // by inbox folder path, for live reports
}

type checked struct {
	since    time.Time
	problem  string
	problems int
}

// Source is one watch to report on. Inbox, when set, is a running watcher's
// view (watcher.Watcher.Inbox), which knows what a single scan cannot:
// settle times and free slots. Without it, inbox/ is inspected once.
type Source struct {
	Dir     string
	Account string // the watch's account; "" for the default
	Inbox   func() []watcher.FolderState
	// Live, if set, overlays what the running jobs report (fresher
	// progress, the vendor's status, retries).
	Live *Monitor
}

// Report builds the report of srcs.
func (r *Reporter) Report(ctx context.Context, srcs []Source) Report {
	rep := Report{GeneratedAt: r.now().UTC(), Watches: []Watch{}}
	for _, s := range srcs {
		if s.Inbox != nil || s.Live != nil {
			rep.Live = true
		}
		rep.Watches = append(rep.Watches, r.watch(ctx, s))
	}
	return rep
}

func (r *Reporter) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reporter) watch(ctx context.Context, s Source) Watch {
	now := r.now()
	ws := Watch{Dir: s.Dir, Account: s.Account, Processing: []Job{}, Inbox: []InboxFolder{}, Recent: []Finished{}}
	if fi, err := os.Stat(s.Dir); err != nil {
		ws.Error = fmt.Sprintf("cannot read it (not mounted?): %v", unwrapPath(err))
		return ws
	} else if !fi.IsDir() {
		ws.Error = "not a folder"
		return ws
	}

	ents, _ := os.ReadDir(filepath.Join(s.Dir, pipeline.Processing))
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		js := Job{Folder: e.Name(), Stage: "claimed"}
		if rec, err := pipeline.ReadRecord(filepath.Join(s.Dir, pipeline.Processing, e.Name())); err == nil {
			js.Vendor, js.Account, js.VendorIDs, js.Attempt = rec.Vendor, rec.Account, rec.IDs, rec.Attempt
			if rec.Stage != "" {
				js.Stage = rec.Stage
			}
			js.StageSince, js.StartedAt = rec.StageAt, rec.StartedAt
			js.UploadedBytes, js.TotalBytes = rec.UploadedBytes, rec.TotalBytes
			if rt := rec.Retrying; rt != nil {
				js.Retrying, js.RetryStage, js.Retries = rt.Kind+": "+rt.Error, rt.Stage, rt.Count
				js.RetryingSince, js.NextAttempt = rt.Since, rt.Next
			}
		} else {
			js.Error = textsafe.Clean(err.Error(), maxErrorShown)
		}
		if s.Live != nil {
			s.Live.overlay(&js)
		}
		ownership(&js, filepath.Join(s.Dir, pipeline.Processing, e.Name()), now)
		if !js.StageSince.IsZero() {
			js.StageAge = Age(now.Sub(js.StageSince))
		}
		if !js.StartedAt.IsZero() {
			js.Age = Age(now.Sub(js.StartedAt))
		}
		ws.Processing = append(ws.Processing, js)
	}

	var states []watcher.FolderState
	if s.Inbox != nil {
		states = s.Inbox()
	} else if st, err := watcher.Inspect(s.Dir, r.Markers); err == nil {
		states = st
	} else if !errors.Is(err, os.ErrNotExist) {
		ws.Error = err.Error()
	}
	seen := map[string]bool{}
	for _, st := range states {
		dir := filepath.Join(s.Dir, pipeline.Inbox, st.Name)
		seen[dir] = true
		if len(ws.Inbox) == maxInboxShown {
			ws.InboxMore++
			continue
		}
		in := InboxFolder{Folder: st.Name, Reason: st.Reason, Refused: st.Refused}
		if !st.Refused {
			in.Problem, in.Problems = r.validate(ctx, dir, st.Since, s.Inbox != nil)
		}
		ws.Inbox = append(ws.Inbox, in)
	}
	if s.Inbox != nil {
		r.prune(s.Dir, seen)
	}
	ws.Recent = r.recent(s.Dir)
	ws.clean()
	return ws
}

// Bounds of what a report says about one drop: every string in it may
// come from a drop (names, problems) or a vendor (statuses, errors), and
// the report is printed on terminals and served as a page that reloads
// every few seconds. With these, a watch's report stays in the tens of KB
// for ordinary inboxes, and under a few MB for a full one.
const (
	// maxNameShown bytes of a folder name (file systems allow 255; escaping
	// control characters may make it up to four times as long).
	maxNameShown = 256
	// maxLineShown bytes of a reason, a problem, a status or a retry.
	maxLineShown = 512
	// maxErrorShown bytes of an error or a link.
	maxErrorShown = 1 << 10
	// maxInboxShown inbox entries are listed per watch; the rest are
	// counted (InboxMore). Reading thousands of names is no status.
	maxInboxShown = 500
)

// clean bounds and escapes every string of ws (textsafe.Clean), so that
// the text, JSON and HTML forms of the report all show the same safe text.
func (ws *Watch) clean() {
	ws.Dir = textsafe.Clean(ws.Dir, maxErrorShown)
	ws.Error = textsafe.Clean(ws.Error, maxErrorShown)
	for i := range ws.Processing {
		j := &ws.Processing[i]
		j.Folder = textsafe.Clean(j.Folder, maxNameShown)
		j.Vendor = textsafe.Clean(j.Vendor, maxNameShown)
		j.Account = textsafe.Clean(j.Account, maxNameShown)
		j.Stage = textsafe.Clean(j.Stage, maxNameShown)
		j.VendorStatus = textsafe.Clean(j.VendorStatus, maxLineShown)
		j.Retrying = textsafe.Clean(j.Retrying, maxLineShown)
		j.RetryStage = textsafe.Clean(j.RetryStage, maxNameShown)
		j.Orphan = textsafe.Clean(j.Orphan, maxLineShown)
		if j.Owner != nil {
			j.Owner.Host = textsafe.Clean(j.Owner.Host, maxNameShown)
		}
		j.Error = textsafe.Clean(j.Error, maxErrorShown)
		j.VendorIDs = cleanMap(j.VendorIDs)
	}
	for i := range ws.Inbox {
		in := &ws.Inbox[i]
		in.Folder = textsafe.Clean(in.Folder, maxNameShown)
		in.Reason = textsafe.Clean(in.Reason, maxLineShown)
		in.Problem = textsafe.Clean(in.Problem, maxLineShown)
	}
	for i := range ws.Recent {
		f := &ws.Recent[i]
		f.Folder = textsafe.Clean(f.Folder, maxNameShown)
		f.Status = textsafe.Clean(f.Status, maxNameShown)
		f.Vendor = textsafe.Clean(f.Vendor, maxNameShown)
		f.Account = textsafe.Clean(f.Account, maxNameShown)
		f.Link = textsafe.Clean(f.Link, maxErrorShown)
		f.Error = textsafe.Clean(f.Error, maxErrorShown)
	}
}

func cleanMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	out := make(map[string]string, min(len(m), 16))
	for k, v := range m {
		if len(out) == 16 {
			break
		}
		out[textsafe.Clean(k, 64)] = textsafe.Clean(v, maxNameShown)
	}
	return out
}

// validate returns the first problem of a drop folder with a marker. Live
// reports validate a folder again only when the watcher saw its content
// change (since moved); a report from one scan always validates.
func (r *Reporter) validate(ctx context.Context, dir string, since time.Time, cache bool) (string, int) {
	if r.Check == nil || !hasMarker(dir, r.Markers) {
		return "", 0
	}
	if cache && !since.IsZero() {
		r.mu.Lock()
		c, ok := r.cache[dir]
		r.mu.Unlock()
		if ok && c.since.Equal(since) {
			return c.problem, c.problems
		}
	}
	var c checked
	c.since = since
	if err := r.Check(ctx, dir); err != nil {
		var ps vendors.Problems
		if errors.As(err, &ps) && len(ps) > 0 {
			c.problem, c.problems = textsafe.Clean(ps[0].String(), maxLineShown), ps.Count()
		} else {
			c.problem, c.problems = textsafe.Clean(pipeline.ShowPaths(err.Error(), dir), maxLineShown), 1
		}
	}
	if cache && !since.IsZero() {
		r.mu.Lock()
		if r.cache == nil {
			r.cache = map[string]checked{}
		}
		r.cache[dir] = c
		r.mu.Unlock()
	}
	return c.problem, c.problems
}

// prune forgets the validations of folders no longer in root's inbox/.
func (r *Reporter) prune(root string, seen map[string]bool) {
	prefix := filepath.Join(root, pipeline.Inbox) + string(filepath.Separator)
	r.mu.Lock()
	defer r.mu.Unlock()
	for dir := range r.cache {
		if strings.HasPrefix(dir, prefix) && !seen[dir] {
			delete(r.cache, dir)
		}
	}
}

func hasMarker(dir string, markers []string) bool {
	return len(dropmark.At(dir, markers)) > 0
}

// recent reads the newest results of done/ and failed/. done/ grows
// without bound, so only the folders changed last are read: a folder's
// modification time is when its result.json was written, just before it
// moved.
func (r *Reporter) recent(root string) []Finished {
	n := r.Recent
	if n <= 0 {
		n = 10
	}
	type cand struct {
		sub, name string
		mod       time.Time
	}
	var cands []cand
	for _, sub := range []string{pipeline.Done, pipeline.Failed} {
		ents, _ := os.ReadDir(filepath.Join(root, sub))
		for _, e := range ents {
			if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			cands = append(cands, cand{sub, e.Name(), fi.ModTime()})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int { return b.mod.Compare(a.mod) })
	if len(cands) > 2*n { // mtimes are a hint: read a margin, sort by the truth
		cands = cands[:2*n]
	}
	out := []Finished{}
	for _, c := range cands {
		b, err := pipeline.ReadResultFile(filepath.Join(root, c.sub, c.name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // being moved in, or not a job folder
		}
		var res pipeline.Result
		if err == nil {
			err = json.Unmarshal(b, &res)
		}
		if err != nil {
			// Shown, with why: a result.json that is a FIFO, a symlink or
			// garbage is someone's doing, and hiding it hides the job.
			out = append(out, Finished{Folder: c.sub + "/" + c.name, Status: "unreadable", FinishedAt: c.mod, Error: "result.json: " + textsafe.Cut(err.Error(), 200)})
			continue
		}
		out = append(out, finished(c.sub+"/"+c.name, &res))
	}
	slices.SortStableFunc(out, func(a, b Finished) int { return b.FinishedAt.Compare(a.FinishedAt) })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func finished(folder string, res *pipeline.Result) Finished {
	f := Finished{Folder: folder, Status: res.Status, Vendor: res.Vendor, Account: res.Account, FinishedAt: res.FinishedAt, Link: res.VRURL}
	if f.Link == "" && len(res.Assets) > 0 {
		keys := make([]string, 0, len(res.Assets))
		for k := range res.Assets {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		f.Link = res.Assets[keys[0]]
	}
	if res.Error != nil {
		f.Error = res.Error.Stage + ": " + res.Error.Message
	}
	return f
}

// Age formats a duration for people: "45s", "3m20s", "2h05m", "3d04h".
func Age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	d = d.Round(time.Hour)
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// HumanBytes formats a size: "512 B", "3.4 MiB".
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func idsString(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// IDs formats vendor ids as "k=v k=v", sorted.
func IDs(m map[string]string) string { return idsString(m) }

// ownership tells a job run by a live scandrop from an orphaned one, and
// says when an orphan's retry would have been due.
func ownership(js *Job, dir string, now time.Time) {
	o, ok := pipeline.JobOwner(dir, now)
	switch {
	case ok && o.Live:
		js.Owner = &o
		if !js.NextAttempt.IsZero() {
			js.NextAttemptIn = "now" // overdue: the attempt is under way
			if d := js.NextAttempt.Sub(now); d > 0 {
				js.NextAttemptIn = "in " + Age(d)
			}
		}
		return
	case ok:
		js.Owner = &o
		js.Orphan = fmt.Sprintf("orphaned: its scandrop (%s, pid %d) is gone, last heartbeat %s ago; the next scandrop to start resumes it, a running one within a minute",
			dash(o.Host), o.PID, Age(now.Sub(o.Heartbeat)))
	default:
		js.Orphan = "orphaned: no scandrop runs it (the last one stopped); the next scandrop to start resumes it, a running one within a minute"
	}
	js.Orphaned = true
	if !js.NextAttempt.IsZero() {
		js.NextAttemptIn = "when resumed"
	}
}
