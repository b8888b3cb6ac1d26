package pipeline

import (
	"os"
	"path/filepath"
)

// watchAccount names the account of the watch whose inbox/ or processing/
// holds dir, "" for the default. The folder is matched to its watch by
// what it is on disk, not by spelling: `scandrop process` given the path
// through a symlink to the watch (or the real path of a watch configured
// through one), or the path of a link to the drop itself, finds the same
// watch the daemon does.
func (p *Pipeline) watchAccount(dir string) string {
	root := filepath.Dir(filepath.Dir(dir))
	if a, ok := p.o.WatchAccounts[root]; ok {
		return a // the daemon's own paths: no file system call
	}
	if len(p.o.WatchAccounts) == 0 {
		return ""
	}
	roots := []string{root}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		roots = append(roots, filepath.Dir(filepath.Dir(real)))
	}
	for _, r := range roots {
		fi, err := os.Stat(r)
		if err != nil {
			continue
		}
		for wdir, a := range p.o.WatchAccounts {
			if wi, err := os.Stat(wdir); err == nil && os.SameFile(fi, wi) {
				return a
			}
		}
	}
	return ""
}
