//go:build linux

package main

import (
	"os"
	"path/filepath"
	"syscall"
)

// evict drops the files under root from the page cache
// (posix_fadvise POSIX_FADV_DONTNEED; they were written back by quiesce),
// so that the next run reads them from the disk: -cold measures what a
// drop that is no longer in memory costs, and how many times each byte
// comes from the disk (read_bytes). Only these files are evicted, not the
// machine's cache.
func evict(root string) error {
	return filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		const fadvDontNeed = 4
		if _, _, e := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0); e != 0 {
			return e
		}
		return nil
	})
}
