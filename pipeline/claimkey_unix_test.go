//go:build unix

package pipeline

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors"
)

// arrived reports whether adopt set the state of dir aside, and checks
// that what it kept agrees.
func arrived(t *testing.T, p *Pipeline, dir string) bool {
	t.Helper()
	j, err := p.adopt(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	aside, _ := filepath.Glob(filepath.Join(dir, StateDir+"-arrived-*"))
	if (j == nil) != (len(aside) == 1) {
		t.Fatalf("adopt returned journal %v but set aside %v", j != nil, aside)
	}
	return j == nil
}

// timedOut leaves in dir the journal of a job whose Realsee task timed
// out, written by p, as a daemon moving it to failed/ would.
func timedOut(t *testing.T, p *Pipeline, dir string) {
	t.Helper()
	j, err := p.openJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := j.Store("realsee.package", map[string]any{"entries": []string{"manifest.json"}}); err != nil {
		t.Fatal(err)
	}
	if err := j.Update(func(r *Record) {
		r.Vendor, r.Folder, r.Attempt, r.StartedAt, r.Claim = "realsee", filepath.Base(dir), 1, now, newClaim(dir, now)
		r.Stage, r.Submit, r.IDs = stageDone, "created", vendors.IDs{"task_code": "MINE-1"}
		r.Result = &Result{Status: "failed", Error: &ResultError{Stage: StageWait, Kind: vendors.Timeout.String()}}
	}); err != nil {
		t.Fatal(err)
	}
}

// The red team's forge: a drop that stats its own folder and writes a
// journal whose claim names it, at stage wait with another tenant's task.
// Without this installation's MAC it is set aside; with another
// installation's MAC too.
func TestAdoptForgedClaimSetAside(t *testing.T) {
	root := t.TempDir()
	p := quietPipeline()
	for _, signer := range []string{"none", "other installation"} {
		dir := mkJob(t, root, strings.ReplaceAll(signer, " ", "-"))
		now := time.Now().UTC()
		rec := Record{Version: 1, Vendor: "realsee", Folder: filepath.Base(dir), Attempt: 1, StartedAt: now,
			Stage: StageWait, Submit: "created", SubmittedAt: now, WaitSince: now,
			IDs: vendors.IDs{"task_code": "OTHER-TENANT"}, Claim: newClaim(dir, now)}
		if signer != "none" {
			rec.MAC, _ = journalMAC(newClaimKey(), &rec)
		}
		b, _ := json.Marshal(rec)
		writeFile(t, filepath.Join(dir, StateDir, journalFile), string(b))
		if !arrived(t, p, dir) {
			t.Errorf("%s: a forged journal naming the folder's own device and inode was kept", signer)
		}
		if _, err := os.Stat(filepath.Join(dir, StateDir)); !os.IsNotExist(err) {
			t.Errorf("%s: the forged journal is still in use: %v", signer, err)
		}
	}
}

// A job of this installation that timed out and was moved back (renamed)
// keeps its journal and its task, also with a new Pipeline holding the
// same key (a restart).
func TestAdoptKeepsGenuineMovedBack(t *testing.T) {
	root := t.TempDir()
	key := newClaimKey()
	p := New(Options{Logger: slog.New(slog.DiscardHandler), ClaimKey: key})
	dir := mkJob(t, filepath.Join(root, Processing), "job")
	timedOut(t, p, dir)
	back := filepath.Join(root, Inbox, "job")
	os.MkdirAll(filepath.Dir(back), 0o755)
	if err := os.Rename(dir, back); err != nil {
		t.Fatal(err)
	}
	restarted := New(Options{Logger: slog.New(slog.DiscardHandler), ClaimKey: key})
	j, err := restarted.adopt(back, true)
	if err != nil || j == nil {
		t.Fatalf("the job's own journal, moved back, was not kept: %v", err)
	}
	if got := j.Record().IDs["task_code"]; got != "MINE-1" {
		t.Errorf("task %q, want MINE-1", got)
	}
	// Another installation (another key) does not trust it.
	if !arrived(t, quietPipeline(), back) {
		t.Error("a journal signed under another key was kept")
	}
}

// A genuine journal copied into another folder, or edited, is set aside:
// the MAC covers the claim and everything that decides what runs next.
func TestAdoptRefusesCopiedOrEditedJournal(t *testing.T) {
	root := t.TempDir()
	p := quietPipeline()
	genuine := mkJob(t, root, "genuine")
	timedOut(t, p, genuine)
	b, err := os.ReadFile(filepath.Join(genuine, StateDir, journalFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"mac"`)) {
		t.Fatalf("the journal is not signed: %s", b)
	}
	if arrived(t, p, genuine) {
		t.Fatal("the genuine journal in its own folder was set aside")
	}

	copied := mkJob(t, root, "copied")
	writeFile(t, filepath.Join(copied, StateDir, journalFile), string(b))
	if !arrived(t, p, copied) {
		t.Error("a genuine journal copied into another folder was kept")
	}

	edits := map[string][2]string{
		"task id":      {`"MINE-1"`, `"OTHER-TENANT"`},
		"stage":        {`"stage": "done"`, `"stage": "wait"`},
		"vendor state": {`"manifest.json"`, `"../../outside/secret"`},
	}
	for what, e := range edits {
		dir := mkJob(t, root, "edited-"+strings.ReplaceAll(what, " ", "-"))
		timedOut(t, p, dir)
		name := filepath.Join(dir, StateDir, journalFile)
		b, _ := os.ReadFile(name)
		if !bytes.Contains(b, []byte(e[0])) {
			t.Fatalf("%s: %s not in the journal: %s", what, e[0], b)
		}
		writeFile(t, name, strings.Replace(string(b), e[0], e[1], 1))
		if !arrived(t, p, dir) {
			t.Errorf("a journal with its %s edited was kept", what)
		}
	}
}

// A journal signed for a folder that had this one's device and inode but
// another birth time — a deleted folder whose inode the new one reuses —
// is set aside.
func TestAdoptRefusesReusedInode(t *testing.T) {
	root := t.TempDir()
	p := quietPipeline()
	dir := mkJob(t, root, "reused")
	if birthTime(dir) == 0 {
		t.Skip("no folder birth time on this system")
	}
	timedOut(t, p, dir)
	j, _ := p.openJournal(dir)
	if err := j.Update(func(r *Record) { r.Claim.Btime-- }); err != nil {
		t.Fatal(err)
	}
	if !arrived(t, p, dir) {
		t.Error("a journal signed for an earlier folder with the same inode was kept")
	}
}

// Handle runs the journal it verified, not one written into the folder
// after the check.
func TestHandleRunsTheVerifiedJournal(t *testing.T) {
	root := t.TempDir()
	p := quietPipeline()
	dir := mkJob(t, filepath.Join(root, Processing), "job")
	timedOut(t, p, dir)
	j, why := p.ownJournal(dir)
	if why != "" {
		t.Fatal(why)
	}
	name := filepath.Join(dir, StateDir, journalFile)
	b, _ := os.ReadFile(name)
	writeFile(t, name, strings.Replace(string(b), "MINE-1", "SWAPPED", 1))
	if got := j.Record().IDs["task_code"]; got != "MINE-1" {
		t.Errorf("the verified journal holds task %q", got)
	}
}

func TestClaimKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	key := LoadClaimKey(dir, log)
	fi, err := os.Stat(filepath.Join(dir, ClaimKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Errorf("claim.key: mode %v, %d bytes; want 0600, 32", fi.Mode().Perm(), fi.Size())
	}
	if len(key) != 32 || !bytes.Equal(LoadClaimKey(dir, log), key) {
		t.Error("a second start does not read the same key")
	}
	if logs.Len() != 0 {
		t.Errorf("logged: %s", logs.String())
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(m) != 0 {
		t.Errorf("left behind: %v", m)
	}
	// A key others can read is used, with a warning and the fix.
	os.Chmod(filepath.Join(dir, ClaimKeyFile), 0o644)
	if !bytes.Equal(LoadClaimKey(dir, log), key) || !strings.Contains(logs.String(), "risky setting") || !strings.Contains(logs.String(), "chmod 600") {
		t.Errorf("a readable key: %s", logs.String())
	}
}

// A state folder that cannot be made, or a damaged key, gives an in-memory
// key and one WARN that says what it means and the fix.
func TestClaimKeyUnusable(t *testing.T) {
	root := t.TempDir()
	blocker := filepath.Join(root, "file")
	writeFile(t, blocker, "x")
	damaged := filepath.Join(root, "damaged")
	writeFile(t, filepath.Join(damaged, ClaimKeyFile), "short")
	for _, dir := range []string{"", filepath.Join(blocker, "state"), damaged} {
		var logs bytes.Buffer
		key := LoadClaimKey(dir, slog.New(slog.NewTextHandler(&logs, nil)))
		if len(key) != 32 {
			t.Errorf("%q: key of %d bytes", dir, len(key))
		}
		if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "state_dir") || !strings.Contains(logs.String(), "starts afresh") {
			t.Errorf("%q: want one WARN naming state_dir and what it means, got: %s", dir, logs.String())
		}
		if bytes.Equal(key, LoadClaimKey(dir, slog.New(slog.DiscardHandler))) {
			t.Errorf("%q: the in-memory key is not random", dir)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(damaged, ClaimKeyFile)); string(b) != "short" {
		t.Error("the damaged key file was overwritten")
	}
}

// The MAC is computed over the record as saved and checked over the record
// as read back: it must survive the round trip through the file for every
// kind of content a journal holds (vendor state with HTML characters and
// odd spacing, results with problems and assets, names that are not
// UTF-8, times in other zones).
func TestJournalMACRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd \xff <&> name")
	os.MkdirAll(dir, 0o755)
	p := quietPipeline()
	j, err := p.openJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	zone := time.FixedZone("X", 5*3600+1800)
	if err := j.Store("v.state", json.RawMessage(`{ "url" : "https://h/x?a=1&b=<2>", "n": 1e3, "f": 0.1, "s": "\u00e9\ud83d\ude00" }`)); err != nil {
		t.Fatal(err)
	}
	if err := j.Update(func(r *Record) {
		now := time.Date(2026, 12, 1, 10, 0, 0, 123456789, zone)
		r.Folder, r.StartedAt, r.StageAt, r.Claim = filepath.Base(dir), now, now.UTC(), newClaim(dir, now)
		r.IDs = vendors.IDs{"task_code": "T<1>&"}
		r.Result = &Result{Status: "failed", VRURL: "https://x/?a&b", Assets: map[string]string{"ply": "https://c/a.ply", "spz": "https://c/a.spz"},
			Error: &ResultError{Stage: StageValidate, Kind: "invalid", Message: "bad \u202e name", Problems: vendors.Problems{{File: "images/\xfe.jpg", Message: "m"}}}}
	}); err != nil {
		t.Fatal(err)
	}
	rec, err := ReadRecord(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !signedBy(p.o.ClaimKey, rec) {
		b, _ := os.ReadFile(filepath.Join(dir, StateDir, journalFile))
		t.Fatalf("the journal as read back does not verify:\n%s", b)
	}
	if _, why := p.ownJournal(dir); why != "" {
		t.Errorf("not kept: %s", why)
	}
}
