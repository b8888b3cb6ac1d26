//go:build windows

package diskfree

import "golang.org/x/sys/windows"

// Free is the space the caller may still write on the volume holding
// dir; ok is false when it cannot be told.
func Free(dir string) (free int64, ok bool) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, false
	}
	var avail, total, totalFree uint64
	if windows.GetDiskFreeSpaceEx(p, &avail, &total, &totalFree) != nil {
		return 0, false
	}
	return int64(min(avail, 1<<62)), true
}
