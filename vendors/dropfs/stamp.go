package dropfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/scandrop/scandrop/vendors"
)

// Stamp is what a drop file looked like when scandrop checked it: taken
// when the file is validated, journalled with the package plan, and compared
// on every later open (OpenStamped) and once more before the job is submitted
// (Verify). It is metadata only: checking it never reads the file's data.
//
// Size and modification time catch an ordinary rewrite. The change time
// catches an in-place rewrite that puts the modification time back: users
// cannot set it. Device and inode catch a file replaced by another one (a
// hard link to a file outside the drop, a copy renamed over it), and the link
// count a file deleted while scandrop holds it open. Fields a platform does
// not provide are zero and not compared (Windows: size and modification
// time; Open's SameFile check still refuses a swap while opening).
type Stamp struct {
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime"` // Unix nanoseconds
	CTime int64  `json:"ctime,omitempty"`
	Dev   uint64 `json:"dev,omitempty"`
	Ino   uint64 `json:"ino,omitempty"`
	Nlink uint64 `json:"nlink,omitempty"`
}

// StampOf returns the stamp of a file's FileInfo, from os.Stat, os.Lstat or
// (*os.File).Stat.
func StampOf(fi fs.FileInfo) Stamp {
	s := Stamp{Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
	sysStamp(&s, fi)
	return s
}

// IsZero reports whether s was never taken (a journal from a version that
// did not record stamps).
func (s Stamp) IsZero() bool { return s == Stamp{} }

// differs names the fields of got that are not as s recorded them.
func (s Stamp) differs(got Stamp) []string {
	var d []string
	if s.Size != got.Size {
		d = append(d, "size")
	}
	if s.MTime != got.MTime {
		d = append(d, "mtime")
	}
	if s.CTime != 0 && s.CTime != got.CTime {
		d = append(d, "ctime")
	}
	if (s.Dev != 0 || s.Ino != 0) && (s.Dev != got.Dev || s.Ino != got.Ino) {
		d = append(d, "inode")
	}
	if s.Nlink != 0 && s.Nlink != got.Nlink {
		d = append(d, "link count")
	}
	return d
}

// Changed returns the error for a drop file that is not what was checked:
// kind vendors.Invalid, one problem naming the file, how it changed and the
// fix. The job fails; retrying would send the same changing file.
func Changed(op, name, how string) error {
	return vendors.Problems{{File: name, Message: fmt.Sprintf(
		"changed after it was checked (%s); scandrop does not send a file that changes under it: copy the drop in again", how)}}.Err(op)
}

// IsChanged reports whether err is (or wraps) an error from Changed.
func IsChanged(err error) bool {
	var ps vendors.Problems
	return vendors.KindOf(err) == vendors.Invalid && errors.As(err, &ps) &&
		len(ps) == 1 && strings.HasPrefix(ps[0].Message, "changed after it was checked")
}

// Compare returns a Changed error when got is not want.
func Compare(op, name string, want, got Stamp) error {
	if d := want.differs(got); len(d) > 0 {
		verb := "differ"
		if len(d) == 1 {
			verb = "differs"
		}
		return Changed(op, name, strings.Join(d, "/")+" "+verb)
	}
	return nil
}

// gone turns an error from Open or Stat of a file that was checked before
// into a Changed error: it was deleted, or replaced by a symlink, a folder or
// a special file.
func gone(op, name string, err error) error {
	how := err.Error()
	if errors.Is(err, fs.ErrNotExist) {
		how = "it is gone"
	}
	return Changed(op, name, how)
}

// OpenStamped opens root/name as Open does and checks the opened file
// against want. Any failure — the file deleted, replaced by a symlink, a
// folder or another file, or rewritten — is a Changed error naming it.
func OpenStamped(op, root, name string, want Stamp) (*os.File, error) {
	f, fi, err := Open(root, name)
	if err != nil {
		return nil, gone(op, name, err)
	}
	if err := Compare(op, name, want, StampOf(fi)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// CheckOpen compares a file opened by OpenStamped from root with want
// again, by fstat: after reading it, to catch a write while it was being
// read. When the open file no longer matches, the error says what is at
// its path now if that tells more (deleted, a symlink, another file).
func CheckOpen(op, root, name string, f *os.File, want Stamp) error {
	fi, err := f.Stat()
	if err == nil {
		if err = Compare(op, name, want, StampOf(fi)); err == nil {
			return nil
		}
	}
	if byPath := Verify(op, root, name, want); byPath != nil {
		return byPath
	}
	if IsChanged(err) {
		return err
	}
	return gone(op, name, err)
}

// Verify checks that root/name is still the regular file want describes,
// by Lstat of each element of its path: no data is read.
func Verify(op, root, name string, want Stamp) error {
	fi, err := Stat(root, name)
	if err != nil {
		return gone(op, name, err)
	}
	return Compare(op, name, want, StampOf(fi))
}
