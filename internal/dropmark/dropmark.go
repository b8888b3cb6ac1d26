// Package dropmark is the one rule for drop markers: a folder is a drop for
// a vendor when an entry named as that vendor's marker (manifest.json,
// recon.yaml; see internal/vendortable) sits at its root. The watcher (to
// claim), the pipeline (to pick the vendor) and status (to validate) all
// ask here, so they cannot disagree about what a drop is.
//
// Any entry counts, whatever its type: a marker that is a folder or a
// symlink still makes the folder a drop, so that the pipeline fails it with
// a clear error instead of it sitting in inbox/ unexplained.
package dropmark

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// At returns the markers present at dir's root, sorted.
func At(dir string, markers []string) []string {
	var out []string
	for _, m := range markers {
		if _, err := os.Lstat(filepath.Join(dir, m)); err == nil {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out
}

// Among returns the markers among top, a listing of a folder's root,
// sorted: At for a caller that has read the folder already.
func Among(top []fs.DirEntry, markers []string) []string {
	var out []string
	for _, e := range top {
		if slices.Contains(markers, e.Name()) {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out
}
