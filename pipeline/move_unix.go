//go:build unix

package pipeline

import (
	"io/fs"
	"syscall"
)

// fileKey identifies a file across its hard links.
type fileKey struct{ dev, ino uint64 }

// keyOf returns the identity of a file that has more than one link.
func keyOf(info fs.FileInfo) (fileKey, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || st.Nlink < 2 {
		return fileKey{}, false
	}
	return fileKey{uint64(st.Dev), uint64(st.Ino)}, true
}
