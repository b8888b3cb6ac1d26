package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/scandrop/scandrop/internal/dropname"
	"github.com/scandrop/scandrop/vendors"
)

// ResultKinds are the error kinds result.json may name: the vendors.Kind
// names, KindCrash and "config".
func ResultKinds() []string {
	var ks []string
	for k := vendors.Other; k <= vendors.Unknown; k++ {
		ks = append(ks, k.String())
	}
	return append(ks, KindCrash, "config")
}

// ReadResult reads the result.json of the job folder dir (at most
// MaxResultBytes, through no symlink).
func ReadResult(dir string) (*Result, error) {
	b, err := readState(dir, ResultFile, MaxResultBytes)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %v", ResultFile, err)
	}
	return &r, nil
}

// RequeueOptions tune Requeue.
type RequeueOptions struct {
	// Fresh sets the job's state (.scandrop/) aside too, so that the job
	// starts anew: a timed-out job then submits a new task, with the
	// folder's files as they are now.
	Fresh bool
	// DryRun checks everything and changes nothing.
	DryRun bool
	// Now is the clock, for the names things are set aside under.
	Now func() time.Time
}

// Requeued says what Requeue did (or, dry, would do).
type Requeued struct {
	// From and To are the folder's paths in failed/ and inbox/.
	From, To string
	// Result is the failure's result.json, nil if it could not be read.
	Result *Result
	// ResultKept is the name result.json was set aside under
	// (result.failed-<time>.json), "" if there was none.
	ResultKept string
	// StateKept is the name .scandrop/ was set aside under (Fresh), ""
	// if it stays.
	StateKept string
	// KeepsTask: the job's journal stays and names a vendor task that may
	// still exist (see KeepsTask), which the next attempt checks again
	// instead of submitting another.
	KeepsTask bool
}

// Requeue moves <root>/failed/<name> back to <root>/inbox/<name>, for the
// daemon to run it again: the move the README tells operators to make by
// hand, made safe.
//
// It refuses when inbox/<name> or processing/<name> exists (a new drop of
// the same name, or a job of that name running), never replacing anything:
// the final move is a rename that fails if the name got taken meanwhile.
// The folder stays the same folder (a rename, never a copy), so the job's
// signed journal still names it and the pipeline keeps what is safe to
// keep: its account, and the ids of a task that may still exist (see
// KeepsTask), checked again rather than submitted anew. The failure's result.json is renamed to
// result.failed-<finished_at>.json beside it: the history stays, and
// nothing reads a stale result as the new attempt's. With Fresh, .scandrop/
// is set aside as well (.scandrop-retired-<time>).
func Requeue(root, name string, o RequeueOptions) (Requeued, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	from := filepath.Join(root, Failed, name)
	rq := Requeued{From: from, To: filepath.Join(root, Inbox, name)}
	if dropname.Ignored(name) || name != filepath.Base(name) || name == ".." {
		// The watcher would never pick it up (and scandrop's own
		// temporaries, .scandrop-expired-*, .scandrop-move-*, are not jobs).
		return rq, fmt.Errorf("%s: a hidden or temporary name, which inbox/ ignores; rename the folder first", name)
	}
	fi, err := os.Lstat(from)
	if err != nil {
		return rq, err
	}
	if !fi.IsDir() {
		return rq, fmt.Errorf("%s is not a folder", from)
	}
	// A missing inbox/ most often means the share is not mounted (a
	// bare mount point): never create one there.
	if fi, err := os.Stat(filepath.Join(root, Inbox)); err != nil || !fi.IsDir() {
		return rq, fmt.Errorf("%s has no %s/ folder (is the share mounted?); create it, then retry again", root, Inbox)
	}
	for _, sub := range []string{Inbox, Processing} {
		if _, err := os.Lstat(filepath.Join(root, sub, name)); err == nil {
			why := "a new drop of that name is waiting there"
			if sub == Processing {
				why = "a job of that name is running"
			}
			return rq, fmt.Errorf("%s/%s exists (%s); rename one of the two folders, then retry again", sub, name, why)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return rq, err
		}
	}
	res, rerr := ReadResult(from)
	if rerr == nil {
		rq.Result = res
	}
	if rec, err := ReadRecord(from); err == nil && !o.Fresh {
		// The journal's result, as newAttempt reads it (result.json may be
		// gone or edited).
		last := res
		if rec.Result != nil {
			last = rec.Result
		}
		rq.KeepsTask = KeepsTask(last, rec.IDs)
	}
	if o.DryRun {
		return rq, nil
	}

	// Set aside what must not come along as it is, then move. Should the
	// move fail, put it back: the folder stays in failed/ as it was.
	var undo []func()
	restore := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	if _, err := os.Lstat(filepath.Join(from, ResultFile)); err == nil {
		at := now()
		if res != nil && !res.FinishedAt.IsZero() {
			at = res.FinishedAt
		}
		kept, err := setAside(filepath.Join(from, ResultFile), "result.failed-"+at.UTC().Format("20060102T150405Z"), ".json")
		if err != nil {
			return rq, fmt.Errorf("setting %s aside: %w", ResultFile, err)
		}
		rq.ResultKept = filepath.Base(kept)
		undo = append(undo, func() { renameNoReplace(kept, filepath.Join(from, ResultFile)) })
	}
	if _, err := os.Lstat(filepath.Join(from, StateDir)); err == nil && o.Fresh {
		kept, err := setAside(filepath.Join(from, StateDir), StateDir+"-retired-"+now().UTC().Format("20060102T150405Z"), "")
		if err != nil {
			restore()
			return rq, fmt.Errorf("setting %s aside: %w", StateDir, err)
		}
		rq.StateKept = filepath.Base(kept)
		undo = append(undo, func() { renameNoReplace(kept, filepath.Join(from, StateDir)) })
	}
	if err := renameNoReplace(from, rq.To); err != nil {
		restore()
		if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTEMPTY) {
			return rq, fmt.Errorf("%s/%s appeared meanwhile; rename one of the two folders, then retry again", Inbox, name)
		}
		if isCrossDevice(err) {
			return rq, fmt.Errorf("%s/ and %s/ are on different file systems; a copy would not keep the job's journal: move it by hand (the job then starts afresh)", Failed, Inbox)
		}
		return rq, err
	}
	syncDir(filepath.Join(root, Failed))
	syncDir(filepath.Join(root, Inbox))
	return rq, nil
}
