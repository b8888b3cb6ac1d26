//go:build linux

package main

// Hostile drops against what scandrop writes about them, through the real
// binary: problem lists of any length and strings of any size stay bounded
// in result.json, the log, webhooks, status and check (class 3); names full
// of terminal controls are shown escaped everywhere (class 8); entries of
// inbox/ that can never be drops are refused out loud, once (class 9);
// deep paths are shortened, backslashes escaped once, and a process that
// loses its folder to a daemon says so plainly with exit code 3 (class 10).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scandrop/scandrop/internal/ops"
	"github.com/scandrop/scandrop/internal/textsafe"
	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// Bounds the tests hold scandrop to.
const (
	hostileResultMax = 64 << 10  // one result.json
	hostileLineMax   = 16 << 10  // one log line
	hostileStatusMax = 256 << 10 // a status report, any form
	hostileHWMMaxKiB = 200 << 10 // the daemon's peak RSS
)

// rawControl describes the first thing in b a terminal would act on rather
// than print — a C0 control other than newline and tab, DEL, a C1 control,
// a bidi override or isolate — or invalid UTF-8; "" if there is none.
func rawControl(b []byte) string {
	if !utf8.Valid(b) {
		return "invalid UTF-8"
	}
	for i, r := range string(b) {
		switch {
		case r < 0x20 && r != '\n' && r != '\t', r == 0x7f, r >= 0x80 && r <= 0x9f,
			r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			lo, hi := max(0, i-40), min(len(b), i+40)
			return fmt.Sprintf("%U at byte %d: %q", r, i, b[lo:hi])
		}
	}
	return ""
}

// runCmd runs the binary with args and returns stdout, stderr and the
// exit code.
func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// scans is a manifest scan_list of n entries.
func scans(n int, entry func(i int) string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(entry(i))
	}
	return b.String()
}

// unknownKeys is a recon.yaml of n unknown keys.
func unknownKeys(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "k%d: 1\n", i)
	}
	return b.String()
}

// hookRecorder is a webhook receiver that keeps the size of each body.
type hookRecorder struct {
	mu    sync.Mutex
	sizes map[string]int // by folder
	srv   *httptest.Server
}

func newHookRecorder(t *testing.T) *hookRecorder {
	h := &hookRecorder{sizes: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var res pipeline.Result
		json.Unmarshal(b, &res)
		h.mu.Lock()
		h.sizes[res.Folder] = len(b)
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookRecorder) size(folder string) (int, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n, ok := h.sizes[folder]
	return n, ok
}

// rigHTTPAddr waits for the daemon's "http listening" line.
func rigHTTPAddr(t *testing.T, r *rig) string {
	t.Helper()
	var addr string
	eventually(t, "the HTTP listener", 15*time.Second, func() bool {
		for _, l := range strings.Split(r.logText(), "\n") {
			var v struct{ Msg, Addr string }
			if json.Unmarshal([]byte(l), &v) == nil && v.Msg == "http listening" {
				addr = v.Addr
				return true
			}
		}
		return false
	})
	return "http://" + addr
}

func getBody(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// checkLogBounded asserts every log line is bounded and free of raw
// terminal controls, also once its JSON is decoded.
func checkLogBounded(t *testing.T, log string) {
	t.Helper()
	if bad := rawControl([]byte(log)); bad != "" {
		t.Errorf("log has a raw control: %s", bad)
	}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	longest := 0
	for sc.Scan() {
		line := sc.Bytes()
		longest = max(longest, len(line))
		if len(line) > hostileLineMax {
			t.Errorf("log line of %d bytes: %.200s…", len(line), line)
		}
		var m map[string]any
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		for k, v := range m {
			if s, ok := v.(string); ok {
				if bad := rawControl([]byte(s)); bad != "" {
					t.Errorf("log attribute %s, decoded, has a raw control: %s", k, bad)
				}
			}
		}
	}
	report(t, "longest log line: %d bytes", longest)
}

// Class 3: problem lists and strings of any size, bounded at the source
// and at every sink.
func TestHostileOutputProblemLists(t *testing.T) {
	hooks := newHookRecorder(t)
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, aholo: &aholotest.Options{}, maxJobs: 4,
		extraConfig: fmt.Sprintf("http:\n  listen: 127.0.0.1:0\nnotify:\n  webhooks:\n    - url: %s/hook\n", hooks.srv.URL)})
	pano := smallJPEG(t, 64, 32, 1)
	huge := strings.Repeat("x", 900<<10)
	longID := func(i int) string { return fmt.Sprintf("%03d-%s", i, strings.Repeat("n", 236)) }

	type drop struct {
		files map[string][]byte
		more  bool     // more problems than are listed
		file  string   // the first problem names this file
		want  []string // the first problem says these
	}
	drops := map[string]drop{
		"h-dup-ids": {files: map[string][]byte{"images/pano-00.jpg": pano,
			"manifest.json": manifestWith(scans(10_000, func(int) string { return `{"id":"pano-00","floor":0}` }))},
			more: true, file: "manifest.json", want: []string{"already used"}},
		"h-missing-images": {files: map[string][]byte{
			"manifest.json": manifestWith(scans(10_000, func(i int) string { return fmt.Sprintf(`{"id":"s%06d","floor":0}`, i) }))},
			more: true, file: "images/s000000.jpg", want: []string{"missing"}},
		"h-bad-floors": {files: map[string][]byte{"images/pano-00.jpg": pano,
			"manifest.json": manifestWith(scans(10_000, func(i int) string { return fmt.Sprintf(`{"id":"f%06d","floor":7}`, i) }))},
			more: true, file: "manifest.json", want: []string{"floor 7"}},
		"h-huge-id": {files: map[string][]byte{"images/pano-00.jpg": pano,
			"manifest.json": manifestWith(`{"id":"` + huge + `","floor":0},{"id":"` + huge + `","floor":0}`)},
			file: "manifest.json", want: []string{"xxxxxxxx"}},
		"h-control-ids": {files: map[string][]byte{
			"manifest.json": manifestWith(scans(10_000, func(i int) string { return fmt.Sprintf(`{"id":"\u001b[2J\u202e\u0085%d","floor":0}`, i) }))},
			more: true, file: "manifest.json", want: []string{`\x1b[2J`}},
		"h-long-names": {files: map[string][]byte{
			"manifest.json": manifestWith(scans(80, func(i int) string { return fmt.Sprintf(`{"id":"%s","floor":0}`, longID(i)) }))},
			more: true, file: "images/000-nnn", want: []string{"missing"}},
		"h-unmatched-patterns": {files: map[string][]byte{"images/001.jpg": smallJPEG(t, 64, 48, 2),
			"recon.yaml": []byte("resources:\n" + strings.Repeat("  - nope/*.jpg\n", 10_000))},
			more: true, file: "recon.yaml:", want: []string{"matches no file"}},
		"h-unknown-keys": {files: map[string][]byte{"images/001.jpg": smallJPEG(t, 64, 48, 2),
			"recon.yaml": []byte(unknownKeys(10_000))},
			more: true, file: "recon.yaml:1", want: []string{`unknown key "k0"`}},
	}

	// Two of them wait in inbox/ for a status and a check run without a
	// daemon: those validate the drops offline.
	for _, name := range []string{"h-dup-ids", "h-unmatched-patterns"} {
		r.drop(name, drops[name].files)
	}
	for _, args := range [][]string{{"status"}, {"status", "--json"}} {
		out, errOut, code := runCmd(t, append(args, "--config", r.cfgPath)...)
		if code != 0 || len(out) > hostileStatusMax || !strings.Contains(out, "h-dup-ids") {
			t.Errorf("%v: exit %d, %d bytes\n%.2000s\n%s", args, code, len(out), out, errOut)
		}
		if !strings.Contains(out, "9999") {
			t.Errorf("%v: does not count the 9999 problems of h-dup-ids:\n%.3000s", args, out)
		}
		report(t, "scandrop %s with 2 hostile drops in inbox/: %d bytes", strings.Join(args, " "), len(out))
	}
	out, _, code := runCmd(t, "check", r.path("inbox", "h-dup-ids"))
	if code != 1 || len(out) > hostileResultMax || strings.Count(out, "\n") > vendors.MaxProblems+2 ||
		!strings.Contains(out, "and 9949 more problems") || !strings.Contains(out, "9999 problem(s)") {
		t.Errorf("check h-dup-ids: exit %d, %d bytes, %d lines:\n%.3000s", code, len(out), strings.Count(out, "\n"), out)
	}
	report(t, "scandrop check h-dup-ids: %d bytes, %d lines", len(out), strings.Count(out, "\n"))

	d := r.start()
	base := rigHTTPAddr(t, r)
	for name, dr := range drops {
		if name != "h-dup-ids" && name != "h-unmatched-patterns" {
			r.drop(name, dr.files)
		}
	}
	for name, dr := range drops {
		res, where := r.waitResult(name, 90*time.Second)
		raw, _ := os.ReadFile(r.path(where, name, pipeline.ResultFile))
		report(t, "%s: result.json %d bytes", name, len(raw))
		if where != "failed" || res.Error == nil || res.Error.Kind != "invalid" {
			t.Errorf("%s: landed in %s: %+v", name, where, res.Error)
			continue
		}
		if len(raw) > hostileResultMax || !utf8.Valid(raw) {
			t.Errorf("%s: result.json is %d bytes (valid UTF-8: %v)", name, len(raw), utf8.Valid(raw))
		}
		ps := res.Error.Problems
		if len(ps) == 0 || len(ps) > vendors.MaxProblems+1 {
			t.Errorf("%s: %d problems listed", name, len(ps))
			continue
		}
		for _, p := range ps {
			if len(p.File) > vendors.MaxProblemFile || len(p.Message) > vendors.MaxProblemMessage {
				t.Errorf("%s: a problem of %d+%d bytes: %.200s", name, len(p.File), len(p.Message), p.String())
				break
			}
		}
		if last := ps[len(ps)-1].Message; dr.more != strings.Contains(last, "more problems, not listed") {
			t.Errorf("%s: last problem %q (more expected: %v)", name, last, dr.more)
		}
		if !strings.HasPrefix(ps[0].File, dr.file) {
			t.Errorf("%s: first problem names %q, want %q", name, ps[0].File, dr.file)
		}
		for _, w := range dr.want {
			if !strings.Contains(ps[0].Message, w) {
				t.Errorf("%s: first problem %q does not say %q", name, ps[0].Message, w)
			}
		}
		if len(res.Error.Message) > 4<<10 {
			t.Errorf("%s: message of %d bytes", name, len(res.Error.Message))
		}
		if err := sameTree(r.path(where, name), dr.files); err != nil {
			t.Errorf("%s: drop not intact: %v", name, err)
		}
	}
	// Every failure is delivered, bounded.
	for name := range drops {
		eventually(t, "the webhook of "+name, 20*time.Second, func() bool { _, ok := hooks.size(name); return ok })
		if n, _ := hooks.size(name); n > hostileResultMax {
			t.Errorf("%s: webhook body of %d bytes", name, n)
		}
	}
	for _, p := range []string{"/status", "/"} {
		b := getBody(t, base+p)
		if len(b) > hostileStatusMax {
			t.Errorf("GET %s: %d bytes", p, len(b))
		}
		report(t, "GET %s: %d bytes", p, len(b))
	}
	hwm := procStatus(d.cmd.Process.Pid, "VmHWM")
	report(t, "daemon VmHWM: %d KiB", hwm)
	if hwm <= 0 || hwm > hostileHWMMaxKiB {
		t.Errorf("daemon peak RSS %d KiB, want under %d", hwm, hostileHWMMaxKiB)
	}
	if !d.alive() {
		t.Fatal("the daemon died")
	}
	checkLogBounded(t, r.logText())
}

// Class 8: names with terminal controls, bidi overrides and invalid UTF-8,
// in folder names, file names and ids, are shown escaped by the log, check
// and status; result.json stays valid UTF-8.
func TestHostileOutputNames(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, aholo: &aholotest.Options{},
		extraConfig: "http:\n  listen: 127.0.0.1:0\n"})
	missing := map[string][]byte{"manifest.json": manifestWith(`{"id":"pano-00","floor":0}`)}
	folders := []string{
		"n-esc-\x1b[31mred", "n-crlf-\r\nnext", "n-bel-\a", "n-bidi-\u202egpj.exe", "n-c1-\u009b31m",
		"n-badutf8-\xff\xfe", "n-del-\x7f", "n-title-\x1b]0;pwned\a",
	}
	r.start()
	base := rigHTTPAddr(t, r)
	for _, f := range folders {
		r.drop(f, missing)
	}
	// File names and ids from inside drops.
	r.drop("n-file-names", map[string][]byte{"recon.yaml": []byte("scene: model\n"),
		"images/\x1b]0;pwn\a.jpg": []byte("not a jpeg"), "images/\u202egpj.png": []byte("not a png")})
	r.drop("n-ids", map[string][]byte{"manifest.json": manifestWith(`{"id":"x\u001b[2Jy\u202e","floor":0},{"id":"z\u0085","floor":0}`)})
	// One without a marker stays in inbox/: status lists it.
	os.MkdirAll(r.path("inbox", "n-waiting-\x1b[5mblink"), 0o755)

	all := append(append([]string(nil), folders...), "n-file-names", "n-ids")
	for _, f := range all {
		res, where := r.waitResult(f, 60*time.Second)
		raw, _ := os.ReadFile(r.path(where, f, pipeline.ResultFile))
		if where != "failed" || !utf8.Valid(raw) {
			t.Errorf("%q: landed in %s, result.json valid UTF-8: %v", f, where, utf8.Valid(raw))
		}
		// JSON's own rule for invalid UTF-8: each bad byte becomes U+FFFD.
		var want string
		b, _ := json.Marshal(f)
		json.Unmarshal(b, &want)
		if res.Folder != want {
			t.Errorf("%q: result.json names the folder %q", f, res.Folder)
		}
		// check prints the drop's problems escaped.
		out, _, code := runCmd(t, "check", r.path(where, f))
		if code != 1 {
			t.Errorf("check %q: exit %d", f, code)
		}
		if bad := rawControl([]byte(out)); bad != "" {
			t.Errorf("check %q: raw control in its output: %s", f, bad)
		}
		if !strings.Contains(out, textsafe.Escape(f)) {
			t.Errorf("check %q: the folder is not shown escaped:\n%s", f, out)
		}
	}
	out, _, _ := runCmd(t, "check", r.path("failed", "n-file-names"))
	for _, want := range []string{`images/\x1b]0;pwn\a.jpg`, `images/\u202egpj.png`} {
		if !strings.Contains(out, want) {
			t.Errorf("check n-file-names does not show %s:\n%s", want, out)
		}
	}
	out, _, _ = runCmd(t, "check", r.path("failed", "n-ids"))
	if !strings.Contains(out, `x\x1b[2Jy\u202e`) {
		t.Errorf("check n-ids does not show the id escaped:\n%s", out)
	}

	for _, args := range [][]string{{"status"}, {"status", "--json"}} {
		out, _, code := runCmd(t, append(args, "--config", r.cfgPath)...)
		if bad := rawControl([]byte(out)); code != 0 || bad != "" {
			t.Errorf("%v: exit %d, raw control: %s", args, code, bad)
		}
		if args[len(args)-1] == "status" && !strings.Contains(out, `n-waiting-\x1b[5mblink`) {
			t.Errorf("status does not list the waiting folder escaped:\n%s", out)
		}
	}
	var rep ops.Report
	sj := getBody(t, base+"/status")
	if err := json.Unmarshal(sj, &rep); err != nil {
		t.Fatal(err)
	}
	page := getBody(t, base+"/")
	for form, b := range map[string][]byte{"/status": sj, "/": page} {
		if bad := rawControl(b); bad != "" {
			t.Errorf("GET %s: raw control: %s", form, bad)
		}
	}
	found := false
	for _, in := range rep.Watches[0].Inbox {
		found = found || in.Folder == `n-waiting-\x1b[5mblink`
	}
	if !found {
		t.Errorf("/status does not list the waiting folder escaped: %s", sj)
	}

	// The log names every folder, escaped.
	log := r.logText()
	checkLogBounded(t, log)
	for _, f := range all {
		claimed := false
		for _, l := range r.logLines() {
			claimed = claimed || l.Msg == "claimed folder" && l.Folder == textsafe.Escape(f)
		}
		if !claimed {
			t.Errorf("no \"claimed folder\" line names %q as %q", f, textsafe.Escape(f))
		}
	}
}

// Class 9: what in inbox/ can never be a drop is refused, said once, and
// shown by status; nothing outside the watch folder is read.
func TestHostileOutputRefusedEntries(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, extraConfig: "http:\n  listen: 127.0.0.1:0\n"})
	outside := filepath.Join(r.root, "outside")
	outsideFiles := map[string][]byte{"manifest.json": manifestWith(`{"id":"pano-00","floor":0}`), "images/pano-00.jpg": smallJPEG(t, 64, 32, 3)}
	writeTree(t, outside, outsideFiles)
	inbox := r.path("inbox")
	os.MkdirAll(inbox, 0o755)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(outside, filepath.Join(inbox, "link-to-drop")))
	must(os.Symlink(filepath.Join(outside, "manifest.json"), filepath.Join(inbox, "link-to-file")))
	must(os.Symlink("/nonexistent/scandrop", filepath.Join(inbox, "link-dangling")))
	must(syscall.Mkfifo(filepath.Join(inbox, "fifo"), 0o644))
	sockDir, _ := os.MkdirTemp("", "sd")
	defer os.RemoveAll(sockDir)
	ln, err := net.Listen("unix", filepath.Join(sockDir, "s"))
	must(err)
	defer ln.Close()
	must(os.Rename(filepath.Join(sockDir, "s"), filepath.Join(inbox, "socket")))
	entries := map[string]string{
		"link-to-drop": "copy the folder in instead", "link-to-file": "symlink", "link-dangling": "symlink",
		"fifo": "named pipe", "socket": "socket",
	}

	r.start()
	base := rigHTTPAddr(t, r)
	time.Sleep(3 * time.Second) // about 15 rescans
	// One arriving later is said too.
	must(syscall.Mkfifo(filepath.Join(inbox, "fifo-later"), 0o644))
	entries["fifo-later"] = "named pipe"
	time.Sleep(time.Second)

	lines := r.logLines()
	for name, says := range entries {
		n := 0
		for _, l := range lines {
			if l.Level == "WARN" && strings.Contains(l.Raw, `"entry":"inbox/`+name+`"`) {
				n++
				if !strings.Contains(l.Msg, "inbox/"+name) || !strings.Contains(l.Msg, says) {
					t.Errorf("%s: warning %q does not name it or say %q", name, l.Msg, says)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s: %d warnings, want exactly one", name, n)
		}
	}
	out, _, code := runCmd(t, "status", "--config", r.cfgPath)
	var rep ops.Report
	if err := json.Unmarshal(getBody(t, base+"/status"), &rep); err != nil {
		t.Fatal(err)
	}
	live := map[string]ops.InboxFolder{}
	for _, in := range rep.Watches[0].Inbox {
		live[in.Folder] = in
	}
	page := string(getBody(t, base+"/"))
	for name, says := range entries {
		if !strings.Contains(out, name) || !strings.Contains(out, "refused: inbox/"+name) {
			t.Errorf("status (exit %d) does not show %s as refused:\n%s", code, name, out)
		}
		if in := live[name]; !in.Refused || !strings.Contains(in.Reason, says) {
			t.Errorf("/status: %s: %+v", name, in)
		}
		if !strings.Contains(page, "refused: inbox/"+name) {
			t.Errorf("status page does not show %s as refused", name)
		}
	}
	if got := r.entries("processing"); len(got)+len(r.entries("failed"))+len(r.entries("done")) != 0 {
		t.Errorf("something was claimed: %v", got)
	}
	if err := sameTree(outside, outsideFiles); err != nil {
		t.Errorf("outside: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, ".scandrop")); err == nil {
		t.Error("scandrop wrote into the folder outside")
	}
	if os.Geteuid() == 0 {
		report(t, "unreadable inbox folder: not testable as root (root reads everything); covered by watcher tests run as a user")
	}
}

// Class 10: a deeply nested drop's paths are relative and shortened; a
// backslash in an id is escaped once, wherever it is shown.
func TestHostileOutputPathsAndBackslashes(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, aholo: &aholotest.Options{}})
	deep := "images"
	for i := range 70 {
		deep += fmt.Sprintf("/level-%02d-%040d", i, 0)
	}
	r.start()
	r.drop("p-deep", map[string][]byte{"recon.yaml": []byte("scene: model\n"), deep + "/broken.jpg": []byte("garbage")})
	r.drop("p-backslash", map[string][]byte{"manifest.json": []byte(`{"version":"1.0","floor_map":{"0":1},"scan_list":[{"id":"a\\b","floor":0}]}`)})

	res, _ := r.waitResult("p-deep", 60*time.Second)
	if res.Error == nil || len(res.Error.Problems) == 0 {
		t.Fatalf("p-deep: %+v", res.Error)
	}
	p := res.Error.Problems[0]
	if len(p.File) > vendors.MaxProblemFile || !strings.HasPrefix(p.File, "images/level-00-") || !strings.Contains(p.File, "/…/") ||
		!strings.HasSuffix(p.File, "level-69-"+fmt.Sprintf("%040d", 0)+"/broken.jpg") {
		t.Errorf("p-deep: problem file %q (%d bytes)", p.File, len(p.File))
	}
	if strings.Contains(res.Error.Message, r.watchDir) || len(res.Error.Message) > 1<<10 {
		t.Errorf("p-deep: message %q", res.Error.Message)
	}
	out, _, _ := runCmd(t, "check", r.path("failed", "p-deep"))
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if len(l) > 1<<10 {
			t.Errorf("check p-deep: line of %d bytes", len(l))
		}
	}

	res, _ = r.waitResult("p-backslash", 60*time.Second)
	if res.Error == nil || len(res.Error.Problems) == 0 || !strings.Contains(res.Error.Problems[0].Message, `id "a\\b"`) {
		t.Fatalf("p-backslash: %+v", res.Error)
	}
	out, _, _ = runCmd(t, "check", r.path("failed", "p-backslash"))
	if !strings.Contains(out, `id "a\\b"`) || strings.Contains(out, `a\\\\b`) {
		t.Errorf("check p-backslash: the backslash is not escaped exactly once:\n%s", out)
	}
	for _, l := range r.logLines() {
		if l.Folder == "p-backslash" && strings.Contains(l.Raw, `a\\\\\\\\b`) {
			t.Errorf("log escapes the backslash more than JSON does: %s", l.Raw)
		}
	}
}

// Class 10: "scandrop process" on a folder another scandrop has exits 3
// ("already taken by another scandrop") with a plain message — whether the
// daemon claimed it before, runs it, or claims it while process runs it —
// and the job is not lost.
func TestHostileOutputProcessTaken(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}})
	r.gw.HoldTasks(true)
	d := r.start()
	taken := func(what string, stderr string, code int) {
		t.Helper()
		if code != exitTaken || !strings.Contains(stderr, "scandrop") || !strings.Contains(stderr, "taken") && !strings.Contains(stderr, "being run") {
			t.Errorf("%s: exit %d, want %d:\n%s", what, code, exitTaken, stderr)
		}
		for _, raw := range []string{".tmp-", "no such file", "/.scandrop/"} {
			if strings.Contains(stderr, raw) {
				t.Errorf("%s: raw error in the message (%s):\n%s", what, raw, stderr)
			}
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%s: more than one line:\n%s", what, stderr)
		}
	}

	// The daemon runs it (held at the vendor): process is told so.
	r.drop("t-running", realseeFiles(t, 1, 8<<10))
	eventually(t, "t-running to wait for the vendor", 30*time.Second, func() bool {
		rec, err := pipeline.ReadRecord(r.path("processing", "t-running"))
		return err == nil && rec.Stage == pipeline.StageWait
	})
	_, stderr, code := runCmd(t, "process", "--config", r.cfgPath, r.path("processing", "t-running"))
	taken("process on a job the daemon runs", stderr, code)
	// The daemon claimed it already: the inbox path is gone.
	_, stderr, code = runCmd(t, "process", "--config", r.cfgPath, r.path("inbox", "t-running"))
	taken("process on a folder the daemon claimed", stderr, code)

	// A real race: process runs a folder in inbox/; the daemon claims it
	// meanwhile, and process finds its folder gone when it writes.
	// The folder is written in place (no rename), so the daemon waits for
	// it to settle while process, started at once, already runs it.
	writeTree(t, r.path("inbox", "t-race"), realseeFiles(t, 1, 8<<10))
	proc := exec.Command(binPath, "process", "--config", r.cfgPath, "--log-format", "json", r.path("inbox", "t-race"))
	var pout, perr bytes.Buffer
	proc.Stdout, proc.Stderr = &pout, &perr
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the daemon to claim t-race", 30*time.Second, func() bool {
		_, err := os.Stat(r.path("processing", "t-race"))
		return err == nil
	})
	r.gw.HoldTasks(false)
	err := proc.Wait()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	lines := strings.Split(strings.TrimSpace(perr.String()), "\n")
	taken("process that lost its folder to the daemon", lines[len(lines)-1], code)
	report(t, "process that lost the race: exit %d: %s", code, lines[len(lines)-1])

	// Nothing is lost: a daemon resumes the job (at once after a restart;
	// the running one would after its next scan for orphans).
	d.stop()
	r.start()
	if _, where := r.waitResult("t-race", 60*time.Second); where != "done" {
		t.Errorf("t-race landed in %s", where)
	}
	if _, where := r.waitResult("t-running", 60*time.Second); where != "done" {
		t.Errorf("t-running landed in %s", where)
	}
	if n := len(r.gw.Submits()); n != 2 {
		t.Errorf("%d submits, want 2 (one per job)", n)
	}
}
