//go:build unix

package pipeline

import (
	"io/fs"
	"syscall"
)

// deviceOf returns the device an Lstat'ed entry lies on.
func deviceOf(fi fs.FileInfo) (uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return uint64(st.Dev), true
}
