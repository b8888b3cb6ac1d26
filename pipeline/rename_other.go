//go:build !linux

package pipeline

import (
	"io/fs"
	"os"
)

// renameNoReplace renames from to to unless to exists (checked just
// before: elsewhere than Linux there is no portable exclusive rename).
func renameNoReplace(from, to string) error {
	if _, err := os.Lstat(to); err == nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: fs.ErrExist}
	}
	return os.Rename(from, to)
}
