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
	"time"
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
func (p *Pipeline) Handle(ctx context.Context, jobDir string, fresh bool) (*Result, string, error) {
	if err := p.own(jobDir); err != nil {
		return nil, "", err
	}
	p.o.Crash("claimed")
	hb, stop := context.WithCancel(ctx)
	beating := make(chan struct{})
	go func() { defer close(beating); p.heartbeat(hb, jobDir) }()
	res, err := p.Process(ctx, jobDir, fresh)
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
	to, err := MoveFolder(jobDir, dest)
	if err != nil {
		os.Remove(filepath.Join(jobDir, StateDir, ownerFile))
		return res, "", fmt.Errorf("moving %s to %s: %w", filepath.Base(jobDir), dest, err)
	}
	os.Remove(filepath.Join(to, StateDir, ownerFile))
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
}

func me() owner {
	h, _ := os.Hostname()
	return owner{Host: h, PID: os.Getpid()}
}

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
		if p.o.Clock.Now().Sub(o.Heartbeat) < staleAfter && !(o.Host == self.Host && !processAlive(o.PID)) {
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
// written by another daemon this very moment, or torn by a crash — counts
// as beating at its modification time.
func readOwner(name string) (owner, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return owner{}, err
	}
	var o owner
	if json.Unmarshal(b, &o) != nil || o.Heartbeat.IsZero() {
		o = owner{}
		if fi, err := os.Stat(name); err == nil {
			o.Heartbeat = fi.ModTime()
		}
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
			if p.o.Clock.Now().Sub(o.Heartbeat) < staleAfter && !(o.Host == self.Host && !processAlive(o.PID)) {
				continue
			}
		}
		out = append(out, dir)
	}
	sort.Strings(out)
	return out, nil
}
