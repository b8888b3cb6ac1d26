package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// errOtherFS is wrapped by removeTree and mountInside when a folder holds
// another file system.
var errOtherFS = errors.New("another file system is mounted inside")

// mountInside returns the first folder under dir (dir excluded) that lies
// on another device than dir — a file system mounted inside it — or "".
// Symlinks are not followed.
func mountInside(dir string) (string, error) {
	root, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	dev, ok := deviceOf(root)
	if !ok || !root.IsDir() {
		return "", nil
	}
	found := ""
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() || p == dir {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if dv, ok := deviceOf(fi); ok && dv != dev {
			found = p
			return filepath.SkipAll
		}
		return nil
	})
	return found, err
}

// removeTree removes dir and everything in it, never following a symlink
// and never crossing into another file system mounted inside it: such a
// mount point, and so the folders above it, are left in place and the
// error (wrapping errOtherFS) names it. It returns nil only when dir is
// gone.
func removeTree(dir string) error {
	root, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	dev, ok := deviceOf(root)
	if !ok || !root.IsDir() {
		return os.RemoveAll(dir) // RemoveAll never follows a symlink
	}
	var mounts []string
	var walk func(string) error
	walk = func(d string) error {
		ents, err := os.ReadDir(d)
		if err != nil {
			return err
		}
		for _, e := range ents {
			p := filepath.Join(d, e.Name())
			if !e.IsDir() { // files, symlinks, specials: unlinked, never followed
				if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
				continue
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			if !fi.IsDir() { // swapped for a symlink since the listing: unlink it
				if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
				continue
			}
			if dv, ok := deviceOf(fi); ok && dv != dev {
				mounts = append(mounts, p)
				continue
			}
			if err := walk(p); err != nil {
				return err
			}
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) && len(mounts) == 0 {
				return err
			}
		}
		return nil
	}
	if err := walk(dir); err != nil {
		return err
	}
	if len(mounts) > 0 {
		return fmt.Errorf("%w at %s; left in place with the folders above it (unmount it, and the rest is removed at the next pass)", errOtherFS, mounts[0])
	}
	return os.Remove(dir)
}
