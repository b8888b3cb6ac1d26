//go:build linux

package main

// Reliability tests (issue 5): the real scandrop binary, real folders and
// real processes, against the vendor fakes — optionally behind
// internal/testkit/faultproxy — under half-written drops, kill -9 at every step,
// two daemons on one share, bad input, network faults, load, and for
// secrets and paths that must stay untouched.
//
// This file holds the rig they share; each reliability_*_test.go file is
// one scenario family. Every test logs its measurements as "RELIABILITY:"
// lines, so that `go test -run Reliability -v | grep RELIABILITY:` gives
// the numbers for README's Reliability section.
//
// Knobs (environment):
//
//	SCANDROP_RELIABILITY_CRASH_RUNS   runs of the crash matrix (default 3)
//	SCANDROP_RELIABILITY_LOAD_DROPS   drops in the load test (default 1000)
//	SCANDROP_RELIABILITY_RESCAN_DIRS  folders in the rescan-cost test (default 10000)

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/scandrop/scandrop/internal/testkit/faultproxy"
	"github.com/scandrop/scandrop/internal/testkit/minis3"
	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

const (
	relRealseeKey    = "rel-realsee-key"
	relRealseeSecret = "rel-realsee-secret-NEVER-LOGGED-7f3a"
	relAholoKey      = "rel-aholo-key"
	relAholoSecret   = "rel-aholo-secret-NEVER-LOGGED-91c2"
	relAholoUID      = "rel-uid-1"
)

// rigOptions configure a rig. Zero values are test-sized defaults.
type rigOptions struct {
	settle, pollInterval time.Duration // default 600ms, 200ms
	mode                 string        // default auto
	maxJobs              int           // default 4
	logLevel             string        // default debug
	watchDir             string        // default <root>/watch

	// Realsee: nil leaves the section out.
	realsee        *realseetest.Options
	realseePoll    time.Duration // default 100ms
	realseeTimeout time.Duration // default 1m
	partSize       string        // default 5MiB
	uploadConc     int           // default 3
	// gatewayProxy puts a faultproxy between the daemon and the gateway;
	// storeProxy runs a separate minis3 behind a faultproxy as the store
	// the gateway hands out (the fake then reads packages through it too).
	gatewayProxy, storeProxy bool

	// Aholo: nil leaves the section out.
	aholo        *aholotest.Options
	aholoPoll    time.Duration // default 100ms
	aholoTimeout time.Duration // default 1m
	aholoProxy   bool

	// extraConfig is appended to config.yaml as it is.
	extraConfig string
}

// rig is one watch root, the fakes, and the daemons run against them.
type rig struct {
	t        *testing.T
	o        rigOptions
	root     string
	watchDir string
	cfgPath  string
	tmpDir   string // TMPDIR of the daemons
	stateDir string // state_dir of the daemons: the claim key

	gw      *realseetest.Server
	gwProxy *faultproxy.Proxy
	store   *minis3.Server // the separate store, with storeProxy
	s3Proxy *faultproxy.Proxy
	ah      *aholotest.Server
	ahProxy *faultproxy.Proxy

	mu    sync.Mutex
	procs []*daemonProc
}

// daemonProc is one `scandrop run` process.
type daemonProc struct {
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{} // closed once it has exited and been reaped
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	if o.settle == 0 {
		o.settle = 600 * time.Millisecond
	}
	if o.pollInterval == 0 {
		o.pollInterval = 200 * time.Millisecond
	}
	if o.mode == "" {
		o.mode = "auto"
	}
	if o.maxJobs == 0 {
		o.maxJobs = 4
	}
	if o.logLevel == "" {
		o.logLevel = "debug"
	}
	if o.realseePoll == 0 {
		o.realseePoll = 100 * time.Millisecond
	}
	if o.realseeTimeout == 0 {
		o.realseeTimeout = time.Minute
	}
	if o.partSize == "" {
		o.partSize = "5MiB"
	}
	if o.uploadConc == 0 {
		o.uploadConc = 3
	}
	if o.aholoPoll == 0 {
		o.aholoPoll = 100 * time.Millisecond
	}
	if o.aholoTimeout == 0 {
		o.aholoTimeout = time.Minute
	}
	r := &rig{t: t, o: o, root: t.TempDir()}
	r.watchDir = o.watchDir
	if r.watchDir == "" {
		r.watchDir = filepath.Join(r.root, "watch")
	}
	r.tmpDir = filepath.Join(r.root, "daemon-tmp")
	os.MkdirAll(r.tmpDir, 0o755)
	r.cfgPath = filepath.Join(r.root, "config.yaml")

	// Every daemon of the rig shares one claim key, outside the watch.
	r.stateDir = filepath.Join(r.root, "state")
	os.MkdirAll(r.stateDir, 0o700)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "watches:\n  - dir: %s\n    mode: %s\n    poll_interval: %s\n    settle: %s\nmax_jobs: %d\nstate_dir: %s\nlog:\n  level: %s\n",
		r.watchDir, o.mode, o.pollInterval, o.settle, o.maxJobs, r.stateDir, o.logLevel)
	if o.realsee != nil {
		gopts := *o.realsee
		gopts.AppKey, gopts.AppSecret = relRealseeKey, relRealseeSecret
		if gopts.ProcessingPolls == 0 {
			gopts.ProcessingPolls = 2
		}
		if o.storeProxy {
			ak, sk, tok := "AKIAREL0STORE", "rel-store-secret-NEVER-LOGGED", "rel-store-session-NEVER-LOGGED"
			r.store = minis3.NewServer(minis3.Options{AccessKey: ak, SecretKey: sk, SessionToken: tok,
				Region: "ap-northeast-1", Buckets: []string{"vrlab-private"}, MinPartSize: gopts.MinPartSize})
			t.Cleanup(r.store.Close)
			r.s3Proxy = faultproxy.New(r.store.URL())
			t.Cleanup(r.s3Proxy.Close)
			gopts.S3Endpoint, gopts.Bucket, gopts.Region = r.s3Proxy.URL, "vrlab-private", "ap-northeast-1"
			gopts.AccessKey, gopts.SecretKey, gopts.SessionToken = ak, sk, tok
		}
		r.gw = realseetest.NewServer(gopts)
		t.Cleanup(r.gw.Close)
		endpoint := r.gw.URL
		if o.gatewayProxy {
			r.gwProxy = faultproxy.New(r.gw.URL)
			t.Cleanup(r.gwProxy.Close)
			endpoint = r.gwProxy.URL
		}
		os.WriteFile(filepath.Join(r.root, "realsee.secret"), []byte(relRealseeSecret+"\n"), 0o600)
		fmt.Fprintf(&cfg, "realsee:\n  endpoint: %s\n  app_key: %s\n  app_secret_file: realsee.secret\n  poll_interval: %s\n  timeout: %s\n  part_size: %s\n  upload_concurrency: %d\n",
			endpoint, relRealseeKey, o.realseePoll, o.realseeTimeout, o.partSize, o.uploadConc)
	}
	if o.aholo != nil {
		aopts := *o.aholo
		aopts.AppKey, aopts.AppSecret, aopts.AppUID = relAholoKey, relAholoSecret, relAholoUID
		r.ah = aholotest.NewServer(aopts)
		t.Cleanup(r.ah.Close)
		endpoint := r.ah.URL
		if o.aholoProxy {
			base := strings.TrimSuffix(r.ah.URL, "/v2/aholo")
			r.ahProxy = faultproxy.New(base)
			t.Cleanup(r.ahProxy.Close)
			endpoint = r.ahProxy.URL + "/v2/aholo"
		}
		os.WriteFile(filepath.Join(r.root, "aholo.secret"), []byte(relAholoSecret+"\n"), 0o600)
		fmt.Fprintf(&cfg, "aholo:\n  endpoint: %s\n  app_key: %s\n  app_secret_file: aholo.secret\n  appuid: %s\n  poll_interval: %s\n  timeout: %s\n",
			endpoint, relAholoKey, relAholoUID, o.aholoPoll, o.aholoTimeout)
	}
	cfg.WriteString(o.extraConfig)
	if err := os.WriteFile(r.cfgPath, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(r.watchDir, 0o755)
	t.Cleanup(r.stopAll)
	return r
}

func (r *rig) path(sub ...string) string {
	return filepath.Join(append([]string{r.watchDir}, sub...)...)
}

// start runs a daemon; env adds variables (SCANDROP_TEST_CRASH=...).
func (r *rig) start(env ...string) *daemonProc {
	r.t.Helper()
	cmd := exec.Command(binPath, "run", "--config", r.cfgPath, "--log-format", "json")
	cmd.Env = append(os.Environ(), "TMPDIR="+r.tmpDir)
	cmd.Env = append(cmd.Env, env...)
	d := &daemonProc{cmd: cmd, log: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = d.log, d.log
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	go func() { cmd.Wait(); close(d.done) }()
	r.mu.Lock()
	r.procs = append(r.procs, d)
	r.mu.Unlock()
	return d
}

func (d *daemonProc) alive() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// waitExit waits for the process to end by itself (a crash hook) and
// reaps it, so that its PID no longer looks alive to the next daemon.
func (d *daemonProc) waitExit(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-d.done:
	case <-time.After(within):
		t.Fatalf("the daemon did not exit within %s", within)
	}
}

func (d *daemonProc) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

func (d *daemonProc) stop() {
	if !d.alive() {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		d.kill()
	}
}

func (r *rig) stopAll() {
	r.mu.Lock()
	procs := r.procs
	r.procs = nil
	r.mu.Unlock()
	for _, d := range procs {
		d.stop()
	}
	if r.t.Failed() {
		for i, d := range procs {
			log := d.log.String()
			if len(log) > 200_000 {
				log = "…" + log[len(log)-200_000:]
			}
			r.t.Logf("daemon %d log:\n%s", i, log)
		}
	}
}

// logText is every daemon's log so far.
func (r *rig) logText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, d := range r.procs {
		b.WriteString(d.log.String())
	}
	return b.String()
}

// logLine is one JSON log line of the daemon.
type logLine struct {
	Time   time.Time `json:"time"`
	Level  string    `json:"level"`
	Msg    string    `json:"msg"`
	Folder string    `json:"folder"`
	Stage  string    `json:"stage"`
	Raw    string    `json:"-"`
}

func parseLog(text string) []logLine {
	var out []logLine
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			l.Raw = sc.Text()
			out = append(out, l)
		}
	}
	return out
}

func (r *rig) logLines() []logLine { return parseLog(r.logText()) }

// claimedAt is when a daemon logged that it claimed folder (zero if none did).
func (r *rig) claimedAt(folder string) time.Time {
	for _, l := range r.logLines() {
		if l.Msg == "claimed folder" && l.Folder == folder {
			return l.Time
		}
	}
	return time.Time{}
}

// writeTree writes files (slash-separated names) under dir.
func writeTree(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// drop builds a folder beside inbox/ and renames it in, as careful copiers do.
func (r *rig) drop(name string, files map[string][]byte) {
	r.t.Helper()
	tmp := filepath.Join(r.watchDir, ".staging-"+strconv.Itoa(rand.IntN(1<<30)))
	writeTree(r.t, tmp, files)
	os.MkdirAll(r.path("inbox"), 0o755)
	if err := os.Rename(tmp, r.path("inbox", name)); err != nil {
		r.t.Fatal(err)
	}
}

// result reads name's result.json from done/ or failed/, if it is there.
func (r *rig) result(name string) (*pipeline.Result, string) {
	for _, sub := range []string{"done", "failed"} {
		b, err := os.ReadFile(r.path(sub, name, "result.json"))
		if err == nil {
			var res pipeline.Result
			if err := json.Unmarshal(b, &res); err != nil {
				r.t.Fatalf("%s/%s/result.json: %v\n%s", sub, name, err, b)
			}
			return &res, sub
		}
	}
	return nil, ""
}

// waitResult waits for name to land in done/ or failed/.
func (r *rig) waitResult(name string, within time.Duration) (*pipeline.Result, string) {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if res, where := r.result(name); res != nil {
			return res, where
		}
		time.Sleep(25 * time.Millisecond)
	}
	r.t.Fatalf("%s did not land in done/ or failed/ within %s", name, within)
	return nil, ""
}

// entries lists the names in a subfolder of the watch root.
func (r *rig) entries(sub string) []string {
	ents, _ := os.ReadDir(r.path(sub))
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// eventually polls cond until it holds.
func eventually(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", within, what)
}

// report logs a measurement in a form that can be grepped out of -v output.
func report(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Logf("RELIABILITY: "+format, args...)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// ---- drops

var (
	jpegCacheMu sync.Mutex
	jpegCache   = map[[3]int][]byte{}
)

// smallJPEG is a real w×h JPEG (cached: encoding is slow under -race).
func smallJPEG(t testing.TB, w, h, seed int) []byte {
	key := [3]int{w, h, seed}
	jpegCacheMu.Lock()
	defer jpegCacheMu.Unlock()
	if b, ok := jpegCache[key]; ok {
		return b
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x*seed + y), uint8(y * 3), uint8(seed * 40), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	jpegCache[key] = b.Bytes()
	return b.Bytes()
}

// bigJPEG is a JPEG of about size bytes whose headers say w×h: a real
// small JPEG's headers, then size bytes of entropy-coded-looking filler
// (no 0xFF, so no markers) and the end-of-image marker. Nothing in the path
// decodes pixels, so it passes every check a camera's file passes, and is
// made in microseconds where encoding 25 MiB of pixels takes seconds.
func bigJPEG(t testing.TB, w, h, size int, seed uint64) []byte {
	hdr := smallJPEG(t, w, h, 1)
	sos := bytes.Index(hdr, []byte{0xFF, 0xDA})
	if sos < 0 {
		t.Fatal("no SOS in an encoded JPEG")
	}
	start := sos + 2 + (int(hdr[sos+2])<<8 | int(hdr[sos+3]))
	out := make([]byte, 0, start+size+2)
	out = append(out, hdr[:start]...)
	rnd := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 7}))
	filler := make([]byte, size)
	for i := 0; i < len(filler); i += 8 {
		v := rnd.Uint64()
		for k := 0; k < 8 && i+k < len(filler); k++ {
			c := byte(v >> (8 * k))
			if c == 0xFF {
				c = 0xFE
			}
			filler[i+k] = c
		}
	}
	out = append(out, filler...)
	return append(out, 0xFF, 0xD9)
}

// realseeFiles is a valid Realsee drop of n panoramas; each is a small real
// JPEG, or a bigJPEG of bytesEach when bytesEach > 0.
func realseeFiles(t testing.TB, n, bytesEach int) map[string][]byte {
	files := map[string][]byte{}
	var scans []string
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("pano-%02d", i)
		scans = append(scans, fmt.Sprintf(`{"id":%q,"floor":%d}`, id, i%2))
		if bytesEach > 0 {
			files["images/"+id+".jpg"] = bigJPEG(t, 2048, 1024, bytesEach, uint64(i+1))
		} else {
			files["images/"+id+".jpg"] = smallJPEG(t, 64, 32, i+1)
		}
	}
	files["manifest.json"] = []byte(`{"version":"1.0","floor_map":{"0":1,"1":2},"project_name":"rel-{{timestamp}}","scan_list":[` + strings.Join(scans, ",") + `]}`)
	return files
}

// aholoFiles is a valid Aholo drop of n photos; each is a small real JPEG,
// or a bigJPEG of bytesEach when bytesEach > 0.
func aholoFiles(t testing.TB, n, bytesEach int) map[string][]byte {
	files := map[string][]byte{"recon.yaml": []byte("scene: model\nquality: NORMAL\n")}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("photos/%03d.jpg", i)
		if bytesEach > 0 {
			files[name] = bigJPEG(t, 1600, 1200, bytesEach, uint64(100+i))
		} else {
			files[name] = smallJPEG(t, 64, 48, i+1)
		}
	}
	return files
}

// sameTree reports the first difference between the files of dir and want
// (which must hold every regular file of dir outside .scandrop/, plus
// result.json, which is skipped).
func sameTree(dir string, want map[string][]byte) error {
	got := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == pipeline.StateDir {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == pipeline.ResultFile {
			return nil
		}
		got[rel] = true
		if !d.Type().IsRegular() {
			return nil // compared by the caller (symlinks, FIFOs)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		w, ok := want[rel]
		if !ok {
			return fmt.Errorf("%s: unexpected file", rel)
		}
		if !bytes.Equal(b, w) {
			return fmt.Errorf("%s: content differs (%d bytes, want %d)", rel, len(b), len(w))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for name := range want {
		if !got[name] {
			return fmt.Errorf("%s: missing", name)
		}
	}
	return nil
}

// procStatus reads a field (VmHWM, VmRSS) of /proc/PID/status, in KiB.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return -1
}

// procCPU is the user+system CPU time of a process so far.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	s := string(b)
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clkTck
}

// copyFile copies src to dst.
func copyFile(t testing.TB, src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
}

// watchOutside watches dir and its subfolders (but skip) with inotify for any access
// (open, read, write, attribute change, create, delete, rename) by any
// process, and returns a function that reports what happened since. The
// caller must not touch dir itself before calling it.
func watchOutside(t testing.TB, dir string, skip ...string) func() []string {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	const mask = syscall.IN_OPEN | syscall.IN_ACCESS | syscall.IN_MODIFY | syscall.IN_ATTRIB | syscall.IN_CLOSE_WRITE |
		syscall.IN_CREATE | syscall.IN_DELETE | syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO | syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF
	// List first, watch after: the listing itself reads the folders.
	var dirs []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			for _, s := range skip {
				if p == s {
					return filepath.SkipDir
				}
			}
			dirs = append(dirs, p)
		}
		return nil
	})
	names := map[int32]string{}
	for _, p := range dirs {
		wd, err := syscall.InotifyAddWatch(fd, p, mask)
		if err != nil {
			t.Fatalf("inotify watch %s: %v", p, err)
		}
		names[int32(wd)] = p
	}
	t.Cleanup(func() { syscall.Close(fd) })
	return func() []string {
		var out []string
		buf := make([]byte, 64<<10)
		for {
			n, err := syscall.Read(fd, buf)
			if n <= 0 || err != nil {
				return out
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := string(bytes.TrimRight(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+int(ev.Len)], "\x00"))
				out = append(out, fmt.Sprintf("%s/%s mask=%#x", names[ev.Wd], name, ev.Mask))
				off += syscall.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}

// atimeSet remembers the atimes of files, set well in the past so that
// any read moves them even on relatime mounts.
type atimeSet struct {
	files map[string]syscall.Timespec
}

func ageAtimes(t testing.TB, dir string) *atimeSet {
	s := &atimeSet{files: map[string]syscall.Timespec{}}
	old := time.Now().Add(-72 * time.Hour)
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		os.Chtimes(p, old, old.Add(-24*time.Hour))
		var st syscall.Stat_t
		if syscall.Stat(p, &st) == nil {
			s.files[p] = st.Atim
		}
		return nil
	})
	return s
}

// changed lists the files whose atime moved.
func (s *atimeSet) changed() []string {
	var out []string
	for p, at := range s.files {
		var st syscall.Stat_t
		if syscall.Stat(p, &st) != nil || st.Atim != at {
			out = append(out, p)
		}
	}
	return out
}
