//go:build linux

package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// doctor runs `scandrop doctor --config cfg` and returns its stdout,
// stderr and exit code; cred, if set, runs it as that user.
func doctor(t *testing.T, cfg string, cred *syscall.Credential) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binPath, "doctor", "--config", cfg)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("scandrop doctor (exit %d):\n%s%s", code, out.String(), errOut.String())
	return out.String(), errOut.String(), code
}

// lineOf returns the doctor line that starts with level and contains
// every one of parts, or "".
func lineOf(out, level string, parts ...string) string {
	for l := range strings.SplitSeq(out, "\n") {
		if !strings.HasPrefix(l, level+" ") {
			continue
		}
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return l
		}
	}
	return ""
}

// noSecrets fails if any of the rig's secrets is in s.
func noSecrets(t *testing.T, s string, extra ...string) {
	t.Helper()
	for _, secret := range append([]string{relRealseeSecret, relAholoSecret}, extra...) {
		if strings.Contains(s, secret) {
			t.Errorf("doctor printed a secret (%.8s…)", secret)
		}
	}
}

// Against vendors that accept the credentials and a healthy local watch
// folder: every check OK, exit 0.
func TestDoctorAllGood(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, aholo: &aholotest.Options{}})
	for _, sub := range []string{"inbox", "processing", "done", "failed"} {
		os.MkdirAll(r.path(sub), 0o755)
	}
	out, _, code := doctor(t, r.cfgPath, nil)
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	for _, want := range [][]string{
		{"OK", "config", "loads and is valid"},
		{"OK", "watch " + r.watchDir, "inbox/, processing/, done/ and failed/ on one file system"},
		{"OK", "watch " + r.watchDir, "file events arrive"},
		{"OK", "watch " + r.watchDir, "free"},
		{"OK", "realsee credentials: accepted (POST /auth/access_token)"},
		{"OK", "aholo credentials: accepted (GET /upload/token)"},
		{"OK", "realsee clock: within"},
		{"OK", "aholo clock: within"},
	} {
		if lineOf(out, want[0], want[1:]...) == "" {
			t.Errorf("no %s line saying %q", want[0], want[1:])
		}
	}
	if lineOf(out, "FAIL") != "" || lineOf(out, "WARN") != "" || !strings.HasSuffix(out, "doctor: all good\n") {
		t.Errorf("want no FAIL or WARN line and a last line saying all good")
	}
	noSecrets(t, out)
	if left, _ := filepath.Glob(r.path("*", ".scandrop-doctor-*")); len(left) > 0 {
		t.Errorf("probe files left behind: %v", left)
	}
	if n := r.gw.Requests()["/auth/access_token"]; n != 1 {
		t.Errorf("%d Realsee access_token calls, want one", n)
	}
	if n := r.ah.Calls("/v2/aholo/upload/token"); n != 1 {
		t.Errorf("%d Aholo upload/token calls, want one", n)
	}
}

// Against vendors that refuse the credentials: FAIL lines naming the
// vendor and the keys to fix, exit 1, no secret shown.
func TestDoctorRefusedCredentials(t *testing.T) {
	const wrong = "wrong-secret-NEVER-PRINTED-5d1e"
	for _, vendor := range []string{"realsee", "aholo"} {
		t.Run(vendor, func(t *testing.T) {
			r := newRig(t, rigOptions{realsee: &realseetest.Options{}, aholo: &aholotest.Options{}})
			secretFile := filepath.Join(r.root, vendor+".secret")
			os.WriteFile(secretFile, []byte(wrong+"\n"), 0o600)
			out, _, code := doctor(t, r.cfgPath, nil)
			if code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			keys := []string{vendor + ".app_key", vendor + ".app_secret_file (" + secretFile + ")"}
			refusal := "illegal app"
			if vendor == "aholo" {
				keys, refusal = append(keys, "aholo.appuid"), "sign error"
			}
			l := lineOf(out, "FAIL", append([]string{vendor + " credentials: the vendor refuses them", refusal, "; fix: "}, keys...)...)
			if l == "" {
				t.Errorf("no FAIL line naming %s, its refusal %q and the keys %v", vendor, refusal, keys)
			}
			other := map[string]string{"realsee": "aholo", "aholo": "realsee"}[vendor]
			if lineOf(out, "OK", other+" credentials: accepted") == "" {
				t.Errorf("the other vendor's good credentials are not OK")
			}
			if !strings.HasSuffix(out, "doctor: 1 problem(s), 0 warning(s)\n") {
				t.Errorf("the last line does not count one problem")
			}
			noSecrets(t, out, wrong)
		})
	}
}

// A missing watch folder and one the user cannot write: FAIL lines with
// the fix, exit 1.
func TestDoctorWatchProblems(t *testing.T) {
	root := t.TempDir()
	for p := root; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		os.Chmod(p, 0o755) // readable by the unprivileged user below
	}
	missing, locked := filepath.Join(root, "not-mounted"), filepath.Join(root, "locked")
	os.Mkdir(locked, 0o755)
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// root writes anywhere: run doctor as nobody, which cannot write
		// in a folder of root's with mode 0755.
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	} else {
		os.Chmod(locked, 0o555)
		t.Cleanup(func() { os.Chmod(locked, 0o755) })
	}
	cfg := filepath.Join(root, "config.yaml")
	os.WriteFile(cfg, fmt.Appendf(nil, "watches:\n  - dir: %s\n  - dir: %s\n", missing, locked), 0o644)
	out, _, code := doctor(t, cfg, cred)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if lineOf(out, "FAIL", "watch "+missing, "no such file or directory", "fix: create it, or mount the share") == "" {
		t.Error("no FAIL line for the missing watch folder with its fix")
	}
	if lineOf(out, "FAIL", "watch "+locked, "cannot write", "permission denied", "fix: give the account scandrop runs as") == "" {
		t.Error("no FAIL line for the unwritable watch folder with its fix")
	}
	if lineOf(out, "WARN", "no vendor section") == "" {
		t.Error("no WARN line for a config without vendors")
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("doctor created the missing watch folder")
	}
}

// A vendor whose clock is 10 minutes off this machine's: a WARN saying by
// how much and why it matters; the credentials are still OK.
func TestDoctorClockSkew(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}})
	late := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Date", time.Now().Add(-10*time.Minute).UTC().Format(http.TimeFormat))
		r.gw.ServeHTTP(w, req)
	}))
	defer late.Close()
	b, _ := os.ReadFile(r.cfgPath)
	os.WriteFile(r.cfgPath, bytes.Replace(b, []byte(r.gw.URL), []byte(late.URL), 1), 0o644)
	out, _, code := doctor(t, r.cfgPath, nil)
	if code != 0 {
		t.Errorf("exit %d, want 0 (a warning is no failure)", code)
	}
	l := lineOf(out, "WARN", "realsee clock", "ahead of realsee's", "access tokens expire", "NTP")
	if l == "" || !regexp.MustCompile(`(9m59|10m0)s ahead`).MatchString(l) {
		t.Errorf("no WARN line saying the clock is 10m ahead: %q", l)
	}
	if lineOf(out, "OK", "realsee credentials: accepted") == "" {
		t.Error("credentials not OK")
	}
}

// The listener: free, taken by a running scandrop (OK), taken by another
// program (FAIL); a notification command that does not exist (FAIL).
func TestDoctorListenerAndHooks(t *testing.T) {
	free := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go http.Serve(other, http.NotFoundHandler())

	ours := free()
	r := newRig(t, rigOptions{realsee: &realseetest.Options{},
		extraConfig: "http:\n  listen: " + ours + "\nnotify:\n  commands:\n    - run: [/bin/true]\n    - run: [no-such-program-5c2]\n"})
	out, _, code := doctor(t, r.cfgPath, nil)
	if code != 1 || lineOf(out, "OK", "http.listen "+ours, "free") == "" {
		t.Errorf("exit %d; want 1 and the free listener OK", code)
	}
	if lineOf(out, "OK", "notify.commands[0]", "/bin/true is executable") == "" ||
		lineOf(out, "FAIL", "notify.commands[1]", "no-such-program-5c2", "fix: install it") == "" {
		t.Error("want notify.commands[0] OK and [1] FAIL with a fix")
	}

	d := r.start()
	eventually(t, "the daemon's listener", 15*time.Second, func() bool { return strings.Contains(d.log.String(), "http listening") })
	out, _, _ = doctor(t, r.cfgPath, nil)
	if lineOf(out, "OK", "http.listen "+ours, "in use by a running scandrop") == "" {
		t.Error("the daemon's own listener is not recognised")
	}

	b, _ := os.ReadFile(r.cfgPath)
	os.WriteFile(r.cfgPath, bytes.Replace(b, []byte(ours), []byte(other.Addr().String()), 1), 0o644)
	out, _, _ = doctor(t, r.cfgPath, nil)
	if lineOf(out, "FAIL", "http.listen "+other.Addr().String(), "address already in use", "fix: choose a free http.listen") == "" {
		t.Error("a listener taken by another program is not a FAIL")
	}
}

// Usage and an unreadable config exit 2, as in every command.
func TestDoctorUsage(t *testing.T) {
	if out, code := runBin(t, "doctor", "extra"); code != 2 || !strings.Contains(out, "doctor takes no arguments") {
		t.Errorf("doctor extra: exit %d, %q", code, out)
	}
	if out, code := runBin(t, "doctor", "--config", filepath.Join(t.TempDir(), "nope.yaml")); code != 2 || !strings.Contains(out, "nope.yaml") {
		t.Errorf("missing config: exit %d, %q", code, out)
	}
}
