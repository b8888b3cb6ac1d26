//go:build unix

package dropfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

func adopt(dropDir, path string) error {
	ref, err := os.Stat(dropDir)
	if err != nil {
		return err
	}
	return adoptAs(ref.Sys().(*syscall.Stat_t), path)
}

func adoptAs(ref *syscall.Stat_t, path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != ref.Uid || st.Gid != ref.Gid {
		err := os.Lchown(path, int(ref.Uid), int(ref.Gid))
		if err != nil && !errors.Is(err, fs.ErrPermission) {
			return err
		}
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil // a link has no mode of its own on Linux
	}
	perm := fs.FileMode(0o666)
	if fi.IsDir() || fi.Mode()&0o111 != 0 {
		perm = 0o777
	}
	perm &^= umask()
	if fi.Mode().Perm() == perm {
		return nil
	}
	// Keep setgid on directories: on a share it makes new files inherit
	// the share's group. Not permitted: someone else's, left as it is.
	if err := os.Chmod(path, perm|fi.Mode()&fs.ModeSetgid); err != nil && !errors.Is(err, fs.ErrPermission) {
		return err
	}
	return nil
}

func adoptOurs(dropDir, path string) error {
	return adoptWalk(dropDir, path, false)
}

func adoptTree(dropDir, root string) error {
	return adoptWalk(dropDir, root, true)
}

func adoptWalk(dropDir, root string, recurse bool) error {
	refInfo, err := os.Stat(dropDir)
	if err != nil {
		return err
	}
	ref := refInfo.Sys().(*syscall.Stat_t)
	me := uint32(os.Geteuid())
	if ref.Uid == me {
		return nil // scandrop runs as the drop's owner: what it made is the owner's already
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile (a temporary file)
			}
			return err
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if fi.Sys().(*syscall.Stat_t).Uid == me {
			if err := adoptAs(ref, p); err != nil {
				return err
			}
		}
		if !recurse && d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
}

var (
	umaskOnce  sync.Once
	startUmask fs.FileMode
)

// umask is the process's umask. Linux tells it in /proc/self/status (it may
// have been set after start: UMASK in a container); elsewhere it is read once
// the only way there is, setting it and setting it back.
func umask() fs.FileMode {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return fs.FileMode(m) & 0o777
				}
			}
		}
	}
	umaskOnce.Do(func() {
		m := syscall.Umask(0o22)
		syscall.Umask(m)
		startUmask = fs.FileMode(m) & 0o777
	})
	return startUmask
}
