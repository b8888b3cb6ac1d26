package pipeline

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/scandrop/scandrop/internal/dropname"
	"github.com/scandrop/scandrop/vendors"
)

// MoveFolder moves the folder src into the folder destDir under its own
// name, or, if that name is taken, under name-2, name-3, ...: nothing is
// ever overwritten, not even an empty folder. It returns the new path.
//
// A move across devices (done/ on another volume) copies into a temporary
// folder of its own, .scandrop-move-<random> in destDir, made exclusively
// for this move and named in src's journal before it is made; it keeps
// regular files (bytes, modes, mtimes, hard links), folders and symlinks
// (as links, never followed), syncs and checks them, renames the copy to
// its name and only then deletes src. A folder holding anything else (a
// FIFO, a socket, a device) is refused with an *UnmovableError before
// anything is copied, and src stays whole. A crash half-way leaves src
// whole; the next MoveFolder of src removes the temporary folder this move
// made (and nothing else), or, if the copy had already taken its name,
// finishes the move.
func MoveFolder(src, destDir string) (string, error) {
	return moveFolder(src, destDir, func(string) {})
}

// UnmovableError says why a folder cannot be moved to another volume: it
// holds entries a copy cannot reproduce faithfully. Its Kind is Invalid.
type UnmovableError struct {
	Dir     string   // the folder
	Entries []string // "rel/path (what it is)", at most maxListed
	More    int      // how many more there are
}

const maxListed = 20

func (e *UnmovableError) Error() string {
	s := fmt.Sprintf("%s cannot be moved to another volume: it holds %s; scandrop copies only regular files, folders and symlinks between volumes, so it moved nothing",
		filepath.Base(e.Dir), strings.Join(e.Entries, ", "))
	if e.More > 0 {
		s += fmt.Sprintf(" (and %d more such entries)", e.More)
	}
	return s
}

// Unwrap gives the error its vendors.Kind.
func (e *UnmovableError) Unwrap() error { return vendors.E(vendors.Invalid, "move", "special files") }

func moveFolder(src, destDir string, crash func(string)) (string, error) {
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return "", err
	}
	if dst, done, err := resumeMove(src); err != nil || done {
		return dst, err
	}
	dst, err := renameFree(src, destDir, filepath.Base(src))
	if isCrossDevice(err) {
		return copyThenRemove(src, destDir, crash)
	}
	if err != nil {
		return "", err
	}
	syncDir(filepath.Dir(src))
	return dst, nil
}

// renameFree renames from to destDir/base, or base-2, base-3, ... — the
// first name that is free — without ever replacing what is there.
func renameFree(from, destDir, base string) (string, error) {
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
		err := renameNoReplace(from, dst)
		if err == nil {
			syncDir(destDir)
			return dst, nil
		}
		if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTEMPTY) {
			continue // taken between the check and the rename
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

// A cross-volume move in progress is recorded in the source, so that the
// next attempt after a crash knows which temporary folder is its own.
const (
	moveRecordFile = "move"     // in src/.scandrop: the moveRecord
	movedByFile    = "moved-by" // in the copy's .scandrop: the record's token
	movePrefix     = ".scandrop-move-"
)

type moveRecord struct {
	DestDir string `json:"dest_dir"`
	Token   string `json:"token"` // 32 hex digits; the temp folder is movePrefix+Token
}

func (m moveRecord) tmp() string { return filepath.Join(m.DestDir, movePrefix+m.Token) }

// resumeMove deals with a cross-volume move of src that a crash cut short:
// if its copy already took its final name, it finishes the move (removes
// src) and returns the copy; otherwise it removes the temporary folder that
// move made — the one its record names, and only if it is a real folder —
// and forgets the record.
func resumeMove(src string) (string, bool, error) {
	recPath := filepath.Join(src, StateDir, moveRecordFile)
	b, err := readState(src, StateDir+"/"+moveRecordFile, maxOwner)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	var m moveRecord
	if json.Unmarshal(b, &m) != nil || !validToken(m.Token) || m.DestDir == "" {
		// Not a record this code wrote: remove nothing it names.
		return "", false, os.Remove(recPath)
	}
	if fi, err := os.Lstat(m.tmp()); err == nil && fi.IsDir() {
		if err := os.RemoveAll(m.tmp()); err != nil {
			return "", false, fmt.Errorf("removing the partial copy %s: %w", m.tmp(), err)
		}
		syncDir(m.DestDir)
	} else if ents, err := os.ReadDir(m.DestDir); err == nil {
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			dst := filepath.Join(m.DestDir, e.Name())
			if got, _ := readState(dst, StateDir+"/"+movedByFile, maxOwner); string(got) == m.Token {
				// The copy is complete and named; only src was left.
				if err := removeJob(src); err != nil {
					return "", false, err
				}
				syncDir(filepath.Dir(src))
				os.Remove(filepath.Join(dst, StateDir, movedByFile))
				return dst, true, nil
			}
		}
	}
	return "", false, os.Remove(recPath)
}

func validToken(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// specialEntries lists what in dir a copy cannot reproduce: anything but
// regular files, folders and symlinks.
func specialEntries(dir string) (*UnmovableError, error) {
	ue := &UnmovableError{Dir: dir}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		what := dropname.SpecialKind(d.Type())
		if what == "" {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if len(ue.Entries) < maxListed {
			ue.Entries = append(ue.Entries, filepath.ToSlash(rel)+" ("+what+")")
		} else {
			ue.More++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ue.Entries) == 0 {
		return nil, nil
	}
	return ue, nil
}

// copyThenRemove moves src into destDir across volumes; see MoveFolder.
func copyThenRemove(src, destDir string, crash func(string)) (string, error) {
	if ue, err := specialEntries(src); err != nil {
		return "", err
	} else if ue != nil {
		return "", ue
	}
	var raw [16]byte
	rand.Read(raw[:])
	m := moveRecord{DestDir: destDir, Token: hex.EncodeToString(raw[:])}
	// The record first: a crash after the Mkdir below must leave a temp
	// folder the next attempt knows to be its own.
	b, _ := json.Marshal(m)
	// Writing the record changes the modification time of src (and of
	// its .scandrop/): put them back, so that the copy keeps the folder's
	// time and a move that fails does not make the folder look younger
	// (retention ages a folder without a result by it).
	srcTime, stateTime := mtimeOf(src), mtimeOf(filepath.Join(src, StateDir))
	if err := os.MkdirAll(filepath.Join(src, StateDir), 0o755); err != nil {
		return "", err
	}
	if err := WriteFileAtomic(filepath.Join(src, StateDir, moveRecordFile), b); err != nil {
		return "", err
	}
	setMtime(filepath.Join(src, StateDir), stateTime)
	setMtime(src, srcTime)
	tmp := m.tmp()
	if err := os.Mkdir(tmp, 0o700); err != nil { // exclusive: ours alone
		return "", err
	}
	if err := copyTree(src, tmp, crash); err != nil {
		os.RemoveAll(tmp)
		os.Remove(filepath.Join(src, StateDir, moveRecordFile))
		return "", fmt.Errorf("copying %s to %s: %w", src, destDir, err)
	}
	crash("move:copied")
	dst, err := renameFree(tmp, destDir, filepath.Base(src))
	if err != nil {
		os.RemoveAll(tmp)
		os.Remove(filepath.Join(src, StateDir, moveRecordFile))
		return "", err
	}
	if err := removeJob(src); err != nil {
		return dst, fmt.Errorf("%s was copied to %s but cannot be removed: %w", src, dst, err)
	}
	syncDir(filepath.Dir(src))
	os.Remove(filepath.Join(dst, StateDir, movedByFile))
	os.Remove(filepath.Join(dst, StateDir)) // if the move made it: empty
	setMtime(filepath.Join(dst, StateDir), stateTime)
	setMtime(dst, srcTime)
	return dst, nil
}

// copyTree copies the contents of src into the existing folder dst,
// keeping modes, mtimes, symlinks and hard links, and syncs it all. It
// leaves out src's move record and marks the copy with the record's token.
func copyTree(src, dst string, crash func(string)) error {
	type dirMeta struct {
		path string
		info fs.FileInfo
	}
	var dirs []dirMeta
	links := map[fileKey]string{} // first copy of each multiply-linked file
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == filepath.Join(StateDir, moveRecordFile) {
			return nil
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch t := info.Mode(); {
		case t.IsDir():
			if rel != "." {
				if err := os.Mkdir(target, 0o700); err != nil {
					return err
				}
			}
			dirs = append(dirs, dirMeta{target, info})
			return nil
		case t&fs.ModeSymlink != 0:
			to, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(to, target)
		case t.IsRegular():
			if k, ok := keyOf(info); ok {
				if first, seen := links[k]; seen {
					return os.Link(first, target)
				}
				links[k] = target
			}
			if err := copyFile(p, target, info); err != nil {
				return err
			}
			crash("move:file")
			return nil
		default: // checked before: something changed the folder under us
			return fmt.Errorf("%s: %s appeared during the move", rel, t.Type())
		}
	})
	if err != nil {
		return err
	}
	b, _ := readState(src, StateDir+"/"+moveRecordFile, maxOwner)
	var m moveRecord
	json.Unmarshal(b, &m)
	if err := WriteFileAtomic(filepath.Join(dst, StateDir, movedByFile), []byte(m.Token)); err != nil {
		return err
	}
	// Folders last, deepest first: creating their entries changed them.
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		if err := os.Chmod(d.path, d.info.Mode().Perm()); err != nil {
			return err
		}
		os.Chtimes(d.path, d.info.ModTime(), d.info.ModTime())
		syncDir(d.path)
	}
	return nil
}

func copyFile(src, dst string, info fs.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, in)
	if err == nil {
		err = out.Chmod(info.Mode().Perm())
	}
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
		err = os.Chtimes(dst, info.ModTime(), info.ModTime())
	}
	return err
}

// removeJob removes the job folder dir, its scandrop state last: a crash
// half-way leaves a folder whose journal and move record still say it was
// moved, so the next attempt finishes the removal instead of taking what
// is left for a job.
func removeJob(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, e := range ents {
		if e.Name() != StateDir {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return removeTree(dir)
}

// mtimeOf is the modification time of path (not following a symlink),
// zero if it cannot be read.
func mtimeOf(path string) time.Time {
	if fi, err := os.Lstat(path); err == nil {
		return fi.ModTime()
	}
	return time.Time{}
}

// setMtime sets path's modification (and access) time to t, unless t is
// zero: best effort, for keeping a folder's time.
func setMtime(path string, t time.Time) {
	if !t.IsZero() {
		os.Chtimes(path, t, t)
	}
}
