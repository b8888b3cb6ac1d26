//go:build linux

package main

// Half-written drops through the daemon binary: copiers that write the
// marker first and trickle the rest, files that grow in place, folders
// renamed into inbox/ half-way — on a local disk, through a Samba share, and
// on a FUSE mount watched in poll mode. None may be claimed before it has
// been unchanged for settle; each must be claimed within settle and one
// rescan after it stops changing.

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

const (
	hwSettle = time.Second
	hwPoll   = 500 * time.Millisecond
	// hwGap is the copiers' pause between writes: well under settle, as a
	// copier that is still working is.
	hwGap = 300 * time.Millisecond
	// hwSlack is what a loaded CI machine may add to "settle + one rescan".
	hwSlack = 1500 * time.Millisecond
	// smbSettle is the settle time over SMB: there each write is an
	// smbclient process and session, which on a loaded machine (the whole
	// suite under -race) takes a second or more on top of hwGap — a pause
	// the daemon rightly takes for a finished copy under hwSettle.
	smbSettle = 3 * time.Second
)

// writer performs the file operations of a copier: on the local disk, or
// through an SMB client. Writes return when the change was made: the ctime
// of what they changed, read on the server's side, which is the last moment
// the watcher could see anything change (an SMB client finishes its session
// well after the data is on disk).
type writer interface {
	mkdir(rel string)
	write(rel string, data []byte) time.Time // create or replace
	appendTo(rel string, data []byte) time.Time
	rename(from, to string) time.Time
}

// ctime is when path last changed, by the file system's clock.
func ctime(t *testing.T, path string) time.Time {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Errorf("stat %s: %v", path, err)
		return time.Now()
	}
	return time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
}

// localWriter writes under root directly.
type localWriter struct {
	t    *testing.T
	root string
}

func (w localWriter) p(rel string) string { return filepath.Join(w.root, filepath.FromSlash(rel)) }
func (w localWriter) mkdir(rel string) {
	if err := os.MkdirAll(w.p(rel), 0o755); err != nil {
		w.t.Error(err)
	}
}
func (w localWriter) write(rel string, data []byte) time.Time {
	if err := os.WriteFile(w.p(rel), data, 0o644); err != nil {
		w.t.Error(err)
	}
	return ctime(w.t, w.p(rel))
}
func (w localWriter) appendTo(rel string, data []byte) time.Time {
	f, err := os.OpenFile(w.p(rel), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		w.t.Error(err)
		return time.Now()
	}
	f.Write(data)
	f.Close()
	return ctime(w.t, w.p(rel))
}
func (w localWriter) rename(from, to string) time.Time {
	if err := os.Rename(w.p(from), w.p(to)); err != nil {
		w.t.Error(err)
	}
	return ctime(w.t, w.p(to))
}

// copier is one way of writing a drop slowly. It returns when the last
// change is made, and when that was.
type copier struct {
	name string
	run  func(w writer, name string, files map[string][]byte) time.Time
}

// sortedNames lists the files of a drop, images first and manifest last
// unless markerFirst.
func sortedNames(files map[string][]byte) []string {
	var names []string
	for n := range files {
		if n != "manifest.json" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

var copiers = []copier{
	{"marker-first-trickle", func(w writer, name string, files map[string][]byte) time.Time {
		w.mkdir(name + "/images")
		w.write(name+"/manifest.json", files["manifest.json"])
		var last time.Time
		for _, f := range sortedNames(files) {
			time.Sleep(hwGap)
			last = w.write(name+"/"+f, files[f])
		}
		return last
	}},
	{"growing-in-place", func(w writer, name string, files map[string][]byte) time.Time {
		w.mkdir(name + "/images")
		w.write(name+"/manifest.json", files["manifest.json"])
		names := sortedNames(files)
		for _, f := range names[1:] {
			w.write(name+"/"+f, files[f])
		}
		big := files[names[0]]
		const steps = 8
		var last time.Time
		for i := 0; i < steps; i++ {
			chunk := big[i*len(big)/steps : (i+1)*len(big)/steps]
			if i == 0 {
				last = w.write(name+"/"+names[0], chunk)
			} else {
				last = w.appendTo(name+"/"+names[0], chunk)
			}
			if i < steps-1 {
				time.Sleep(hwGap)
			}
		}
		return last
	}},
	{"renamed-in-half-way", func(w writer, name string, files map[string][]byte) time.Time {
		staging := "../staging-" + name
		w.mkdir(staging + "/images")
		w.write(staging+"/manifest.json", files["manifest.json"])
		names := sortedNames(files)
		half := len(names) / 2
		for _, f := range names[:half] {
			w.write(staging+"/"+f, files[f])
		}
		w.rename(staging, name)
		var last time.Time
		for _, f := range names[half:] {
			time.Sleep(hwGap)
			last = w.write(name+"/"+f, files[f])
		}
		return last
	}},
	{"preallocated-then-filled", func(w writer, name string, files map[string][]byte) time.Time {
		// Windows Explorer over SMB sets the final size first, then fills.
		w.mkdir(name + "/images")
		names := sortedNames(files)
		for _, f := range names {
			w.write(name+"/"+f, make([]byte, len(files[f])))
		}
		w.write(name+"/manifest.json", files["manifest.json"])
		var last time.Time
		for _, f := range names {
			time.Sleep(hwGap)
			last = w.write(name+"/"+f, files[f])
		}
		return last
	}},
}

// runCopiers runs every copier at once into inbox/ through w and checks
// when each folder was claimed. attrCache is how long the mount may show
// old attributes (FUSE's default attr_timeout is 1s): a change is seen that
// much later, so pickup may come that much later too (never earlier).
func runCopiers(t *testing.T, r *rig, w writer, label string, attrCache time.Duration) {
	files := realseeFiles(t, 4, 64<<10)
	type outcome struct {
		name string
		last time.Time
	}
	var (
		mu   sync.Mutex
		outs []outcome
		wg   sync.WaitGroup
	)
	for _, c := range copiers {
		name := label + "-" + c.name
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := c.run(w, name, files)
			mu.Lock()
			outs = append(outs, outcome{name, last})
			mu.Unlock()
		}()
	}
	wg.Wait()
	settle, poll := r.o.settle, r.o.pollInterval
	for _, o := range outs {
		res, where := r.waitResult(o.name, 30*time.Second)
		if where != "done" || !res.Success() {
			t.Errorf("%s: landed in %s: %+v", o.name, where, res.Error)
			continue
		}
		if err := sameTree(r.path("done", o.name), files); err != nil {
			t.Errorf("%s: not intact in done/: %v", o.name, err)
		}
		claimed := r.claimedAt(o.name)
		if claimed.IsZero() {
			t.Errorf("%s: no claim in the log", o.name)
			continue
		}
		after := claimed.Sub(o.last)
		switch {
		case after < settle-5*time.Millisecond:
			t.Errorf("%s: claimed %s after the last change: before settle (%s) was up — picked up early", o.name, after.Round(time.Millisecond), settle)
		case after > settle+poll+attrCache+hwSlack:
			t.Errorf("%s: claimed %s after the last change; want within settle + one rescan (%s + %s, + %s of attribute cache, plus %s of slack)",
				o.name, after.Round(time.Millisecond), settle, poll, attrCache, hwSlack)
		default:
			report(t, "%-40s claimed %4d ms after its last change (settle %d ms, rescan %d ms, attribute cache %d ms): not early, on time",
				o.name, after.Milliseconds(), settle.Milliseconds(), poll.Milliseconds(), attrCache.Milliseconds())
		}
	}
}

func TestReliabilityHalfWrittenLocal(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, settle: hwSettle, pollInterval: hwPoll})
	r.start()
	os.MkdirAll(r.path("inbox"), 0o755)
	runCopiers(t, r, localWriter{t: t, root: r.path("inbox")}, "local", 0)
}

// ---- Samba

// smbWriter writes through smbclient, one SMB session per operation, like
// a client on another host writing to the share.
type smbWriter struct {
	t       *testing.T
	port    int
	share   string // local path of the share, for renames from outside it
	scratch string
}

func (w smbWriter) client(cmd string) {
	out, err := exec.Command("smbclient", "-N", "-p", strconv.Itoa(w.port), "//127.0.0.1/inbox", "-c", cmd).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("NT_STATUS_")) {
		w.t.Errorf("smbclient %q: %v\n%s", cmd, err, out)
	}
}

func smbPath(rel string) string { return strings.ReplaceAll(rel, "/", `\`) }

func (w smbWriter) mkdir(rel string) {
	if strings.HasPrefix(rel, "../") {
		os.MkdirAll(filepath.Join(w.share, filepath.FromSlash(rel)), 0o755)
		return
	}
	// smbclient's mkdir makes one level.
	parts := strings.Split(rel, "/")
	for i := range parts {
		w.client("mkdir " + smbPath(strings.Join(parts[:i+1], "/")))
	}
}

func (w smbWriter) write(rel string, data []byte) time.Time {
	onServer := filepath.Join(w.share, filepath.FromSlash(rel))
	if strings.HasPrefix(rel, "../") { // staging outside the share
		os.WriteFile(onServer, data, 0o644)
		return ctime(w.t, onServer)
	}
	local := filepath.Join(w.scratch, strconv.Itoa(int(time.Now().UnixNano())))
	os.WriteFile(local, data, 0o644)
	defer os.Remove(local)
	w.client(fmt.Sprintf(`put "%s" "%s"`, local, smbPath(rel)))
	return ctime(w.t, onServer)
}

// appendTo rewrites the file over SMB with its grown content: smbclient
// has no append, and a rewrite changes the size just the same.
func (w smbWriter) appendTo(rel string, data []byte) time.Time {
	cur, _ := os.ReadFile(filepath.Join(w.share, filepath.FromSlash(rel)))
	return w.write(rel, append(cur, data...))
}

func (w smbWriter) rename(from, to string) time.Time {
	// The staging folder is outside the share: moved in on the server, as
	// a server-side move into the share would.
	dst := filepath.Join(w.share, filepath.FromSlash(to))
	if err := os.Rename(filepath.Join(w.share, filepath.FromSlash(from)), dst); err != nil {
		w.t.Error(err)
	}
	return ctime(w.t, dst)
}

// reportNAS appends "<test>: ran" or "<test>: SKIPPED: <why>" to the file
// $SCANDROP_NAS_REPORT when the test ends. `make test` prints that file, so
// that a CI log shows whether the NAS tests ran, which `go test` without -v
// does not say of a test that skipped.
func reportNAS(t *testing.T) {
	name := os.Getenv("SCANDROP_NAS_REPORT")
	if name == "" {
		return
	}
	t.Cleanup(func() {
		line := t.Name() + ": ran\n"
		if t.Skipped() {
			why, _ := nasSkipped.Load(t.Name())
			line = fmt.Sprintf("%s: SKIPPED: %v\n", t.Name(), why)
		}
		f, err := os.OpenFile(name, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Errorf("NAS report: %v", err)
			return
		}
		defer f.Close()
		f.WriteString(line)
	})
}

// nasSkipped holds why each NAS test skipped, by test name, for reportNAS.
var nasSkipped sync.Map

// nasSkip skips a NAS test, saying why.
func nasSkip(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	nasSkipped.Store(t.Name(), msg)
	t.Skip(msg)
}

// nasProgram finds a program a NAS test drives — on PATH or in the sbin
// folders, which not every PATH has — or skips the test naming it and the
// Debian package that ships it. `make test` installs them where it can
// (scripts/install-test-deps).
func nasProgram(t *testing.T, test, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	nasSkip(t, "%s test skipped: %s is not installed (run scripts/install-test-deps as root, or apt-get install %s)", test, name, pkg)
	return ""
}

// startSamba runs smbd on a loopback port with share as [inbox], or skips
// the test saying what is missing.
func startSamba(t *testing.T, share string) int {
	smbd := nasProgram(t, "Samba", "smbd", "samba")
	nasProgram(t, "Samba", "smbclient", "smbclient")
	if os.Geteuid() != 0 {
		nasSkip(t, "Samba test skipped: smbd needs root to serve a share as a forced user")
	}
	dir := t.TempDir()
	for _, d := range []string{"state", "lock", "private", "pid", "cache", "log", "state/ncalrpc"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := fmt.Sprintf(`[global]
  server role = standalone server
  smb ports = %d
  bind interfaces only = yes
  interfaces = lo
  lock directory = %[2]s/lock
  state directory = %[2]s/state
  cache directory = %[2]s/cache
  private dir = %[2]s/private
  pid directory = %[2]s/pid
  ncalrpc dir = %[2]s/state/ncalrpc
  log file = %[2]s/log/log.%%m
  map to guest = Bad User
  guest account = root
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  server min protocol = SMB2
[inbox]
  path = %[3]s
  read only = no
  guest ok = yes
  force user = root
`, port, dir, share)
	confPath := filepath.Join(dir, "smb.conf")
	os.WriteFile(confPath, []byte(conf), 0o644)
	cmd := exec.Command(smbd, "--foreground", "--no-process-group", "--debug-stdout", "-s", confPath)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		nasSkip(t, "Samba test skipped: cannot start smbd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) // smbd and the children it forked
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			nasSkip(t, "Samba test skipped: smbd exited at start:\n%s", out.String())
		default:
		}
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return port
		}
		if time.Now().After(deadline) {
			nasSkip(t, "Samba test skipped: smbd did not listen within 15s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestReliabilityHalfWrittenSMB(t *testing.T) {
	reportNAS(t)
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, settle: smbSettle, pollInterval: hwPoll})
	os.MkdirAll(r.path("inbox"), 0o755)
	port := startSamba(t, r.path("inbox"))
	w := smbWriter{t: t, port: port, share: r.path("inbox"), scratch: t.TempDir()}
	w.client("ls") // the share answers before the daemon starts
	r.start()
	runCopiers(t, r, w, "smb", 0)
}

// ---- FUSE

// mountBindfs mounts src on mnt with bindfs, or skips saying what is missing.
func mountBindfs(t *testing.T, src, mnt string) {
	bindfs := nasProgram(t, "FUSE", "bindfs", "bindfs")
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		nasSkip(t, "FUSE test skipped: /dev/fuse is not usable here: %v", err)
	}
	f.Close()
	unmount, err := exec.LookPath("fusermount3")
	if err != nil {
		if unmount, err = exec.LookPath("fusermount"); err != nil { // FUSE 2's name
			nasSkip(t, "FUSE test skipped: neither fusermount3 nor fusermount is installed (run scripts/install-test-deps as root, or apt-get install fuse3)")
		}
	}
	if out, err := exec.Command(bindfs, src, mnt).CombinedOutput(); err != nil {
		nasSkip(t, "FUSE test skipped: bindfs cannot mount here: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if exec.Command(unmount, "-u", mnt).Run() == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("cannot unmount %s", mnt)
	})
}

func TestReliabilityHalfWrittenFUSEPoll(t *testing.T) {
	reportNAS(t)
	base := t.TempDir()
	src, mnt := filepath.Join(base, "nas"), filepath.Join(base, "mnt")
	os.MkdirAll(filepath.Join(src, "inbox"), 0o755)
	os.MkdirAll(mnt, 0o755)
	mountBindfs(t, src, mnt)
	// The daemon watches the FUSE mount in poll mode; the copiers write to
	// the folder behind it, as another host writes to a NAS: no file event
	// ever reaches the daemon.
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, settle: hwSettle, pollInterval: hwPoll, mode: "poll", watchDir: mnt})
	r.start()
	runCopiers(t, r, localWriter{t: t, root: filepath.Join(src, "inbox")}, "fuse", time.Second)
}
