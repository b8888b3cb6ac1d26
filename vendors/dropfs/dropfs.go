// Package dropfs reads files of a drop folder without ever leaving it.
//
// A drop comes from outside (a NAS share, a capture rig, a client): names in
// its manifest are untrusted. Rel checks a name, Open opens it refusing
// symlinks anywhere on the path, so that a drop can never make scandrop read
// outside its folder.
package dropfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// MaxNameBytes bounds one path element, as most file systems do.
const MaxNameBytes = 255

// CheckName reports why a slash-separated relative name from a manifest is
// unsafe, or nil. It refuses empty names, absolute paths, drive letters, "..",
// ".", backslashes, NUL and other control characters, non-UTF-8 and elements
// longer than MaxNameBytes.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case !utf8.ValidString(name):
		return errors.New("name is not valid UTF-8")
	case strings.HasPrefix(name, "/") || filepath.IsAbs(name) || (len(name) >= 2 && name[1] == ':'):
		return errors.New("absolute path not allowed")
	case strings.ContainsRune(name, '\\'):
		return errors.New(`backslash not allowed; use "/"`)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("control character %q not allowed", r)
		}
	}
	for _, el := range strings.Split(name, "/") {
		switch {
		case el == "" || el == ".":
			return errors.New("empty or '.' path element")
		case el == "..":
			return errors.New("'..' not allowed")
		case len(el) > MaxNameBytes:
			return fmt.Errorf("path element longer than %d bytes", MaxNameBytes)
		}
	}
	if path.Clean(name) != name {
		return errors.New("name is not in clean form")
	}
	return nil
}

// Open opens the regular file root/name for reading. name is slash-separated
// and relative. Every element of the path is checked with Lstat: a symlink
// anywhere, or a final element that is not a regular file, is refused.
func Open(root, name string) (*os.File, fs.FileInfo, error) {
	fi, err := Stat(root, name)
	if err != nil {
		return nil, nil, err
	}
	f, err := openNoFollow(filepath.Join(root, filepath.FromSlash(name)))
	if err != nil {
		return nil, nil, err
	}
	// The file could have been swapped between Lstat and open; compare.
	got, err := f.Stat()
	if err != nil || !os.SameFile(fi, got) {
		f.Close()
		return nil, nil, fmt.Errorf("%s: changed while being opened", name)
	}
	return f, got, nil
}

// Stat is Lstat of root/name that refuses symlinks on the path and anything
// but a regular file at its end.
func Stat(root, name string) (fs.FileInfo, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	els := strings.Split(name, "/")
	p := root
	for i, el := range els {
		p = filepath.Join(p, el)
		fi, err := os.Lstat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fs.ErrNotExist
			}
			return nil, err
		}
		mode := fi.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			return nil, errors.New("is a symlink; symlinks are refused, copy the file into the folder")
		case i < len(els)-1 && !mode.IsDir():
			return nil, fmt.Errorf("%s is not a directory", strings.Join(els[:i+1], "/"))
		case i == len(els)-1 && !mode.IsRegular():
			if mode.IsDir() {
				return nil, errors.New("is a directory, not a file")
			}
			return nil, errors.New("is not a regular file")
		}
		if i == len(els)-1 {
			return fi, nil
		}
	}
	return nil, fs.ErrNotExist
}
