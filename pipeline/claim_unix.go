//go:build unix

package pipeline

import (
	"os"
	"syscall"
)

// folderID returns the device and inode of dir. A rename keeps them; a
// copy does not.
func folderID(dir string) (dev, ino uint64, ok bool) {
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return uint64(st.Dev), uint64(st.Ino), true
}
