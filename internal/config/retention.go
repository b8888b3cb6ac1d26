package config

import (
	"fmt"
	"path/filepath"
	"time"
)

// Retention says how long finished job folders stay in done/ and failed/.
// It is off by default: nothing is removed unless Done or Failed is set.
//
// The top-level section applies to every watch; a watch's own retention:
// section overrides it key by key (a key it leaves out keeps the top-level
// value). Interval is top-level only.
type Retention struct {
	// Done is how long a folder stays in done/ after its job finished
	// (result.json's finished_at; the folder's modification time if that
	// cannot be read). Older folders are removed, or archived (Action).
	// Default 0: kept forever; >= 0.
	Done Duration `yaml:"done"`

	// Failed is the same for failed/. Default 0: kept forever; >= 0.
	Failed Duration `yaml:"failed"`

	// Action is what happens to an expired folder: "delete" (default)
	// removes it, "archive" moves it to ArchiveDir.
	Action string `yaml:"action"`

	// ArchiveDir is where "archive" moves expired folders, as
	// <archive_dir>/done/<name> and <archive_dir>/failed/<name> (a name
	// already taken gets a suffix, -2, -3…; nothing is overwritten).
	// Required with action archive; a relative path resolves against the
	// config file's folder; it must not be inside a watch's inbox/,
	// processing/, done/ or failed/.
	ArchiveDir string `yaml:"archive_dir"`

	// Interval is how often done/ and failed/ are looked at. Default 1h;
	// > 0. Top level only.
	Interval Duration `yaml:"interval"`
}

// Retention actions.
const (
	RetentionDelete  = "delete"
	RetentionArchive = "archive"
)

const defaultRetentionInterval = Duration(time.Hour)

// On reports whether r removes anything.
func (r Retention) On() bool { return r.Done > 0 || r.Failed > 0 }

// RetentionOf returns the retention that applies to w: its own section,
// completed from the top-level one at load, or the top-level one.
func (c *Config) RetentionOf(w Watch) Retention {
	if w.Retention != nil {
		r := *w.Retention
		r.Interval = c.Retention.Interval
		return r
	}
	return c.Retention
}

// setRetentionDefaults applies the top-level defaults, then completes each
// watch's section with the top-level values of the keys it leaves out.
func (c *Config) setRetentionDefaults(def func(path string, zero bool) bool) {
	r := &c.Retention
	if def("retention.action", r.Action == "") {
		r.Action = RetentionDelete
	}
	if def("retention.interval", r.Interval == 0) {
		r.Interval = defaultRetentionInterval
	}
	for i := range c.Watches {
		w := c.Watches[i].Retention
		if w == nil {
			continue
		}
		p := fmt.Sprintf("watches[%d].retention.", i)
		if def(p+"done", w.Done == 0) {
			w.Done = r.Done
		}
		if def(p+"failed", w.Failed == 0) {
			w.Failed = r.Failed
		}
		if def(p+"action", w.Action == "") {
			w.Action = r.Action
		}
		if def(p+"archive_dir", w.ArchiveDir == "") {
			w.ArchiveDir = r.ArchiveDir
		}
	}
}

// resolveRetention makes the archive dirs absolute.
func (d *decoder) resolveRetention(c *Config, base string) {
	abs := func(p string, dir *string) {
		if *dir == "" {
			return
		}
		if msg := driveRelative(*dir); msg != "" {
			d.report(p, p+": "+msg)
			d.bad[p] = true
			return
		}
		*dir = absPath(base, *dir)
	}
	abs("retention.archive_dir", &c.Retention.ArchiveDir)
	for i := range c.Watches {
		if w := c.Watches[i].Retention; w != nil {
			abs(fmt.Sprintf("watches[%d].retention.archive_dir", i), &w.ArchiveDir)
		}
	}
}

// validateRetention checks the top-level section and each watch's.
func (c *Config) validateRetention(reportf func(path, format string, args ...any)) {
	check := func(p string, r Retention) {
		if r.Done < 0 {
			reportf(p+".done", "%s.done: must not be negative (got %s); 0 keeps done/ folders forever", p, r.Done)
		}
		if r.Failed < 0 {
			reportf(p+".failed", "%s.failed: must not be negative (got %s); 0 keeps failed/ folders forever", p, r.Failed)
		}
		switch r.Action {
		case RetentionDelete:
		case RetentionArchive:
			if r.ArchiveDir == "" {
				reportf(p+".archive_dir", "%s: action archive needs archive_dir, the folder expired folders move to", p)
			}
		default:
			reportf(p+".action", "%s.action: %q is not one of %s, %s", p, r.Action, RetentionDelete, RetentionArchive)
		}
		if r.ArchiveDir == "" {
			return
		}
		// By resolved path: a symlink to done/, or the watch folder
		// itself, is the watch as much as its spelled-out path is.
		archive := resolvedPath(r.ArchiveDir)
	watches:
		for i, w := range c.Watches {
			if w.Dir == "" {
				continue
			}
			root := resolvedPath(w.Dir)
			switch {
			case within(archive, root) && within(root, archive):
				reportf(p+".archive_dir", "%s.archive_dir: %s is watches[%d]'s folder itself; put the archive outside inbox/, processing/, done/ and failed/", p, r.ArchiveDir, i)
				continue watches
			case within(root, archive):
				reportf(p+".archive_dir", "%s.archive_dir: watches[%d] (%s) is inside %s; put the archive outside the watch folders", p, i, w.Dir, r.ArchiveDir)
				continue watches
			}
			for _, sub := range []string{"inbox", "processing", "done", "failed"} {
				if within(r.ArchiveDir, filepath.Join(w.Dir, sub)) || within(archive, resolvedPath(filepath.Join(w.Dir, sub))) {
					reportf(p+".archive_dir", "%s.archive_dir: %s is inside watches[%d]'s %s/; put the archive outside inbox/, processing/, done/ and failed/", p, r.ArchiveDir, i, sub)
				}
			}
		}
	}
	if c.Retention.Interval <= 0 {
		reportf("retention.interval", "retention.interval: must be more than 0 (got %s)", c.Retention.Interval)
	}
	check("retention", c.Retention)
	for i, w := range c.Watches {
		if w.Retention == nil {
			continue
		}
		p := fmt.Sprintf("watches[%d].retention", i)
		if w.Retention.Interval != 0 {
			reportf(p+".interval", "%s.interval: interval is set in the top-level retention section only", p)
		}
		check(p, *w.Retention)
	}
}

// resolvedPath is p with the symlinks of its longest existing prefix
// resolved (the rest, not there yet, is kept as written), for comparing
// where two folders really are.
func resolvedPath(p string) string {
	p = filepath.Clean(p)
	rest := ""
	for dir := p; ; {
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return p
		}
		rest = filepath.Join(filepath.Base(dir), rest)
		dir = parent
	}
}
