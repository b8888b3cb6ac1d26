package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
)

// The share's owner in these tests: neither root nor the image's 1000.
const shareUID, shareGID = 1234, 1234

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: files are given to another user (chown)")
	}
}

// dropAs builds a drop folder owned by uid:gid beside inbox/ and renames it
// in, as a NAS user's copy would arrive.
func (r *rig) dropAs(name string, files map[string][]byte, uid, gid int) {
	r.t.Helper()
	tmp := filepath.Join(r.watchDir, ".staging-"+name)
	writeTree(r.t, tmp, files)
	chownTree(r.t, tmp, uid, gid)
	os.MkdirAll(r.path("inbox"), 0o755)
	os.Chown(r.path("inbox"), uid, gid)
	if err := os.Rename(tmp, r.path("inbox", name)); err != nil {
		r.t.Fatal(err)
	}
}

func chownTree(t *testing.T, root string, uid, gid int) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// wantOwned checks path's owner, group and, unless perm is 0, mode.
func wantOwned(t *testing.T, path string, uid, gid int, perm fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Error(err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid || (perm != 0 && fi.Mode().Perm() != perm) {
		t.Errorf("%s: %d:%d %s, want %d:%d %s", path, st.Uid, st.Gid, fi.Mode().Perm(), uid, gid, perm)
	}
}

// checkShareOwned runs an Aholo drop with asset downloads, owned by the
// share's user, through the daemon (started with env) and checks that
// everything scandrop wrote belongs to that user, with the modes umask 027
// gives: result.json, the assets, the job state, done/ and processing/.
func checkShareOwned(t *testing.T, r *rig, env ...string) *daemonProc {
	t.Helper()
	os.Chown(r.watchDir, shareUID, shareGID)
	d := r.start(append(env, "UMASK=027")...)
	files := aholoFiles(t, 2, 0)
	files["recon.yaml"] = []byte("scene: model\ndownload_assets: true\n")
	r.dropAs("owned", files, shareUID, shareGID)
	res, where := r.waitResult("owned", 90*time.Second)
	if where != "done" || !res.Success() {
		t.Fatalf("landed in %s: %+v\n%s", where, res.Error, r.logText())
	}
	// result.json shows in done/ at the rename; the owners are fixed just after.
	eventually(t, "the move logged", 30*time.Second, func() bool { return strings.Contains(r.logText(), `"msg":"moved"`) })
	job := r.path("done", "owned")
	wantOwned(t, r.path("done"), shareUID, shareGID, 0o750)
	wantOwned(t, r.path("processing"), shareUID, shareGID, 0o750)
	wantOwned(t, job, shareUID, shareGID, 0)
	wantOwned(t, filepath.Join(job, "result.json"), shareUID, shareGID, 0o640)
	wantOwned(t, filepath.Join(job, "assets"), shareUID, shareGID, 0o750)
	assets, _ := os.ReadDir(filepath.Join(job, "assets"))
	if len(assets) < 2 {
		t.Errorf("assets/: %d files, want ply and spz", len(assets))
	}
	for _, a := range assets {
		wantOwned(t, filepath.Join(job, "assets", a.Name()), shareUID, shareGID, 0o640)
	}
	// Nothing in the moved folder is left to root: the share's user can
	// move or delete all of it.
	filepath.WalkDir(job, func(p string, de fs.DirEntry, err error) error {
		if err == nil {
			wantOwned(t, p, shareUID, shareGID, 0)
		}
		return nil
	})
	// The drop's own files keep their mode: scandrop adopts only its own.
	wantOwned(t, filepath.Join(job, "photos", "000.jpg"), shareUID, shareGID, 0o644)
	return d
}

// scandrop running as root (a .deb's unit changed to User=root, a
// container started as root without PUID) still leaves the share's files
// to the share's user.
func TestShareOwnerKeptAsRoot(t *testing.T) {
	needRoot(t)
	r := newRig(t, rigOptions{aholo: &aholotest.Options{}})
	checkShareOwned(t, r)
}

// In the container convention, root with PUID/PGID/UMASK drops to that user
// (all of its ids, no other groups) before it does anything, and what it
// writes is that user's.
func TestContainerPUID(t *testing.T) {
	needRoot(t)
	r := newRig(t, rigOptions{aholo: &aholotest.Options{}})
	// The daemon, no longer root, must reach its config, secret and TMPDIR.
	os.Chmod(r.root, 0o755)
	os.Chmod(filepath.Dir(r.root), 0o755)
	os.Chown(r.tmpDir, shareUID, shareGID)
	os.Chown(filepath.Join(r.root, "aholo.secret"), shareUID, shareGID)
	d := checkShareOwned(t, r, "PUID=1234", "PGID=1234")
	status, err := os.ReadFile("/proc/" + strconv.Itoa(d.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Uid": "1234 1234 1234 1234", "Gid": "1234 1234 1234 1234", "Groups": "1234", "Umask": "0027"}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		if w, ok := want[k]; ok {
			if got := strings.Join(strings.Fields(v), " "); got != w {
				t.Errorf("/proc/PID/status %s: %q, want %q", k, got, w)
			}
			delete(want, k)
		}
	}
	if len(want) > 0 {
		t.Errorf("/proc/PID/status lacks %v", want)
	}
}

// Not root, PUID cannot be honoured: scandrop says how to start it rather
// than run as the wrong user. As that user already, PUID is fine.
func TestContainerPUIDNotRoot(t *testing.T) {
	needRoot(t) // to start scandrop as another user
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	bin := filepath.Join(dir, "scandrop")
	copyFile(t, binPath, bin)
	os.Chmod(bin, 0o755)
	runAs := func(env ...string) (string, int) {
		cmd := exec.Command(bin, "version")
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 1000, Gid: 1000}}
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	out, code := runAs("PUID=1234", "PGID=1234")
	if code != exitUsage || !strings.Contains(out, `user: "0:0"`) || !strings.Contains(out, "PUID=1234") {
		t.Errorf("as 1000 with PUID=1234: exit %d, %q; want exit 2 saying to start as root", code, out)
	}
	if out, code := runAs("PUID=1000", "PGID=1000", "UMASK=002"); code != 0 || !strings.HasPrefix(out, "scandrop ") {
		t.Errorf("as 1000 with PUID=1000: exit %d, %q", code, out)
	}
	if out, code := runAs("UMASK=8"); code != exitUsage || !strings.Contains(out, "UMASK") {
		t.Errorf("UMASK=8: exit %d, %q", code, out)
	}
}

func TestContainerIDs(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, c := range []struct {
		env             []string
		uid, gid, umask int
		ok, err         bool
	}{
		{env: nil, umask: -1},
		{env: []string{"UMASK", "002"}, umask: 0o2},
		{env: []string{"UMASK", "0022"}, umask: 0o22},
		{env: []string{"PUID", "1026", "PGID", "100"}, uid: 1026, gid: 100, umask: -1, ok: true},
		{env: []string{"PUID", "99"}, uid: 99, gid: 99, umask: -1, ok: true},
		{env: []string{"PGID", "100"}, err: true},
		{env: []string{"PUID", "abc"}, err: true},
		{env: []string{"PUID", "-1"}, err: true},
		{env: []string{"PUID", "4294967296"}, err: true},
		{env: []string{"UMASK", "1000"}, err: true},
		{env: []string{"UMASK", "u=rwx"}, err: true},
	} {
		uid, gid, umask, ok, err := containerIDs(env(c.env...))
		if (err != nil) != c.err || (!c.err && (uid != c.uid || gid != c.gid || umask != c.umask || ok != c.ok)) {
			t.Errorf("%v: %d %d %o %v %v, want %d %d %o %v err=%v", c.env, uid, gid, umask, ok, err, c.uid, c.gid, c.umask, c.ok, c.err)
		}
	}
}
