//go:build linux

package main

// Hostile drops, through the real binary (issue 12, classes 4 and 5, and
// the poison-drop quarantine):
//
//   - a move to done/ or failed/ on another volume keeps every regular
//     file, folder, symlink and hard link as it was, refuses (and says so in
//     result.json) a folder holding a FIFO, a socket or a device, never
//     touches a folder the user made, and survives a crash mid-copy;
//   - scandrop state that arrives inside a drop (.scandrop/, result.json)
//     is never trusted: the job starts afresh and uploads its own images;
//   - a job the daemon keeps dying on is quarantined in failed/ after
//     crash_limit starts, and the other jobs go on.

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// hostileDrop is a small valid Realsee drop whose images are its own
// (seeded by seed) and whose project is named after the folder, so that
// its submit and its archive can be told from every other drop's.
func hostileDrop(t testing.TB, name string, seed int) map[string][]byte {
	return map[string][]byte{
		"manifest.json": []byte(`{"version":"1.0","floor_map":{"0":1},"project_name":"` + name +
			`","scan_list":[{"id":"a","floor":0},{"id":"b","floor":0}]}`),
		"images/a.jpg": smallJPEG(t, 64, 32, seed),
		"images/b.jpg": smallJPEG(t, 64, 32, seed+7919),
	}
}

// dropWith builds a drop beside inbox/, lets extra add to it (special
// files, scandrop state), and renames it in.
func (r *rig) dropWith(name string, files map[string][]byte, extra func(dir string)) {
	r.t.Helper()
	tmp := filepath.Join(r.watchDir, ".staging-"+strconv.Itoa(rand.IntN(1<<30)))
	writeTree(r.t, tmp, files)
	if extra != nil {
		extra(tmp)
	}
	os.MkdirAll(r.path("inbox"), 0o755)
	if err := os.Rename(tmp, r.path("inbox", name)); err != nil {
		r.t.Fatal(err)
	}
}

// onOtherVolume mounts a tmpfs on each sub-folder of the watch root, so
// that moves there from processing/ cross devices (a real EXDEV).
func (r *rig) onOtherVolume(subs ...string) {
	r.t.Helper()
	for _, sub := range subs {
		dir := r.path(sub)
		os.MkdirAll(dir, 0o755)
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256m", "scandrop-"+sub, dir).CombinedOutput(); err != nil {
			r.t.Skipf("needs a second volume: mount -t tmpfs on %s failed (the test must run as root): %v %s", sub, err, out)
		}
		r.t.Cleanup(func() {
			r.stopAll()
			exec.Command("umount", "-l", dir).Run()
		})
		if devOf(r.t, dir) == devOf(r.t, r.path()) {
			r.t.Skipf("%s is on the watch root's device after mounting a tmpfs", sub)
		}
	}
}

func devOf(t testing.TB, p string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return uint64(st.Dev)
}

// submitOf is the gateway's submit of the project name (nil if none).
func (r *rig) submitsOf(name string) []realseetest.Submit {
	var out []realseetest.Submit
	for _, s := range r.gw.Submits() {
		if s.ProjectName == name {
			out = append(out, s)
		}
	}
	return out
}

// uploaded reads the archive a submit named from the store and returns
// its files.
func (r *rig) uploaded(t testing.TB, s realseetest.Submit) map[string][]byte {
	t.Helper()
	rc, _, err := r.gw.Storage().OpenObject(realseetest.DefaultBucket, s.PrivateCosKey)
	if err != nil {
		t.Fatalf("the archive of %s is not in the store: %v", s.ProjectName, err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("the archive of %s: %v", s.ProjectName, err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		fr, _ := f.Open()
		out[f.Name], _ = io.ReadAll(fr)
		fr.Close()
	}
	return out
}

// mustOwnJob checks that name landed in done/ with a result of its own: a
// VR link no other job has, from exactly one submit whose archive holds
// the drop's own images.
func (r *rig) mustOwnJob(t testing.TB, name string, files map[string][]byte, foreignURL string) *pipeline.Result {
	t.Helper()
	var res *pipeline.Result
	var where string
	eventually(t, name+" in done/ or failed/", 60*time.Second, func() bool {
		res, where = r.result(name)
		return res != nil
	})
	if where != "done" || !res.Success() {
		t.Fatalf("%s landed in %s: %+v", name, where, res.Error)
	}
	if res.VRURL == "" || res.VRURL == foreignURL {
		t.Errorf("%s: VR link %q is not its own (the other project's is %q)", name, res.VRURL, foreignURL)
	}
	subs := r.submitsOf(name)
	if len(subs) != 1 {
		t.Fatalf("%s: %d submits, want 1", name, len(subs))
	}
	if res.VendorIDs["task_code"] != subs[0].TaskCode {
		t.Errorf("%s: result names task %q, its submit created %q", name, res.VendorIDs["task_code"], subs[0].TaskCode)
	}
	got := r.uploaded(t, subs[0])
	for _, id := range []string{"a", "b"} {
		if !bytes.Equal(got["images/"+id+".jpg"], files["images/"+id+".jpg"]) {
			t.Errorf("%s: the uploaded %s.jpg is not the drop's own", name, id)
		}
	}
	return res
}

func readRecord(t testing.TB, dir string) pipeline.Record {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ".scandrop", "job.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec pipeline.Record
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

func globOne(dir, pattern string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	return m
}

// waitFile waits for a file to appear and returns its content.
func waitFile(t testing.TB, name string, within time.Duration) []byte {
	t.Helper()
	var b []byte
	eventually(t, name, within, func() bool {
		var err error
		b, err = os.ReadFile(name)
		return err == nil
	})
	return b
}

// ---- class 4: moves across volumes ----

// TestHostileMoveAcrossVolumes: done/ and failed/ on another volume.
// Symlinks (relative, absolute, dangling, to a folder), hard links, modes
// and mtimes arrive as they were; a folder holding a FIFO, a socket or a
// device stays in processing/ with a result.json naming the entry (the VR
// link kept), while the other jobs go on; folders the user made in done/
// that look like a move's temporary folder, or that take the job's name
// even empty, are untouched; and once the special file is gone the next
// start moves the job and result.json says success again.
func TestHostileMoveAcrossVolumes(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}})
	r.onOtherVolume("done", "failed")
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("outside"), 0o600)
	old := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)

	// Lookalikes of the old and the new temporary names, and an empty
	// folder under a job's name (rename(2) would replace it).
	users := []string{"links.part", ".scandrop-move-00112233445566778899aabbccddeeff", ".scandrop-move-mine"}
	for _, u := range users {
		writeTree(t, r.path("done", u), map[string][]byte{"keep.txt": []byte("user data " + u)})
	}
	os.MkdirAll(r.path("done", "links"), 0o755)

	d := r.start()
	links := hostileDrop(t, "links", 1)
	r.dropWith("links", links, func(dir string) {
		os.MkdirAll(filepath.Join(dir, "extras", "sub"), 0o750)
		os.WriteFile(filepath.Join(dir, "extras", "run.sh"), []byte("#!/bin/sh\n"), 0o755)
		os.WriteFile(filepath.Join(dir, "extras", "private.txt"), []byte("mine"), 0o600)
		os.Chtimes(filepath.Join(dir, "extras", "private.txt"), old, old)
		os.Symlink("../images/a.jpg", filepath.Join(dir, "extras", "rel-link"))
		os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "extras", "abs-link"))
		os.Symlink(outside, filepath.Join(dir, "extras", "dir-link"))
		os.Symlink("no/such/file", filepath.Join(dir, "extras", "dangling"))
		os.Link(filepath.Join(dir, "extras", "private.txt"), filepath.Join(dir, "extras", "sub", "hard-link.txt"))
		os.Chtimes(filepath.Join(dir, "extras", "sub"), old, old)
	})
	special := map[string]func(t *testing.T, dir string){
		"fifo": func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "extras", "pipe"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"socket": func(t *testing.T, dir string) {
			l, err := net.Listen("unix", filepath.Join(dir, "extras", "sock"))
			if err != nil {
				t.Fatal(err)
			}
			l.(*net.UnixListener).SetUnlinkOnClose(false)
			l.Close()
		},
		"device": func(t *testing.T, dir string) {
			if err := syscall.Mknod(filepath.Join(dir, "extras", "null"), syscall.S_IFCHR|0o600, int(unix.Mkdev(1, 3))); err != nil {
				t.Skipf("mknod needs root: %v", err)
			}
		},
	}
	entryOf := map[string]string{"fifo": "extras/pipe (a named pipe (FIFO))", "socket": "extras/sock (a socket)", "device": "extras/null (a character device)"}
	kinds := []string{"fifo", "socket", "device"}
	for i, k := range kinds {
		r.dropWith(k, hostileDrop(t, k, 10+i), func(dir string) {
			os.MkdirAll(filepath.Join(dir, "extras"), 0o755)
			special[k](t, dir)
		})
	}

	// The links drop: in done/ as links-2 (links is the user's), intact.
	res, where := r.waitResult("links-2", 60*time.Second)
	if where != "done" || !res.Success() {
		t.Fatalf("links-2 landed in %s: %+v", where, res.Error)
	}
	got := r.path("done", "links-2")
	for rel, want := range map[string]string{"extras/rel-link": "../images/a.jpg", "extras/abs-link": filepath.Join(outside, "secret"),
		"extras/dir-link": outside, "extras/dangling": "no/such/file"} {
		fi, err := os.Lstat(filepath.Join(got, rel))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s is not a symlink after the move: %v %v", rel, fi, err)
			continue
		}
		if to, _ := os.Readlink(filepath.Join(got, rel)); to != want {
			t.Errorf("%s points to %q, want %q", rel, to, want)
		}
	}
	a, _ := os.Stat(filepath.Join(got, "extras", "private.txt"))
	b, _ := os.Stat(filepath.Join(got, "extras", "sub", "hard-link.txt"))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Error("the hard link became two files (or is missing)")
	}
	if a != nil && (a.Mode().Perm() != 0o600 || !a.ModTime().Equal(old)) {
		t.Errorf("private.txt: mode %v mtime %v, want 0600 %v", a.Mode().Perm(), a.ModTime(), old)
	}
	if fi, err := os.Stat(filepath.Join(got, "extras", "run.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("run.sh lost its mode: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(got, "extras", "sub")); err != nil || fi.Mode().Perm() != 0o750 || !fi.ModTime().Equal(old) {
		t.Errorf("extras/sub lost its mode or mtime: %v %v", fi, err)
	}
	for name, want := range links {
		if b, err := os.ReadFile(filepath.Join(got, filepath.FromSlash(name))); err != nil || !bytes.Equal(b, want) {
			t.Errorf("%s is not intact after the move: %v", name, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(outside, "secret")); err != nil || string(b) != "outside" {
		t.Error("the file outside the drop that a symlink names was touched")
	}
	for _, u := range users {
		if b, err := os.ReadFile(r.path("done", u, "keep.txt")); err != nil || string(b) != "user data "+u {
			t.Errorf("the user's done/%s was touched: %q %v", u, b, err)
		}
	}
	if e, _ := os.ReadDir(r.path("done", "links")); len(e) != 0 {
		t.Errorf("the user's empty done/links now holds %d entries", len(e))
	}
	report(t, "class 4: cross-volume move keeps relative/absolute/dangling/folder symlinks as links, a hard link, modes and mtimes; user folders links.part, .scandrop-move-* and an empty done/links untouched")

	// The special files: each job stays in processing/, result.json says
	// why and keeps the VR link; nothing of it reaches done/ or failed/.
	for _, k := range kinds {
		var res pipeline.Result
		eventually(t, k+" refused", 60*time.Second, func() bool {
			b, err := os.ReadFile(r.path("processing", k, "result.json"))
			return err == nil && json.Unmarshal(b, &res) == nil && res.Error != nil
		})
		if res.Status != "failed" || res.Error.Stage != "move" || res.Error.Kind != "invalid" ||
			!strings.Contains(res.Error.Message, entryOf[k]) || res.Error.Fix == "" {
			t.Errorf("%s: result.json %+v %+v; want failed at stage move naming %s", k, res, res.Error, entryOf[k])
		}
		if res.VRURL == "" || len(r.submitsOf(k)) != 1 {
			t.Errorf("%s: the vendor's result was lost: vr_url %q, %d submits", k, res.VRURL, len(r.submitsOf(k)))
		}
		for _, sub := range []string{"done", "failed"} {
			for _, e := range r.entries(sub) {
				if e == k || strings.HasPrefix(e, k+"-") || (strings.HasPrefix(e, ".scandrop-move-") && !slices.Contains(users, e)) {
					t.Errorf("%s/%s exists after a refused move", sub, e)
				}
			}
		}
		report(t, "class 4: %s in a drop, done/ on another volume: stays in processing/, result.json stage move names %s, VR link kept, nothing copied", k, entryOf[k])
	}
	// The daemon goes on.
	good := hostileDrop(t, "after-refusals", 20)
	r.drop("after-refusals", good)
	r.mustOwnJob(t, "after-refusals", good, "")
	if !d.alive() {
		t.Fatal("the daemon stopped")
	}
	time.Sleep(time.Second)
	if n := strings.Count(r.logText(), "finished job cannot move"); n != len(kinds) {
		t.Errorf("the refusal was logged %d times, want once per job (%d)", n, len(kinds))
	}
	d.stop()

	// The operator removes the FIFO: the next start moves the job, and
	// result.json says what the job did.
	os.Remove(r.path("processing", "fifo", "extras", "pipe"))
	firstURL := ""
	if b, err := os.ReadFile(r.path("processing", "fifo", "result.json")); err == nil {
		var rr pipeline.Result
		json.Unmarshal(b, &rr)
		firstURL = rr.VRURL
	}
	r.start()
	res, where = r.waitResult("fifo", 60*time.Second)
	if where != "done" || !res.Success() || res.VRURL != firstURL || len(r.submitsOf("fifo")) != 1 {
		t.Errorf("fifo after the fix: in %s, %+v, vr %q (was %q), %d submits", where, res.Error, res.VRURL, firstURL, len(r.submitsOf("fifo")))
	}
	report(t, "class 4: FIFO removed from the refused job: the next start moves it to done/, result.json success with the same VR link, still 1 submit")
}

// TestHostileMoveCrashMidCopy: the daemon dies half-way through copying a
// finished job to done/ on another volume. The job is whole in
// processing/; done/ holds the move's own temporary folder beside the
// user's lookalike; the next start removes exactly that and finishes.
func TestHostileMoveCrashMidCopy(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}})
	r.onOtherVolume("done")
	lookalike := ".scandrop-move-ffeeddccbbaa99887766554433221100"
	writeTree(t, r.path("done", lookalike), map[string][]byte{"keep.txt": []byte("user data")})
	writeTree(t, r.path("done", "midcopy.part"), map[string][]byte{"keep.txt": []byte("user data")})

	files := hostileDrop(t, "midcopy", 30)
	d := r.start("SCANDROP_TEST_CRASH=move:file:2")
	r.drop("midcopy", files)
	d.waitExit(t, 60*time.Second)
	if err := sameTree(r.path("processing", "midcopy"), files); err != nil {
		t.Fatalf("the job is not whole in processing/ after the crash: %v", err)
	}
	var temps []string
	for _, e := range r.entries("done") {
		if strings.HasPrefix(e, ".scandrop-move-") && e != lookalike {
			temps = append(temps, e)
		}
	}
	if len(temps) != 1 {
		t.Fatalf("done/ holds %v after the crash; want one temporary folder of the move", r.entries("done"))
	}

	r.start()
	res, where := r.waitResult("midcopy", 60*time.Second)
	if where != "done" || !res.Success() {
		t.Fatalf("landed in %s: %+v", where, res.Error)
	}
	if err := sameTree(r.path("done", "midcopy"), files); err != nil {
		t.Errorf("not intact in done/: %v", err)
	}
	want := []string{lookalike, "midcopy", "midcopy.part"}
	if e := r.entries("done"); !slices.Equal(e, want) {
		t.Errorf("done/ holds %v, want %v", e, want)
	}
	for _, u := range []string{lookalike, "midcopy.part"} {
		if b, err := os.ReadFile(r.path("done", u, "keep.txt")); err != nil || string(b) != "user data" {
			t.Errorf("the user's %s was touched", u)
		}
	}
	if n := len(r.submitsOf("midcopy")); n != 1 {
		t.Errorf("%d submits, want 1", n)
	}
	// The copy takes its name, then the source goes.
	eventually(t, "processing/ empty", 10*time.Second, func() bool { return len(r.entries("processing")) == 0 })
	report(t, "class 4: crash mid cross-volume copy: source whole, one .scandrop-move-<token> left; next start removes only it, job in done/ intact, lookalikes kept, 1 submit")
}

// ---- class 5: scandrop state that arrives with a drop ----

// TestHostileArrivedState: drops that carry a .scandrop/ (copied from a
// finished, a failed or a running job, torn, a symlink, a file) or a
// result.json each run as a new job that uploads its own images and gets
// its own VR link; what arrived is kept aside, untouched. A job moved back
// from failed/ by rename is, by contrast, a retry of the same job.
func TestHostileArrivedState(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}})
	r.start()
	orig := hostileDrop(t, "orig", 100)
	r.drop("orig", orig)
	origRes := r.mustOwnJob(t, "orig", orig, "")
	origDir := r.path("done", "orig")
	origJournal, _ := os.ReadFile(filepath.Join(origDir, ".scandrop", "job.json"))
	origRec := readRecord(t, origDir)
	origResult, _ := os.ReadFile(filepath.Join(origDir, "result.json"))

	journal := func(edit func(rec *pipeline.Record)) []byte {
		rec := readRecord(t, origDir)
		edit(&rec)
		b, _ := json.MarshalIndent(rec, "", "  ")
		return b
	}
	cases := []struct {
		name, what string
		state      map[string][]byte // added to the drop
		extra      func(dir string)
		arrivedRes bool // a result.json arrived and must be kept aside
	}{
		{name: "from-done", what: ".scandrop and result.json copied from a finished job",
			state: map[string][]byte{".scandrop/job.json": origJournal, "result.json": origResult}, arrivedRes: true},
		{name: "from-failed-timeout", what: "a journal of a job that timed out, with its task ids",
			state: map[string][]byte{".scandrop/job.json": journal(func(rec *pipeline.Record) {
				rec.Result = &pipeline.Result{Status: "failed", Folder: "orig", VendorIDs: origRec.IDs,
					Error: &pipeline.ResultError{Stage: "wait", Kind: "timeout", Message: "timed out", Retryable: true}}
			})}},
		{name: "polling-foreign", what: "a journal at stage wait polling another project's task",
			state: map[string][]byte{".scandrop/job.json": journal(func(rec *pipeline.Record) {
				rec.Result, rec.Stage, rec.WaitSince = nil, "wait", time.Now().UTC()
			})}},
		{name: "half-journal", what: "half a journal",
			state: map[string][]byte{".scandrop/job.json": origJournal[:len(origJournal)/2]}},
		{name: "symlinked-state", what: ".scandrop a symlink to a finished job's",
			extra: func(dir string) { os.Symlink(filepath.Join(origDir, ".scandrop"), filepath.Join(dir, ".scandrop")) }},
		{name: "state-is-a-file", what: ".scandrop a file",
			state: map[string][]byte{".scandrop": origJournal}},
		{name: "processing-copy", what: "a whole job folder with journal, owner and result.json copied from another machine",
			state: map[string][]byte{".scandrop/job.json": journal(func(rec *pipeline.Record) {
				rec.Result, rec.Stage = nil, "wait"
			}), ".scandrop/owner": []byte(`{"host":"other-machine","pid":1,"heartbeat":"2020-01-01T00:00:00Z"}`), "result.json": origResult},
			arrivedRes: true},
		{name: "result-only", what: "a result.json claiming success",
			state: map[string][]byte{"result.json": origResult}, arrivedRes: true},
	}
	for i, c := range cases {
		files := hostileDrop(t, c.name, 200+10*i)
		all := map[string][]byte{}
		for k, v := range files {
			all[k] = v
		}
		for k, v := range c.state {
			all[k] = v
		}
		r.dropWith(c.name, all, c.extra)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := hostileDrop(t, c.name, 200+10*i)
			res := r.mustOwnJob(t, c.name, files, origRes.VRURL)
			if res.VendorIDs["task_code"] == origRes.VendorIDs["task_code"] {
				t.Errorf("polled the other project's task %s", origRes.VendorIDs["task_code"])
			}
			dir := r.path("done", c.name)
			rec := readRecord(t, dir)
			if rec.Claim == nil || rec.Attempt != 1 {
				t.Errorf("the journal is not a fresh one of this folder: claim %+v attempt %d", rec.Claim, rec.Attempt)
			}
			hasState := c.state[".scandrop/job.json"] != nil || c.state[".scandrop"] != nil || c.extra != nil
			if kept := globOne(dir, ".scandrop-arrived-*"); hasState && len(kept) != 1 {
				t.Errorf("the .scandrop that arrived was not kept aside: %v", kept)
			} else if hasState {
				if want := c.state[".scandrop/job.json"]; want != nil {
					if b, _ := os.ReadFile(filepath.Join(kept[0], "job.json")); !bytes.Equal(b, want) {
						t.Error("the journal kept aside is not the one that arrived")
					}
				}
			}
			if kept := globOne(dir, "result.arrived-*.json"); c.arrivedRes {
				if len(kept) != 1 {
					t.Errorf("the result.json that arrived was not kept aside: %v", kept)
				} else if b, _ := os.ReadFile(kept[0]); !bytes.Equal(b, origResult) {
					t.Error("the result.json kept aside is not the one that arrived")
				}
			}
			if !strings.Contains(r.logText(), `"folder":"`+c.name+`"`) || !strings.Contains(r.logText(), "kept aside, not used") {
				t.Error("the log does not say the arrived state was set aside")
			}
			report(t, "class 5: %s (%s): fresh job, own images uploaded, own VR link, arrived state kept aside", c.name, c.what)
		})
	}
	// The finished job the symlink pointed at is untouched.
	if b, _ := os.ReadFile(filepath.Join(origDir, ".scandrop", "job.json")); !bytes.Equal(b, origJournal) {
		t.Error("the finished job's journal, named by a symlink in a drop, changed")
	}
	if e := globOne(origDir, ".scandrop-arrived-*"); len(e) != 0 {
		t.Errorf("the finished job gained %v", e)
	}

	// A job moved back from failed/ by rename is the same job: a retry.
	files := hostileDrop(t, "moved-back", 900)
	broken := map[string][]byte{"manifest.json": files["manifest.json"], "images/a.jpg": files["images/a.jpg"]}
	r.drop("moved-back", broken)
	res, where := r.waitResult("moved-back", 60*time.Second)
	if where != "failed" || res.Error == nil || res.Error.Kind != "invalid" {
		t.Fatalf("the broken drop landed in %s: %+v", where, res)
	}
	os.WriteFile(r.path("failed", "moved-back", "images", "b.jpg"), files["images/b.jpg"], 0o644)
	if err := os.Rename(r.path("failed", "moved-back"), r.path("inbox", "moved-back")); err != nil {
		t.Fatal(err)
	}
	r.mustOwnJob(t, "moved-back", files, origRes.VRURL)
	rec := readRecord(t, r.path("done", "moved-back"))
	if rec.Attempt != 2 || len(globOne(r.path("done", "moved-back"), ".scandrop-arrived-*")) != 0 {
		t.Errorf("a job moved back from failed/ was not retried as itself: attempt %d, arrived %v", rec.Attempt, globOne(r.path("done", "moved-back"), ".scandrop-arrived-*"))
	}
	report(t, "class 5 (control): a job moved back from failed/ by rename keeps its journal: attempt 2, nothing set aside")
}

// ---- poison drops ----

// TestHostilePoisonQuarantine: the daemon dies at the same point of one
// job every start (crash_limit 3). The fourth start — a clean one, that
// could finish the job — quarantines it in failed/ as kind crash naming
// the stage; a second drop then finishes. Moved back to inbox/, the job
// checks the same task again rather than submitting another.
func TestHostilePoisonQuarantine(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}})
	r.gw.HoldTasks(true)
	files := hostileDrop(t, "poison", 300)
	for i := 1; i <= 3; i++ {
		d := r.start("SCANDROP_TEST_CRASH=polled")
		if i == 1 {
			r.drop("poison", files)
		}
		d.waitExit(t, 60*time.Second)
		if e := r.entries("processing"); !slices.Equal(e, []string{"poison"}) {
			t.Fatalf("after crash %d processing/ holds %v", i, e)
		}
	}
	r.gw.HoldTasks(false) // a run that got through would now succeed
	r.start()
	res, where := r.waitResult("poison", 60*time.Second)
	if where != "failed" || res.Error == nil || res.Error.Kind != "crash" || res.Error.Stage != "wait" ||
		!strings.Contains(res.Error.Message, "3 times") || !res.Error.Retryable || res.Error.Fix == "" {
		t.Fatalf("poison landed in %s: %+v", where, res.Error)
	}
	if res.VendorIDs["task_code"] == "" {
		t.Error("the quarantined job's task ids are not in result.json")
	}
	good := hostileDrop(t, "good", 310)
	r.drop("good", good)
	r.mustOwnJob(t, "good", good, "")
	report(t, "poison: daemon killed at 'polled' 3 times: 4th start quarantines the job in failed/ (kind crash, stage wait, task ids kept); another drop finishes")

	// Moved back, the job polls the task it has (no second submit).
	if err := os.Rename(r.path("failed", "poison"), r.path("inbox", "poison")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "poison in done/", 60*time.Second, func() bool {
		_, err := os.Stat(r.path("done", "poison", "result.json"))
		return err == nil
	})
	if n := len(r.submitsOf("poison")); n != 1 {
		t.Errorf("%d submits for the job moved back from quarantine, want 1", n)
	}
	report(t, "poison: quarantined job moved back to inbox/: same task checked again, done, 1 submit")
}

// TestHostilePoisonProgressResets: with crash_limit 2, a job the daemon
// dies on twice at different stages (just after the submit, then while
// waiting) — getting further each time — is not
// quarantined: a third, clean start finishes it. With crash_limit 1 a
// single death at the same stage is enough.
func TestHostilePoisonProgressResets(t *testing.T) {
	t.Run("progress", func(t *testing.T) {
		r := newRig(t, rigOptions{realsee: &realseetest.Options{}, extraConfig: "crash_limit: 2\n"})
		files := hostileDrop(t, "progress", 400)
		d := r.start("SCANDROP_TEST_CRASH=submitted")
		r.drop("progress", files)
		d.waitExit(t, 60*time.Second)
		r.gw.HoldTasks(true)
		r.start("SCANDROP_TEST_CRASH=polled").waitExit(t, 60*time.Second)
		r.gw.HoldTasks(false)
		r.start()
		r.mustOwnJob(t, "progress", files, "")
		report(t, "poison: crash_limit 2, deaths at submit then at wait (progress between): not quarantined, finishes")
	})
	t.Run("clean-stops", func(t *testing.T) {
		// Stopping the daemon (SIGTERM) is no crash: with crash_limit 1,
		// three clean stops while the job waits do not quarantine it.
		r := newRig(t, rigOptions{realsee: &realseetest.Options{}, extraConfig: "crash_limit: 1\n"})
		r.gw.HoldTasks(true)
		files := hostileDrop(t, "stopped", 420)
		for i := 0; i < 3; i++ {
			d := r.start()
			if i == 0 {
				r.drop("stopped", files)
			}
			eventually(t, "the job waiting", 60*time.Second, func() bool {
				b, err := os.ReadFile(r.path("processing", "stopped", ".scandrop", "job.json"))
				var rec pipeline.Record
				return err == nil && json.Unmarshal(b, &rec) == nil && rec.Stage == "wait" && rec.Tries == 1 &&
					strings.Count(d.log.String(), `"msg":"vendor status"`) > 0
			})
			d.stop()
		}
		r.gw.HoldTasks(false)
		r.start()
		r.mustOwnJob(t, "stopped", files, "")
		report(t, "poison: crash_limit 1, three SIGTERM stops while the job waits: not counted as crashes, finishes")
	})
	t.Run("limit-1", func(t *testing.T) {
		r := newRig(t, rigOptions{realsee: &realseetest.Options{}, extraConfig: "crash_limit: 1\n"})
		files := hostileDrop(t, "limit1", 410)
		d := r.start("SCANDROP_TEST_CRASH=packaged")
		r.drop("limit1", files)
		d.waitExit(t, 60*time.Second)
		r.start("SCANDROP_TEST_CRASH=packaged")
		res, where := r.waitResult("limit1", 60*time.Second)
		if where != "failed" || res.Error == nil || res.Error.Kind != "crash" || res.Error.Stage != "package" {
			t.Fatalf("landed in %s: %+v", where, res.Error)
		}
		if n := len(r.submitsOf("limit1")); n != 0 {
			t.Errorf("%d submits", n)
		}
		report(t, "poison: crash_limit 1, one death at 'packaged': next start quarantines it (kind crash, stage package), nothing submitted")
	})
}

// TestHostileCrashLimitConfig: crash_limit below 1 or not a number is a
// configuration error that names the key.
func TestHostileCrashLimitConfig(t *testing.T) {
	for v, want := range map[string]string{
		"0":     "crash_limit: must be at least 1 (got 0)",
		"-1":    "crash_limit: must be at least 1 (got -1)",
		"three": `crash_limit: "three" is not a whole number`,
	} {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "config.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("watches:\n  - dir: %s\ncrash_limit: %s\n", filepath.Join(dir, "w"), v)), 0o644)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, binPath, "run", "--config", cfg).CombinedOutput()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), want) {
			t.Errorf("crash_limit: %s: exit %v, output %q; want exit 2 saying %q", v, err, out, want)
		}
	}
	report(t, "poison: crash_limit 0, -1, three: configuration errors naming the key and the rule (exit 2)")
}

// TestHostileArrivedStateAholo: the same for Aholo drops, whose journal
// holds upload tasks and a project id: a journal copied from a finished
// project, or one polling it, makes a new project from the drop's own
// photos.
func TestHostileArrivedStateAholo(t *testing.T) {
	r := newRig(t, rigOptions{aholo: &aholotest.Options{}})
	r.start()
	photos := func(seed int) map[string][]byte {
		files := map[string][]byte{"recon.yaml": []byte("scene: model\n")}
		for i := 0; i < 2; i++ {
			files[fmt.Sprintf("photos/%03d.jpg", i)] = smallJPEG(t, 64, 48, seed+i)
		}
		return files
	}
	size := func(files map[string][]byte) (n int64) {
		for k, v := range files {
			if strings.HasPrefix(k, "photos/") {
				n += int64(len(v))
			}
		}
		return n
	}
	orig := photos(500)
	r.drop("orig", orig)
	origRes, where := r.waitResult("orig", 60*time.Second)
	if where != "done" || !origRes.Success() {
		t.Fatalf("orig landed in %s: %+v", where, origRes.Error)
	}
	origDir := r.path("done", "orig")
	origJournal, _ := os.ReadFile(filepath.Join(origDir, ".scandrop", "job.json"))
	var polling pipeline.Record
	json.Unmarshal(origJournal, &polling)
	polling.Result, polling.Stage = nil, "wait"
	pollingJournal, _ := json.Marshal(polling)

	for i, c := range []struct {
		name, what string
		journal    []byte
	}{
		{"aholo-from-done", "a finished project's journal", origJournal},
		{"aholo-polling-foreign", "a journal polling another project", pollingJournal},
	} {
		before, bytesBefore := r.ah.Creates(), r.ah.BytesReceived()
		files := photos(600 + 10*i)
		all := map[string][]byte{".scandrop/job.json": c.journal}
		for k, v := range files {
			all[k] = v
		}
		r.drop(c.name, all)
		res, where := r.waitResult(c.name, 60*time.Second)
		if where != "done" || !res.Success() {
			t.Fatalf("%s landed in %s: %+v", c.name, where, res.Error)
		}
		if res.VendorIDs["project_id"] == "" || res.VendorIDs["project_id"] == origRes.VendorIDs["project_id"] {
			t.Errorf("%s: project %q is not its own (the other is %q)", c.name, res.VendorIDs["project_id"], origRes.VendorIDs["project_id"])
		}
		if fmt.Sprint(res.Assets) == fmt.Sprint(origRes.Assets) {
			t.Errorf("%s: the assets are the other project's", c.name)
		}
		if got := r.ah.Creates() - before; got != 1 {
			t.Errorf("%s: %d projects created, want 1", c.name, got)
		}
		if got := r.ah.BytesReceived() - bytesBefore; got < size(files) {
			t.Errorf("%s: %d bytes uploaded, less than its %d bytes of photos", c.name, got, size(files))
		}
		if kept := globOne(r.path("done", c.name), ".scandrop-arrived-*"); len(kept) != 1 {
			t.Errorf("%s: the arrived journal was not kept aside: %v", c.name, kept)
		}
		report(t, "class 5: aholo drop with %s: new project from its own photos, journal kept aside", c.what)
	}
}

// forgedClaim is what a drop can learn about its own folder and write into
// a journal: its device, inode and birth time (statx), as the red team's
// forge.py did with stat.
func forgedClaim(t testing.TB, dir string) *pipeline.Claim {
	t.Helper()
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, 0, unix.STATX_INO|unix.STATX_BTIME, &st); err != nil {
		t.Fatal(err)
	}
	c := &pipeline.Claim{ID: "0123456789abcdef", At: time.Now().UTC(), Dev: unix.Mkdev(st.Dev_major, st.Dev_minor), Ino: st.Ino}
	if st.Mask&unix.STATX_BTIME != 0 {
		c.Btime = st.Btime.Sec*1e9 + int64(st.Btime.Nsec)
	}
	if c.Dev != devOf(t, dir) {
		t.Fatalf("statx device %d, stat device %d", c.Dev, devOf(t, dir))
	}
	return c
}

// writeForged writes rec, its claim naming dir itself, as dir's journal.
func writeForged(t testing.TB, dir string, rec pipeline.Record) {
	t.Helper()
	rec.Claim = forgedClaim(t, dir)
	b, _ := json.MarshalIndent(rec, "", "  ")
	os.MkdirAll(filepath.Join(dir, ".scandrop"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, ".scandrop", "job.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHostileArrivedForgedClaim: the red team's D1. A drop stats its own
// folder and writes a journal whose claim names it (device, inode, even
// birth time): at stage wait polling another project's task, finished with
// a success result and a phishing link, signed with a made-up MAC, or a
// genuine journal of another job re-targeted at this folder (its MAC then
// no longer verifies). None is this installation's: each is set aside, the
// job submits itself afresh with its own images and gets its own link.
// The controls, a job of this installation moved back from failed/ keeping
// its task, are TestE2ETimeoutThenRetry and TestHostilePoisonQuarantine.
func TestHostileArrivedForgedClaim(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}})
	r.start()
	orig := hostileDrop(t, "victim", 300)
	r.drop("victim", orig)
	victim := r.mustOwnJob(t, "victim", orig, "")
	victimRec := readRecord(t, r.path("done", "victim"))
	now := time.Now().UTC()
	waiting := func(ids map[string]string) pipeline.Record {
		return pipeline.Record{Version: 1, Vendor: "realsee", Attempt: 1, StartedAt: now, Stage: "wait", StageAt: now,
			Submit: "created", SubmittedAt: now, WaitSince: now, IDs: ids}
	}
	cases := []struct {
		name, what string
		forge      func(dir string)
	}{
		{"forged-wait-victim", "stage wait polling the victim's task", func(dir string) {
			writeForged(t, dir, waiting(victimRec.IDs))
		}},
		{"forged-wait-other", "stage wait polling an unknown tenant's task", func(dir string) {
			writeForged(t, dir, waiting(map[string]string{"task_code": "OTHER-TENANT", "project_id": "pano-x"}))
		}},
		{"forged-done", "finished, with a success result and a phishing link", func(dir string) {
			rec := waiting(map[string]string{"task_code": "EVIL"})
			rec.Stage = "done"
			rec.Result = &pipeline.Result{Status: "success", Vendor: "realsee", VRURL: "https://evil.example/phish", VendorIDs: rec.IDs}
			writeForged(t, dir, rec)
		}},
		{"forged-mac", "stage wait with a made-up MAC", func(dir string) {
			rec := waiting(victimRec.IDs)
			rec.MAC = strings.Repeat("ab", 32)
			writeForged(t, dir, rec)
		}},
		{"retargeted-genuine", "the victim's genuine signed journal, its claim changed to this folder", func(dir string) {
			rec := readRecord(t, r.path("done", "victim"))
			rec.Result, rec.Stage = nil, "wait"
			writeForged(t, dir, rec)
		}},
	}
	for i, c := range cases {
		r.dropWith(c.name, hostileDrop(t, c.name, 400+10*i), c.forge)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := hostileDrop(t, c.name, 400+10*i)
			res := r.mustOwnJob(t, c.name, files, victim.VRURL)
			if tc := res.VendorIDs["task_code"]; tc == victim.VendorIDs["task_code"] || tc == "OTHER-TENANT" || tc == "EVIL" {
				t.Errorf("the result names the forged task %s", tc)
			}
			if res.VRURL == "https://evil.example/phish" {
				t.Error("the forged result's link was kept")
			}
			dir := r.path("done", c.name)
			if kept := globOne(dir, ".scandrop-arrived-*"); len(kept) != 1 {
				t.Errorf("the forged journal was not kept aside: %v", kept)
			}
			if rec := readRecord(t, dir); rec.Attempt != 1 || rec.Claim == nil || rec.Claim.ID == "0123456789abcdef" || rec.MAC == "" {
				t.Errorf("the journal is not a fresh signed one of this folder: attempt %d claim %+v mac %q", rec.Attempt, rec.Claim, rec.MAC)
			}
			report(t, "class 5: forged claim (%s): set aside, own submit, own images, own link", c.what)
		})
	}
	if strings.Contains(r.logText(), `"msg":"resuming job"`) {
		t.Error("a forged journal was resumed")
	}
}

// TestHostileArrivedForgedClaimAholo: the red team's Aholo forges, claim
// naming the folder itself: stage wait on another project's id (which
// would download that project's assets into the drop), and upload records
// whose URLs point at another tenant's files (create-3d-recon would be
// sent with them, the drop's own photos never uploaded). Both are set
// aside: one new project from the drop's own photos.
func TestHostileArrivedForgedClaimAholo(t *testing.T) {
	r := newRig(t, rigOptions{aholo: &aholotest.Options{}, extraConfig: "  download_assets: true\n"})
	r.start()
	photos := func(seed int) map[string][]byte {
		files := map[string][]byte{"recon.yaml": []byte("scene: model\n")}
		for i := 0; i < 2; i++ {
			files[fmt.Sprintf("photos/%03d.jpg", i)] = smallJPEG(t, 64, 48, seed+i)
		}
		return files
	}
	victim := photos(800)
	r.drop("victim", victim)
	victimRes, where := r.waitResult("victim", 60*time.Second)
	if where != "done" || !victimRes.Success() {
		t.Fatalf("victim landed in %s: %+v", where, victimRes.Error)
	}
	now := time.Now().UTC()
	for i, c := range []struct {
		name, what string
		rec        func(files map[string][]byte) pipeline.Record
	}{
		{"aholo-forged-project", "stage wait on the victim's project", func(map[string][]byte) pipeline.Record {
			return pipeline.Record{Version: 1, Vendor: "aholo", Attempt: 1, StartedAt: now, Stage: "wait", StageAt: now,
				Submit: "created", SubmittedAt: now, WaitSince: now, IDs: victimRes.VendorIDs}
		}},
		{"aholo-forged-urls", "upload records with another tenant's URLs", func(files map[string][]byte) pipeline.Record {
			ups := map[string]any{}
			for name, b := range files {
				if strings.HasPrefix(name, "photos/") {
					sum := md5.Sum(b)
					ups[name] = map[string]any{"md5": hex.EncodeToString(sum[:]), "size": len(b), "url": "https://other-tenant.example/private/" + name}
				}
			}
			raw, _ := json.Marshal(ups)
			return pipeline.Record{Version: 1, Vendor: "aholo", Attempt: 1, StartedAt: now, Stage: "upload", StageAt: now,
				VendorState: map[string]json.RawMessage{"aholo.uploads": raw}}
		}},
	} {
		before, bytesBefore := r.ah.Creates(), r.ah.BytesReceived()
		files := photos(900 + 10*i)
		r.dropWith(c.name, files, func(dir string) { writeForged(t, dir, c.rec(files)) })
		res, where := r.waitResult(c.name, 60*time.Second)
		if where != "done" || !res.Success() {
			t.Fatalf("%s landed in %s: %+v", c.name, where, res.Error)
		}
		if res.VendorIDs["project_id"] == "" || res.VendorIDs["project_id"] == victimRes.VendorIDs["project_id"] {
			t.Errorf("%s: project %q is not its own (the victim's is %q)", c.name, res.VendorIDs["project_id"], victimRes.VendorIDs["project_id"])
		}
		if fmt.Sprint(res.Assets) == fmt.Sprint(victimRes.Assets) {
			t.Errorf("%s: the assets are the victim's", c.name)
		}
		if got := r.ah.Creates() - before; got != 1 {
			t.Errorf("%s: %d projects created, want 1", c.name, got)
		}
		var n int64
		for k, v := range files {
			if strings.HasPrefix(k, "photos/") {
				n += int64(len(v))
			}
		}
		if got := r.ah.BytesReceived() - bytesBefore; got < n {
			t.Errorf("%s: %d bytes uploaded, less than its %d bytes of photos", c.name, got, n)
		}
		dir := r.path("done", c.name)
		if kept := globOne(dir, ".scandrop-arrived-*"); len(kept) != 1 {
			t.Errorf("%s: the forged journal was not kept aside: %v", c.name, kept)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, ".scandrop", "job.json")); bytes.Contains(b, []byte("other-tenant.example")) {
			t.Errorf("%s: the journal still holds the forged URLs", c.name)
		}
		report(t, "class 5: aholo forged claim (%s): set aside, new project from its own photos", c.what)
	}
}

// TestHostileArrivedMovedBackAholo is the control of the Aholo forges: an
// Aholo job of this installation that timed out, moved back from failed/
// to inbox/, keeps its signed journal and checks its own project again
// (no second create, no second upload).
func TestHostileArrivedMovedBackAholo(t *testing.T) {
	r := newRig(t, rigOptions{aholo: &aholotest.Options{}, aholoTimeout: 1500 * time.Millisecond})
	r.ah.HoldTasks(true)
	r.start()
	files := map[string][]byte{"recon.yaml": []byte("scene: model\n")}
	for i := 0; i < 2; i++ {
		files[fmt.Sprintf("photos/%03d.jpg", i)] = smallJPEG(t, 64, 48, 1000+i)
	}
	r.drop("slow", files)
	res, where := r.waitResult("slow", 60*time.Second)
	if where != "failed" || res.Error == nil || res.Error.Kind != "timeout" || res.VendorIDs["project_id"] == "" {
		t.Fatalf("landed in %s: %+v %+v", where, res.Error, res.VendorIDs)
	}
	project, bytesBefore := res.VendorIDs["project_id"], r.ah.BytesReceived()
	r.ah.HoldTasks(false)
	if err := os.Rename(r.path("failed", "slow"), r.path("inbox", "slow")); err != nil {
		t.Fatal(err)
	}
	res, where = r.waitResult("slow", 60*time.Second)
	if where != "done" || !res.Success() || res.VendorIDs["project_id"] != project {
		t.Fatalf("moved back: landed in %s: %+v %+v, want project %s", where, res.Error, res.VendorIDs, project)
	}
	if n := r.ah.Creates(); n != 1 {
		t.Errorf("%d projects created, want 1: the retry must check the project it has", n)
	}
	if got := r.ah.BytesReceived() - bytesBefore; got != 0 {
		t.Errorf("%d bytes uploaded again", got)
	}
	if kept := globOne(r.path("done", "slow"), ".scandrop-arrived-*"); len(kept) != 0 {
		t.Errorf("its own journal was set aside: %v", kept)
	}
	report(t, "class 5 (control): an Aholo job moved back from failed/ keeps its signed journal and its project")
}
