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
	"sync"
	"time"

	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/dropfs"
)

// StateDir is the folder inside each job that holds scandrop's own files.
// It travels with the job from processing/ to done/ or failed/.
const StateDir = ".scandrop"

const journalFile = "job.json"

// Record is the job journal: what a restart needs to carry on without
// repeating anything irreversible.
type Record struct {
	Version int    `json:"version"`
	Vendor  string `json:"vendor"`
	// Account is the named account whose credentials the job uses; ""
	// for the default. Fixed once the task may exist, so that a resumed
	// job asks the account that has it.
	Account   string    `json:"account,omitempty"`
	Folder    string    `json:"folder"`
	Attempt   int       `json:"attempt"`
	StartedAt time.Time `json:"started_at"`
	// Stage is the stage in progress (or "done" once result.json is written).
	Stage string `json:"stage"`
	// StageAt is when Stage began.
	StageAt time.Time `json:"stage_at"`
	// Submit is "" (not tried), "sent" (a request went out and its answer
	// is not known: never send another), "refused" (the vendor answered
	// with an error; nothing was created) or "created".
	Submit      string    `json:"submit,omitempty"`
	SubmittedAt time.Time `json:"submitted_at,omitzero"`
	// WaitSince is when this attempt began waiting for the task; the
	// vendor timeout counts from it, across restarts.
	WaitSince time.Time   `json:"wait_since,omitzero"`
	IDs       vendors.IDs `json:"vendor_ids,omitempty"`
	// Progress of the upload, for status.
	UploadedBytes int64 `json:"uploaded_bytes,omitempty"`
	TotalBytes    int64 `json:"total_bytes,omitempty"`
	// Result is set when result.json has been written; the job then only
	// needs to move.
	Result *Result `json:"result,omitempty"`
	// VendorState holds what the vendor stored through the Journal
	// interface (upload ids, parts, checksums), by key.
	VendorState map[string]json.RawMessage `json:"vendor_state,omitempty"`

	// Claim ties the journal to the folder it was written in. A folder
	// claimed from inbox/ keeps its journal only if the claim names that
	// very folder (moved back from failed/, not copied); see adopt.
	Claim *Claim `json:"claim,omitempty"`
	// Tries counts the starts of this attempt since it last got further;
	// Reached (the furthest stage) and ReachedBytes (the most bytes
	// uploaded) say how far it got. A job whose Tries pass the crash limit
	// is quarantined in failed/.
	Tries        int    `json:"tries,omitempty"`
	Reached      string `json:"reached,omitempty"`
	ReachedBytes int64  `json:"reached_bytes,omitempty"`
	// MoveRefused is why the finished job cannot move to done/ or failed/
	// (an UnmovableError); it then waits in processing/.
	MoveRefused string `json:"move_refused,omitempty"`
	// Retrying is set while the job waits to retry a transient error, for
	// status; cleared once the stage gets through or fails.
	Retrying *RetryState `json:"retrying,omitempty"`

	// MAC is the HMAC-SHA256 of the rest of the record under this
	// installation's claim key (see LoadClaimKey), renewed at every save.
	// A journal that arrives in inbox/ is kept only with a MAC that
	// verifies: anything a drop can read about its folder (device, inode,
	// birth time) it can also forge, but not the MAC.
	MAC string `json:"mac,omitempty"`
}

// Claim identifies one claim of one folder: what a copy of the folder
// cannot carry along.
type Claim struct {
	ID  string    `json:"id"` // random, for the log
	At  time.Time `json:"at"`
	Dev uint64    `json:"dev,omitempty"` // the folder's device and inode,
	Ino uint64    `json:"ino,omitempty"` // where the OS has them
	// Btime is the folder's birth time (ns), where the OS has it: a folder
	// created anew that reuses a deleted one's inode has another.
	Btime int64 `json:"btime,omitempty"`
}

// newClaim makes the claim of the folder dir.
func newClaim(dir string, now time.Time) *Claim {
	var raw [8]byte
	rand.Read(raw[:])
	c := &Claim{ID: hex.EncodeToString(raw[:]), At: now}
	c.Dev, c.Ino, _ = folderID(dir)
	c.Btime = birthTime(dir)
	return c
}

// names reports whether c is a claim of the folder dir itself: the same
// folder on the same device, which a copy of it is not. Where the OS has no
// folder identity, no claim names a folder that arrives.
func (c *Claim) names(dir string) bool {
	dev, ino, ok := folderID(dir)
	return ok && c != nil && c.Ino != 0 && c.Dev == dev && c.Ino == ino && c.Btime == birthTime(dir)
}

// Journal is a job's record on disk, written atomically: a crash leaves
// either the old or the new record, never a torn one. It implements
// vendors.Journal for the vendor's own keys.
type Journal struct {
	dir   string // the job folder
	crash func(point string)
	key   []byte // signs every save (Record.MAC); nil: saved unsigned

	mu  sync.Mutex
	rec Record
}

// OpenJournal reads the journal of the job folder dir, or starts an empty
// one if there is none.
func OpenJournal(dir string) (*Journal, error) {
	j := &Journal{dir: dir}
	b, err := readState(dir, StateDir+"/"+journalFile, maxJournal)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		j.rec.Version = 1
		return j, nil
	case err != nil:
		return nil, err
	}
	if err := json.Unmarshal(b, &j.rec); err != nil {
		return nil, fmt.Errorf("%s/%s: damaged journal: %v", StateDir, journalFile, err)
	}
	return j, nil
}

// maxJournal and maxOwner bound scandrop's own files in a job folder. The
// folder comes from outside, and may bring a .scandrop/ along (one moved
// back from failed/ to retry does): its files may hold anything, and a
// multi-GB one must not be read into memory.
const (
	maxJournal = 16 << 20 // the journal of a job of 10000 files takes a few MB
	maxOwner   = 4 << 10
)

// readState reads the state file rel (slash-separated, under StateDir) of
// the job folder dir: a regular file inside the folder, reached without a
// symlink, of at most limit bytes; a larger one is refused unread.
func readState(dir, rel string, limit int64) ([]byte, error) {
	f, fi, err := dropfs.Open(dir, rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: file too large (%d bytes, limit %d)", rel, fi.Size(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("%s: file too large (over %d bytes, limit %d)", rel, len(b), limit)
	}
	return b, err
}

// ReadRecord reads a job's record without locking anything, for status.
func ReadRecord(dir string) (*Record, error) {
	j, err := OpenJournal(dir)
	if err != nil {
		return nil, err
	}
	return &j.rec, nil
}

// Record returns a copy of the record.
func (j *Journal) Record() Record {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.rec
}

// Update changes the record with fn and writes it durably.
func (j *Journal) Update(fn func(r *Record)) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	fn(&j.rec)
	return j.save()
}

// Load implements vendors.Journal.
func (j *Journal) Load(key string, v any) (bool, error) {
	j.mu.Lock()
	raw, ok := j.rec.VendorState[key]
	j.mu.Unlock()
	if !ok {
		return false, nil
	}
	return true, json.Unmarshal(raw, v)
}

// Store implements vendors.Journal.
func (j *Journal) Store(key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.rec.VendorState == nil {
		j.rec.VendorState = map[string]json.RawMessage{}
	}
	j.rec.VendorState[key] = raw
	if err := j.save(); err != nil {
		return err
	}
	if j.crash != nil {
		j.crash("journal:" + key)
	}
	return nil
}

func (j *Journal) save() error {
	j.rec.MAC = ""
	if j.key != nil {
		mac, err := journalMAC(j.key, &j.rec)
		if err != nil {
			return err
		}
		j.rec.MAC = mac
	}
	b, err := json.MarshalIndent(&j.rec, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Join(j.dir, StateDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, journalFile), append(b, '\n'))
}

// WriteFileAtomic writes data to a temporary file beside name, syncs it,
// renames it over name and syncs the folder, so that name holds either its
// old or its new content after a crash.
func WriteFileAtomic(name string, data []byte) error {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(name)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some file systems (and Windows) cannot sync a folder; the rename is
	// still atomic there.
	d.Sync()
	return nil
}
