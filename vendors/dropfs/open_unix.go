//go:build unix

package dropfs

import (
	"os"
	"syscall"
)

// openNoFollow opens name for reading without following a final symlink,
// and without blocking: a FIFO put in place of a checked regular file
// between Lstat and open must not hang the caller in open(2) (Open then
// refuses it, as not the file it checked).
func openNoFollow(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}
