package pipeline

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
)

// ClaimKeyFile is the file, in scandrop's state folder, holding the key
// that signs journals. Whoever can read it can forge a journal scandrop
// trusts: it must stay private (mode 0600) and outside every watch folder.
const ClaimKeyFile = "claim.key"

const claimKeySize = 32

// LoadClaimKey returns the journal signing key kept in stateDir/claim.key,
// creating the folder (0700) and the key (32 random bytes, 0600) on first
// use. Two daemons given the same stateDir share the key: of two creating
// it at once, one wins and both read its key.
//
// If the key cannot be kept (no stateDir, a folder that cannot be created,
// a damaged key file), it logs one WARN and returns a key held only in
// memory: journals then verify until this process ends, so a job moved back
// to inbox/ after a restart starts afresh instead of resuming its task.
func LoadClaimKey(stateDir string, log *slog.Logger) []byte {
	key, err := loadClaimKey(stateDir)
	if err == nil {
		if fi, err := os.Stat(filepath.Join(stateDir, ClaimKeyFile)); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
			log.Warn("risky setting", "key", "state_dir",
				"problem", filepath.Join(stateDir, ClaimKeyFile)+" (mode "+fi.Mode().Perm().String()+") can be read by other users, who could then forge journals that scandrop trusts",
				"fix", "chmod 600 "+filepath.Join(stateDir, ClaimKeyFile))
		}
		return key
	}
	log.Warn("cannot keep the claim key; using one in memory: a job moved back from failed/ to inbox/ after a restart starts afresh instead of checking its task again",
		"state_dir", stateDir, "error", err.Error(),
		"fix", "set state_dir in config.yaml to a private folder scandrop can write, outside every watch folder")
	return newClaimKey()
}

func newClaimKey() []byte {
	key := make([]byte, claimKeySize)
	rand.Read(key) // never fails (crypto/rand)
	return key
}

func loadClaimKey(dir string) ([]byte, error) {
	if dir == "" {
		return nil, errors.New("no state folder (state_dir) is set and the system names none")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	name := filepath.Join(dir, ClaimKeyFile)
	key, err := readClaimKey(name)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := createClaimKey(dir, name); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return readClaimKey(name) // ours, or the one another daemon made first
}

func readClaimKey(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() != claimKeySize {
		return nil, fmt.Errorf("%s is not a %d-byte key file (damaged?); remove it and scandrop makes a new one (jobs moved back to inbox/ then start afresh)", name, claimKeySize)
	}
	key := make([]byte, claimKeySize)
	if _, err := io.ReadFull(f, key); err != nil {
		return nil, err
	}
	return key, nil
}

// createClaimKey writes a new key under a temporary name and renames it
// into place without replacing one that appeared meanwhile, so that a
// crash never leaves a torn key file.
func createClaimKey(dir, name string) error {
	f, err := os.CreateTemp(dir, ".tmp-"+ClaimKeyFile+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(newClaimKey())
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := renameNoReplace(tmp, name); err != nil {
		return err
	}
	return syncDir(dir)
}

// journalMAC is the HMAC-SHA256, under key, of the record r as saved
// (without its MAC): the claim (which folder, when), the vendor ids, the
// stage and every vendor's journalled state. Only a scandrop holding key
// can make a record whose MAC verifies.
//
// It is computed over the record's JSON after one trip through the file
// format (encode, decode, encode), so that the record as saved and the
// record as read back give the same bytes: encoding is lossy (a name that
// is not UTF-8 comes back with U+FFFD in it), and a second trip changes
// nothing.
func journalMAC(key []byte, r *Record) (string, error) {
	c := *r
	c.MAC = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", err
	}
	var back Record
	if err := json.Unmarshal(b, &back); err != nil {
		return "", err
	}
	if b, err = json.Marshal(&back); err != nil {
		return "", err
	}
	h := hmac.New(sha256.New, key)
	h.Write([]byte("scandrop journal v1\n"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// signedBy reports whether r carries a MAC made under key.
func signedBy(key []byte, r *Record) bool {
	if len(key) == 0 || r.MAC == "" {
		return false
	}
	want, err := journalMAC(key, r)
	return err == nil && hmac.Equal([]byte(want), []byte(r.MAC))
}
