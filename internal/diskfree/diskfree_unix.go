//go:build unix

package diskfree

import "golang.org/x/sys/unix"

// Free is the space an unprivileged user may still write on the file
// system holding dir; ok is false when it cannot be told.
func Free(dir string) (free int64, ok bool) {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true // field types differ per OS
}
