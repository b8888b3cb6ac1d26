package pipeline

import "golang.org/x/sys/unix"

// birthTime returns when the folder dir was created, in nanoseconds since
// the epoch, or 0 where the file system does not say. A folder created
// anew gets a new one even when it reuses a deleted folder's inode.
func birthTime(dir string) int64 {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, 0, unix.STATX_INO|unix.STATX_BTIME, &st); err != nil || st.Mask&unix.STATX_BTIME == 0 {
		return 0
	}
	return st.Btime.Sec*1e9 + int64(st.Btime.Nsec)
}
