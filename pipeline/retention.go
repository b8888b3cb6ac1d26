package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Retention removes, or moves to an archive, the folders of a watch's
// done/ and failed/ whose job finished longer ago than a limit, so that
// done/ does not grow for ever. It looks at nothing but the folders directly
// in done/ and failed/ (never following a symlink, never a hidden entry,
// such as a move in progress), and never at inbox/ or processing/.
//
// A folder is deleted by renaming it to a hidden name in the same folder
// first (.scandrop-expired-<random>), then removing that: a removal cut
// short leaves no half folder under the job's name, and is finished at the
// next Sweep. A folder that cannot be removed or archived is said once at
// WARN and tried again at each Sweep.
type Retention struct {
	// Done and Failed are how long folders stay in done/ and failed/; 0
	// keeps them for ever.
	Done, Failed time.Duration
	// Archive, if set, is where expired folders move to
	// (<Archive>/done/<name>, <Archive>/failed/<name>; a name taken there
	// gets a suffix); otherwise they are deleted.
	Archive string
	Logger  *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time

	warned map[string]string // folder → the last problem said about it
}

// expiredPrefix names folders being deleted.
const expiredPrefix = ".scandrop-expired-"

// Sweep applies the retention to the watch folder root once, or until ctx
// ends (a daemon stopping does not wait for a whole pass).
func (r *Retention) Sweep(ctx context.Context, root string) {
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	for _, sub := range []struct {
		name  string
		limit time.Duration
	}{{Done, r.Done}, {Failed, r.Failed}} {
		if sub.limit <= 0 {
			continue
		}
		dir := filepath.Join(root, sub.name)
		ents, err := os.ReadDir(dir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				r.warn(dir, "retention: cannot list the folder; trying again later", err)
			}
			continue
		}
		for _, e := range ents {
			if ctx.Err() != nil {
				return
			}
			name := e.Name()
			path := filepath.Join(dir, name)
			switch {
			case strings.HasPrefix(name, expiredPrefix) && e.IsDir():
				// A deletion cut short: finish it.
				if err := removeTree(path); err != nil {
					r.warn(path, "retention: cannot finish removing an expired folder; trying again later", err)
				} else {
					r.ok(path)
				}
				continue
			case !e.IsDir() || strings.HasPrefix(name, "."):
				continue
			}
			age := now.Sub(finishedAt(path))
			if age <= sub.limit {
				continue
			}
			r.expire(dir, sub.name, name, age)
		}
	}
}

// finishedAt is when the job of a finished folder ended: result.json's
// finished_at, else the folder's modification time (when result.json was
// written, just before the move), else now.
func finishedAt(dir string) time.Time {
	if res, err := ReadResult(dir); err == nil && !res.FinishedAt.IsZero() {
		return res.FinishedAt
	}
	if fi, err := os.Lstat(dir); err == nil {
		return fi.ModTime()
	}
	return time.Now()
}

// expire deletes or archives dir/name, aged age.
func (r *Retention) expire(dir, sub, name string, age time.Duration) {
	path := filepath.Join(dir, name)
	rel := sub + "/" + name
	// A file system mounted inside the folder is not the job's to delete
	// (nor to copy into an archive and then delete): leave the folder, as
	// it is and under its name, and say so.
	if m, err := mountInside(path); err != nil || m != "" {
		if err == nil {
			err = fmt.Errorf("%w at %s", errOtherFS, m)
		}
		r.warn(path, "retention: the folder holds another file system (a mount point) or cannot be read; left in place, trying again later", err, "folder", rel)
		return
	}
	if r.Archive != "" {
		to, err := moveFolder(path, filepath.Join(r.Archive, sub), func(string) {})
		if err != nil {
			r.warn(path, "retention: cannot archive the folder; trying again later", err, "folder", rel)
			return
		}
		r.ok(path)
		r.log().Info("retention: archived", "folder", rel, "age", age.Round(time.Second).String(), "to", to)
		return
	}
	var raw [8]byte
	rand.Read(raw[:])
	tmp := filepath.Join(dir, expiredPrefix+hex.EncodeToString(raw[:]))
	if err := renameNoReplace(path, tmp); err != nil {
		r.warn(path, "retention: cannot remove the folder; trying again later", err, "folder", rel)
		return
	}
	syncDir(dir)
	r.ok(path)
	if err := removeTree(tmp); err != nil {
		r.warn(tmp, "retention: removal cut short; the rest is removed at the next pass", err, "folder", rel, "left_as", filepath.Base(tmp))
		return
	}
	r.log().Info("retention: removed", "folder", rel, "age", age.Round(time.Second).String())
}

// warn says a problem with the folder at path once, until it changes or
// the folder is dealt with.
func (r *Retention) warn(path, msg string, err error, args ...any) {
	if r.warned == nil {
		r.warned = map[string]string{}
	}
	if r.warned[path] == err.Error() {
		return
	}
	r.warned[path] = err.Error()
	r.log().Warn(msg, append(args, "path", path, "error", err)...)
}

func (r *Retention) ok(path string) { delete(r.warned, path) }

func (r *Retention) log() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}
