//go:build linux

package main

// Hostile vendor answers at the daemon level (issue 12, red team b: D2-D4,
// L4-L6): what a vendor returns is checked at the vendor boundary before
// scandrop writes it to result.json, sends it in a webhook or uses it; an
// asset download is bounded; upload credentials never go over plain http
// off this machine; and a hook cannot read the daemon's environment
// through /proc.

import (
	"bytes"
	"encoding/json"
	"fmt"
	stdlog "log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// TestHostileVendor: each odd answer fails its job Rejected in failed/,
// the message naming the field (or host), result.json free of the odd
// value, the drop intact; no secret in the log; the daemon goes on.
func TestHostileVendor(t *testing.T) {
	pano := smallJPEG(t, 64, 32, 1)
	photo := smallJPEG(t, 64, 48, 2)
	// An asset server that announces a petabyte, and counts its requests.
	var assetHits atomic.Int64
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assetHits.Add(1)
		w.Header().Set("Content-Length", strconv.FormatInt(1<<50, 10))
		w.WriteHeader(http.StatusOK)
		w.Write(make([]byte, 64<<10))
	}))
	defer huge.Close()

	const bidi = "pano-\u202eexe.gpj"
	cases := []struct {
		name    string
		realsee *realseetest.Options
		aholo   *aholotest.Options
		msg     string // in the error message
		absent  string // never in result.json
		// idAbsent is never among result.json's vendor_ids (the message
		// may quote it, escaped, to say what was refused).
		idAbsent string
		check    func(t *testing.T, r *rig)
	}{
		{name: "realsee vr_url javascript", realsee: &realseetest.Options{VRURL: "javascript:alert(document.cookie)"}, msg: "vr_url", absent: "javascript:"},
		{name: "realsee vr_url 900 KB", realsee: &realseetest.Options{VRURL: "https://realsee.cn/" + strings.Repeat("a", 900<<10)}, msg: "a link of 921619 bytes", absent: "aaaaaaaaaaaaaaaaaaaa"},
		{name: "realsee vr_url http off-host", realsee: &realseetest.Options{VRURL: "http://realsee.cn/x"}, msg: "vr_url", absent: "http://realsee.cn/x"},
		{name: "realsee task_code traversal", realsee: &realseetest.Options{TaskCode: "../../etc/passwd"}, msg: "task_code", idAbsent: "../../etc"},
		{name: "realsee project_id bidi", realsee: &realseetest.Options{ProjectID: bidi}, msg: "project_id", absent: "\u202e"},
		{name: "realsee S3 over http off-host", realsee: &realseetest.Options{S3Endpoint: "http://192.0.2.7:9000", AccessKey: "AKIAHOSTILEVENDOR", SecretKey: "hostile-vendor-s3-secret-71b"},
			msg: "http://192.0.2.7:9000", absent: "hostile-vendor-s3-secret-71b"},
		{name: "aholo plyPath javascript", aholo: &aholotest.Options{ResultPaths: map[string]any{"plyPath": "javascript:alert(1)"}}, msg: "plyPath", absent: "javascript:"},
		{name: "aholo spzPath file", aholo: &aholotest.Options{ResultPaths: map[string]any{"spzPath": "file:///etc/passwd"}}, msg: "spzPath", absent: "/etc/passwd"},
		{name: "aholo projectId traversal", aholo: &aholotest.Options{ProjectID: "../../x"}, msg: "projectId", idAbsent: "../../x"},
		{name: "aholo asset of a petabyte", aholo: &aholotest.Options{ResultPaths: map[string]any{"plyPath": huge.URL + "/a.ply"}},
			msg: "announced an asset of 1125899906842624 bytes", check: func(t *testing.T, r *rig) {
				if n := assetHits.Load(); n != 1 {
					t.Errorf("%d requests for the asset, want 1 (no retry loop)", n)
				}
				left, _ := os.ReadDir(r.path("failed", "job", "assets"))
				if len(left) != 0 {
					t.Errorf("assets/ holds %d entries after a refused download", len(left))
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := rigOptions{realsee: c.realsee, aholo: c.aholo}
			files := withPano2("hall", pano)
			if c.aholo != nil {
				c.aholo.ProcessingPolls = 1
				files = withPhoto("name: chair\ndownload_assets: true\n", photo)
			}
			r := newRig(t, o)
			d := r.start()
			r.drop("job", files)
			res, where := r.waitResult("job", 45*time.Second)
			if where != "failed" || res.Error == nil || res.Error.Kind != "rejected" || !strings.Contains(res.Error.Message, c.msg) {
				t.Fatalf("landed in %s with %+v; want failed, kind rejected, message with %q", where, res.Error, c.msg)
			}
			raw, _ := os.ReadFile(r.path("failed", "job", "result.json"))
			if c.absent != "" && bytes.Contains(raw, []byte(c.absent)) {
				t.Errorf("result.json holds %q: %s", c.absent, raw)
			}
			var m map[string]any
			if json.Unmarshal(raw, &m) != nil || m["vr_url"] != nil || m["assets"] != nil {
				t.Errorf("result.json has a link after a refused answer: %s", raw)
			}
			if ids, _ := json.Marshal(m["vendor_ids"]); c.idAbsent != "" && bytes.Contains(ids, []byte(c.idAbsent)) {
				t.Errorf("vendor_ids holds %q: %s", c.idAbsent, ids)
			}
			if err := sameTree(r.path("failed", "job"), files); err != nil {
				t.Errorf("the drop changed: %v", err)
			}
			for _, s := range []string{relRealseeSecret, relAholoSecret, "hostile-vendor-s3-secret-71b"} {
				if strings.Contains(r.logText(), s) {
					t.Errorf("%q in the log", s)
				}
			}
			if !d.alive() {
				t.Error("the daemon stopped")
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

// TestHostileHookProcEnviron: a hook runs as scandrop's user, yet cannot
// read the daemon's environment (where secrets such as ${RS_SECRET} live)
// through /proc/$PPID/environ: the daemon makes itself non-dumpable at
// start, so its /proc entries belong to root. The daemon runs here as
// nobody (tests run as root, and root reads anything).
func TestHostileHookProcEnviron(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the daemon as another user")
	}
	const uid, gid = 65534, 65534
	const secret = "hostile-env-secret-via-proc-5c1e"
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}})
	out := filepath.Join(r.root, "hook-out")
	os.MkdirAll(out, 0o755)
	os.WriteFile(r.cfgPath, append(must(os.ReadFile(r.cfgPath)), fmt.Sprintf(`notify:
  commands:
    - run: [sh, -c, 'cat /proc/$PPID/environ > %[1]s/environ 2>%[1]s/err; echo $? > %[1]s/rc']
`, out)...), 0o644)
	bin := filepath.Join(r.root, "bin", "scandrop")
	os.MkdirAll(filepath.Dir(bin), 0o755)
	copyFile(t, binPath, bin)
	os.Chmod(bin, 0o755)
	// Let nobody reach and own the rig.
	for p := r.root; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	chownAll := func() {
		filepath.Walk(r.root, func(p string, _ os.FileInfo, err error) error {
			if err == nil {
				err = os.Lchown(p, uid, gid)
			}
			return err
		})
	}
	chownAll()

	cmd := exec.Command(bin, "run", "--config", r.cfgPath, "--log-format", "json")
	cmd.Env = append(os.Environ(), "TMPDIR="+r.tmpDir, "HOME="+r.root, "RS_SECRET="+secret)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	d := &daemonProc{cmd: cmd, log: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = d.log, d.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(d.done) }()
	r.mu.Lock()
	r.procs = append(r.procs, d)
	r.mu.Unlock()
	eventually(t, "the daemon to run", 15*time.Second, func() bool { return strings.Contains(d.log.String(), "scandrop running") })

	var st syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/environ", cmd.Process.Pid), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 0 {
		t.Errorf("/proc/<daemon>/environ belongs to uid %d, want root (the daemon is not protected)", st.Uid)
	}

	r.drop("bad", map[string][]byte{"manifest.json": []byte(`{"version":`)})
	chownAll()
	if _, where := r.waitResult("bad", 30*time.Second); where != "failed" {
		t.Fatalf("landed in %s", where)
	}
	var rc []byte
	eventually(t, "the hook", 30*time.Second, func() bool {
		rc, _ = os.ReadFile(filepath.Join(out, "rc"))
		return len(rc) > 0
	})
	got, _ := os.ReadFile(filepath.Join(out, "environ"))
	if strings.TrimSpace(string(rc)) == "0" || bytes.Contains(got, []byte(secret)) {
		t.Errorf("the hook read the daemon's environment (rc %s): %d bytes, secret there: %v", bytes.TrimSpace(rc), len(got), bytes.Contains(got, []byte(secret)))
	}
}

// TestHostileVendorStdLog: what the standard library writes through the
// log package (net/http's "Unsolicited response received on idle HTTP
// channel" quotes a peer's bytes) reaches the log as one bounded, escaped
// WARN line, not raw on stderr.
func TestHostileVendorStdLog(t *testing.T) {
	var buf bytes.Buffer
	l, err := newLogger(&buf, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	defer stdlog.SetOutput(os.Stderr)
	routeStdLog(l)
	stdlog.Printf("Unsolicited response received on idle HTTP channel starting with %q; err=<nil>", "\x1b[2J"+strings.Repeat("A", 3000)+"\u202e")
	stdlog.Print("second\x1b[31m")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2: %q", len(lines), buf.String())
	}
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["level"] != slog.LevelWarn.String() {
			t.Errorf("not a WARN JSON line: %q", line)
		}
		msg, _ := m["msg"].(string)
		if len(line) > 3<<10 || strings.ContainsAny(line, "\x1b\u202e") || strings.ContainsAny(msg, "\x1b\u202e") {
			t.Errorf("line not bounded or escaped (%d bytes): %.200q", len(line), line)
		}
	}
}
