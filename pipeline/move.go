package pipeline

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"unicode/utf8"
)

// MoveFolder moves the folder src into the folder destDir under its own
// name, or, if that name is taken, under name-2, name-3, ...: nothing is
// ever overwritten. It returns the new path. A move across devices (done/
// on another volume) copies, syncs, verifies and only then deletes.
func MoveFolder(src, destDir string) (string, error) {
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return "", err
	}
	base := filepath.Base(src)
	for i := 1; i < 10000; i++ {
		name := base
		if i > 1 {
			name = withSuffix(base, "-"+strconv.Itoa(i))
		}
		dst := filepath.Join(destDir, name)
		if _, err := os.Lstat(dst); err == nil {
			continue // taken
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		err := os.Rename(src, dst)
		if err == nil {
			syncDir(destDir)
			syncDir(filepath.Dir(src))
			return dst, nil
		}
		if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTEMPTY) {
			continue // taken between the check and the rename
		}
		if isCrossDevice(err) {
			return dst, copyThenRemove(src, dst)
		}
		return "", err
	}
	return "", fmt.Errorf("%s: no free name in %s", base, destDir)
}

// maxNameBytes is the longest file name most file systems take (NAME_MAX
// on Linux, 255 UTF-16 units on NTFS and SMB shares).
const maxNameBytes = 255

// withSuffix appends suffix to name, shortening name (at a character
// boundary) so that the result still fits in maxNameBytes: a drop whose
// name is already that long must still get a free name in done/ or failed/,
// not stay in processing/ for ever.
func withSuffix(name, suffix string) string {
	if keep := maxNameBytes - len(suffix); len(name) > keep {
		cut := keep
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut]
	}
	return name + suffix
}

func isCrossDevice(err error) bool {
	var le *os.LinkError
	return errors.As(err, &le) && errors.Is(le.Err, syscall.EXDEV)
}

// copyThenRemove copies the tree src to dst (which must not exist), syncs
// every file, checks the sizes, and removes src only when all of it is
// safely there. A crash half-way leaves src whole; the partial dst is
// named with a temporary suffix until it is complete.
func copyThenRemove(src, dst string) error {
	tmp := filepath.Join(filepath.Dir(dst), withSuffix(filepath.Base(dst), ".part"))
	os.RemoveAll(tmp)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(tmp, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case info.Mode().IsRegular():
			return copyFile(p, target, info)
		default:
			return nil // job folders hold no symlinks or devices worth keeping
		}
	})
	if err != nil {
		return fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	syncDir(filepath.Dir(dst))
	return os.RemoveAll(src)
}

func copyFile(src, dst string, info fs.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, info.Mode().Perm())
	if err != nil {
		return err
	}
	n, err := io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != info.Size() {
		err = fmt.Errorf("%s: copied %d of %d bytes", src, n, info.Size())
	}
	if err == nil {
		os.Chtimes(dst, info.ModTime(), info.ModTime())
	}
	return err
}
