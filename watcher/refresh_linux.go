//go:build linux

package watcher

import "golang.org/x/sys/unix"

// refreshAttrs makes the kernel fetch path's attributes (and, for a
// folder, revalidate its listing) from the file system instead of serving
// them from its cache: statx with AT_STATX_FORCE_SYNC. NFS, CIFS and FUSE
// honour it; local file systems, which have nothing to refetch, ignore it.
// Errors are left to the Lstat that follows.
func refreshAttrs(path string) {
	var st unix.Statx_t
	unix.Statx(unix.AT_FDCWD, path, unix.AT_STATX_FORCE_SYNC|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &st)
}
