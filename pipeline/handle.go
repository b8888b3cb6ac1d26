package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/scandrop/scandrop/vendors"
)

// Folders of a watch root, as the contract names them.
const (
	Inbox      = "inbox"
	Processing = "processing"
	Done       = "done"
	Failed     = "failed"
)

// Handle runs a job folder that sits in <root>/processing/ to its end,
// writes result.json and moves it to <root>/done/ or <root>/failed/. fresh
// says the folder was just claimed from inbox/ (a finished journal then
// means the operator moved it back to retry); otherwise it is resumed.
// When ctx ends first, the folder stays in processing/ for a later resume.
//
// A folder that is claimed from inbox/ (fresh) keeps the scandrop state it
// carries (.scandrop/, result.json) only if its journal was written for
// this very folder; anything else arrived with the drop and is set aside
// (see adopt). A finished job that cannot move to another volume (see
// UnmovableError) stays in processing/ with a result.json that says why,
// and moves once the cause is gone.
func (p *Pipeline) Handle(ctx context.Context, jobDir string, fresh bool) (*Result, string, error) {
	j, err := p.adopt(jobDir, fresh)
	if err != nil {
		return nil, "", err
	}
	if err := p.own(jobDir); err != nil {
		return nil, "", err
	}
	p.o.Crash("claimed")
	hb, stop := context.WithCancel(ctx)
	beating := make(chan struct{})
	go func() { defer close(beating); p.heartbeat(hb, jobDir) }()
	if j == nil {
		j, err = p.openJournal(jobDir)
	}
	var res *Result
	if err == nil {
		res, err = p.process(ctx, j, jobDir, fresh)
	}
	stop()
	<-beating
	// Whatever happens next, give the job up: an unfinished one is then
	// resumed by the next scan for orphans (or the next start).
	if err != nil {
		os.Remove(filepath.Join(jobDir, StateDir, ownerFile))
		return nil, "", err
	}
	root := filepath.Dir(filepath.Dir(jobDir))
	dest := filepath.Join(root, Failed)
	if res.Success() {
		dest = filepath.Join(root, Done)
	}
	refused := ""
	if rec, err := ReadRecord(jobDir); err == nil {
		refused = rec.MoveRefused
	}
	if refused != "" {
		if ue, err := specialEntries(jobDir); err == nil && ue == nil {
			// The cause is gone: result.json says what the job did again
			// before the folder lands where others read it.
			if err := p.clearRefusal(jobDir, res); err == nil {
				refused = ""
			}
		}
	}
	to, err := moveFolder(jobDir, dest, p.o.Crash)
	var ue *UnmovableError
	if errors.As(err, &ue) {
		os.Remove(filepath.Join(jobDir, StateDir, ownerFile))
		return p.moveRefused(jobDir, res, ue)
	}
	if err != nil {
		os.Remove(filepath.Join(jobDir, StateDir, ownerFile))
		return res, "", fmt.Errorf("moving %s to %s: %w", filepath.Base(jobDir), dest, err)
	}
	os.Remove(filepath.Join(to, StateDir, ownerFile))
	if refused != "" { // moved as it was (to the same volume now)
		if err := p.clearRefusal(to, res); err != nil {
			p.o.Logger.Warn("cannot rewrite result.json", "folder", filepath.Base(to), "error", err)
		}
	}
	if err := adoptMoved(root, dest, to); err != nil {
		p.o.Logger.Warn("could not give the moved folder the watch folder's owner", "folder", filepath.Base(jobDir), "error", err)
	}
	p.o.Logger.Info("moved", "folder", filepath.Base(jobDir), "to", to)
	p.o.Observer.Finished(filepath.Base(jobDir), res, to)
	return res, to, nil
}

// Ownership of a job in processing/: with two daemons on one share, a
// restarting daemon must resume its own jobs and the jobs of a daemon that
// died, but not the jobs of one that is alive. The owner file carries a
// heartbeat; taking over a stale one is an atomic rename, so that of two
// daemons trying at once only one wins.

const (
	ownerFile = "owner"
	// heartbeatEvery and staleAfter: a live owner refreshes its file well
	// within the time after which others may take the job.
	heartbeatEvery = 20 * time.Second
	staleAfter     = 90 * time.Second
)

type owner struct {
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Heartbeat time.Time `json:"heartbeat"`

	// mtime is the owner file's modification time, as the share's
	// filesystem set it; torn is set when the file did not parse (its
	// Heartbeat is then mtime). Neither is written.
	mtime time.Time
	torn  bool
}

// tornGrace is how long an owner file that does not parse counts as live:
// the moment a claiming daemon takes between creating it and writing it.
// One older is garbage (a crash's, or someone's) and owns nothing.
const tornGrace = 10 * time.Second

func me() owner {
	h, _ := os.Hostname()
	return owner{Host: h, PID: os.Getpid()}
}

// alive reports whether o, the owner a job's file names, may still be
// running it, as seen by self: its heartbeat is fresh, and it is not a
// process of this host that is gone. The one rule for taking a job over.

// ErrOwned means another live daemon runs the job.
var ErrOwned = errors.New("job is run by another live scandrop")

// own makes this process the job's owner, or returns ErrOwned.
func (p *Pipeline) own(jobDir string) error {
	name := filepath.Join(jobDir, StateDir, ownerFile)
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	o, err := readOwner(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		self := me()
		if o.Host == self.Host && o.PID == self.PID {
			return p.beat(jobDir)
		}
		if o.live(p.o.Clock.Now()) {
			return ErrOwned
		}
		// Stale, or a dead process on this host: take over, atomically.
		if err := os.Rename(name, name+".taken"); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return ErrOwned
			}
			return err
		}
	}
	// Two daemons may both have found no owner (the one that claimed the
	// folder and the other's scan for orphans, or two daemons resuming
	// the same jobs after a power cut): creating the file exclusively lets
	// exactly one of them run the job.
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return ErrOwned
	}
	if err != nil {
		return err
	}
	mine := me()
	mine.Heartbeat = p.o.Clock.Now().UTC()
	b, _ := json.Marshal(mine)
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return err
	}
	return syncDir(filepath.Dir(name))
}

// readOwner reads a job's owner file. One that does not parse — being
// written by another daemon this very moment, or torn by a crash, or too
// large to be one, or not a regular file — is marked torn, beating at its
// modification time (see owner.live).
func readOwner(name string) (owner, error) {
	b, err := readState(filepath.Dir(filepath.Dir(name)), StateDir+"/"+filepath.Base(name), maxOwner)
	if errors.Is(err, fs.ErrNotExist) {
		return owner{}, err
	}
	var o owner
	if err != nil || json.Unmarshal(b, &o) != nil || o.Heartbeat.IsZero() {
		o = owner{torn: true}
	}
	if fi, err := os.Lstat(name); err == nil {
		o.mtime = fi.ModTime()
	}
	if o.torn {
		o.Heartbeat = o.mtime
	}
	return o, nil
}

func (p *Pipeline) beat(jobDir string) error {
	o := me()
	o.Heartbeat = p.o.Clock.Now().UTC()
	b, _ := json.Marshal(o)
	return WriteFileAtomic(filepath.Join(jobDir, StateDir, ownerFile), b)
}

func (p *Pipeline) heartbeat(ctx context.Context, jobDir string) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.o.Clock.After(heartbeatEvery):
			p.beat(jobDir)
		}
	}
}

// Orphans lists the job folders in <root>/processing/ that no live daemon
// owns: on start, every job this host left behind; later, jobs of a daemon
// (on this or another host) that stopped sending heartbeats.
func (p *Pipeline) Orphans(root string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(root, Processing))
	if err != nil {
		return nil, err
	}
	var out []string
	self := me()
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, Processing, e.Name())
		o, err := readOwner(filepath.Join(dir, StateDir, ownerFile))
		if err == nil {
			if o.Host == self.Host && o.PID == self.PID {
				continue // ours, running
			}
			if o.live(p.o.Clock.Now()) {
				continue
			}
		}
		out = append(out, dir)
	}
	sort.Strings(out)
	return out, nil
}

// StageMove names, in result.json, a finished job that could not move.
const StageMove = "move"

// moveRefused records that the finished job in jobDir cannot move: its
// result.json then says why (keeping what the vendor returned), the job
// waits in processing/, and each later Handle tries again, quietly while
// the cause is the same.
func (p *Pipeline) moveRefused(jobDir string, res *Result, ue *UnmovableError) (*Result, string, error) {
	name := filepath.Base(jobDir)
	j, err := p.openJournal(jobDir)
	if err != nil {
		return res, "", err
	}
	msg := ue.Error()
	out := *res
	re := &ResultError{Stage: StageMove, Kind: vendors.Invalid.String(), Retryable: true, Message: msg,
		Fix: "remove the entries named above from processing/" + name + " (or put done/ and failed/ on the same volume as processing/); scandrop then moves the folder within a minute, or at its next start"}
	if res.Error != nil {
		// The job had failed already: keep that too.
		re.Message += "; the job itself had failed at stage " + res.Error.Stage + ": " + res.Error.Message
		re.Problems = res.Error.Problems
	}
	out.Status, out.Error = "failed", re
	if j.Record().MoveRefused == msg {
		p.o.Logger.Debug("finished job still cannot move", "folder", name, "error", msg)
		return &out, jobDir, nil
	}
	if err := writeResult(jobDir, &out); err != nil {
		return res, "", err
	}
	if err := j.Update(func(r *Record) { r.MoveRefused, r.Stage, r.StageAt = msg, StageMove, p.o.Clock.Now().UTC() }); err != nil {
		return res, "", err
	}
	p.o.Logger.Error("finished job cannot move; it stays in processing/ until the entries named are gone", "folder", name, "error", msg)
	p.o.Observer.Finished(name, &out, jobDir)
	return &out, jobDir, nil
}

// clearRefusal makes result.json in dir say what the job did again, and
// forgets the refused move.
func (p *Pipeline) clearRefusal(dir string, res *Result) error {
	if err := writeResult(dir, res); err != nil {
		return err
	}
	j, err := p.openJournal(dir)
	if err != nil {
		return err
	}
	return j.Update(func(r *Record) { r.MoveRefused, r.Stage = "", stageDone })
}

// adopt looks at the scandrop state a folder just claimed from inbox/
// carries. A journal is scandrop's own only if this installation signed it
// (its MAC verifies under the claim key, see LoadClaimKey) and its claim
// names this very folder (device, inode and birth time): a job moved back
// from failed/ (or done/) by rename, which then retries keeping what is
// safe to keep. Anything else — a journal forged with the folder's own
// device and inode, a genuine journal copied from another job or edited, a
// damaged or half journal, one that is a file or a symlink, a whole
// processing/ folder from another machine or another installation — arrived
// with the drop: it is renamed aside to .scandrop-arrived-<time> (never
// deleted, never read again), together with a result.json that came with
// it, and the job starts afresh, uploading its own files. A journal kept is
// returned, to be run as verified; otherwise adopt returns nil.
//
// A job resumed from processing/ (not fresh) is scandrop's own by how it
// got there; only state scandrop never writes — a .scandrop or job.json
// that is not a plain folder or file — is set aside then too, in case the
// resume raced the claim (another daemon's scan for orphans).
func (p *Pipeline) adopt(jobDir string, fresh bool) (*Journal, error) {
	state := filepath.Join(jobDir, StateDir)
	fi, err := os.Lstat(state)
	why := ""
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !fresh {
			return nil, nil
		}
	case err != nil:
		return nil, err
	case !fi.IsDir():
		why = StateDir + " is not a folder (" + fi.Mode().Type().String() + ")"
	case !fresh:
		if jf, err := os.Lstat(filepath.Join(state, journalFile)); err != nil || jf.Mode().IsRegular() {
			return nil, nil
		}
		why = journalFile + " is not a regular file"
	default:
		var j *Journal
		j, why = p.ownJournal(jobDir)
		if why == "" {
			return j, nil // ours: a retry
		}
	}
	stamp := p.o.Clock.Now().UTC().Format("20060102T150405Z")
	log := p.o.Logger.With("folder", filepath.Base(jobDir))
	if fi != nil {
		kept, err := setAside(state, StateDir+"-arrived-"+stamp, "")
		if err != nil {
			return nil, fmt.Errorf("setting aside the %s that arrived with the drop: %w", StateDir, err)
		}
		log.Warn("the drop carried scandrop state that this scandrop did not write for it; kept aside, not used: the job starts afresh", "reason", why, "kept_as", filepath.Base(kept))
	}
	res := filepath.Join(jobDir, ResultFile)
	if _, err := os.Lstat(res); err == nil {
		kept, err := setAside(res, "result.arrived-"+stamp, ".json")
		if err != nil {
			return nil, fmt.Errorf("setting aside the %s that arrived with the drop: %w", ResultFile, err)
		}
		log.Warn("the drop carried a result.json that this scandrop did not write; kept aside, not used", "kept_as", filepath.Base(kept))
	}
	return nil, nil
}

// ownJournal opens the journal in jobDir if it is this folder's own,
// written by this installation; otherwise it says why not.
func (p *Pipeline) ownJournal(jobDir string) (*Journal, string) {
	name := filepath.Join(jobDir, StateDir, journalFile)
	fi, err := os.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, "no journal in it"
	case err != nil:
		return nil, err.Error()
	case !fi.Mode().IsRegular():
		return nil, journalFile + " is not a regular file"
	case fi.Size() > maxJournal:
		return nil, journalFile + " is too large to be a journal"
	}
	j, err := p.openJournal(jobDir)
	if err != nil {
		return nil, err.Error()
	}
	switch rec := j.Record(); {
	case rec.MAC == "":
		return nil, "its journal is not signed (written by a scandrop without a claim key, or by someone else)"
	case !signedBy(p.o.ClaimKey, &rec):
		return nil, "its journal's signature does not verify: forged or altered, or written by another scandrop installation (another " + ClaimKeyFile + ")"
	case rec.Claim == nil:
		return nil, "its journal records no claim"
	case !rec.Claim.names(jobDir):
		return nil, "its journal was written for another folder (a copy, not this folder moved back)"
	}
	return j, ""
}

// setAside renames path to a free name built from base and ext beside it.
func setAside(path, base, ext string) (string, error) {
	dir := filepath.Dir(path)
	for i := 1; i < 1000; i++ {
		name := base + ext
		if i > 1 {
			name = base + "-" + strconv.Itoa(i) + ext
		}
		to := filepath.Join(dir, name)
		err := renameNoReplace(path, to)
		if err == nil {
			syncDir(dir)
			return to, nil
		}
		if !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.ENOTEMPTY) {
			return "", err
		}
	}
	return "", fmt.Errorf("%s: no free name to set it aside", path)
}
