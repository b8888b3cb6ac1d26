//go:build linux

package main

// Hostile secret files and echoed secrets, through the real binary: a
// secret file that is a FIFO, a device, a directory or huge is refused with
// a clear error and never hangs or grows the daemon; the credential gate's
// re-read of such a file holds up nothing else; a secret a vendor echoes in
// an error answer reaches neither the log, nor result.json, nor status.

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runBinWithin is runBin bounded in time: a command that hangs fails the
// test instead of the test run.
func runBinWithin(t *testing.T, within time.Duration, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), 0
	case <-time.After(within):
		cmd.Process.Kill()
		<-done
		t.Fatalf("scandrop %s hangs (%s)\n%s", strings.Join(args, " "), within, out.String())
		return "", -1
	}
}

// TestSecretFileNotRegularRefused: run and doctor refuse a secret file
// that is a FIFO, a symlink to /dev/zero, a directory or over 64 KiB, at
// once, with exit 2 and a message naming the key and the file; a symlink
// to a regular file (how Docker and Kubernetes mount secrets) is fine.
func TestSecretFileNotRegularRefused(t *testing.T) {
	cases := map[string]struct {
		make func(t *testing.T, path string)
		want string
	}{
		"fifo": {func(t *testing.T, p string) {
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "named pipe"},
		"dev-zero": {func(t *testing.T, p string) {
			if err := os.Symlink("/dev/zero", p); err != nil {
				t.Fatal(err)
			}
		}, "device"},
		"directory": {func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "directory"},
		"huge": {func(t *testing.T, p string) {
			if err := os.WriteFile(p, []byte(strings.Repeat("x", 100<<10)), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "65536 bytes"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			a := newAcctRig(t)
			p := filepath.Join(a.root, "acme-realsee.secret")
			os.Remove(p)
			c.make(t, p)
			for _, cmd := range []string{"run", "doctor"} {
				out, code := runBinWithin(t, 20*time.Second, cmd, "--config", a.cfgPath)
				if code != 2 || !strings.Contains(out, "app_secret_file") || !strings.Contains(out, p) || !strings.Contains(out, c.want) {
					t.Errorf("%s with the secret file a %s: exit %d, want 2 and a message naming the key, %s and %q\n%s", cmd, name, code, p, c.want, out)
				}
			}
		})
	}
	t.Run("symlink-to-regular", func(t *testing.T) {
		a := newAcctRig(t)
		p := filepath.Join(a.root, "acme-realsee.secret")
		real := filepath.Join(a.root, "..data-secret")
		if err := os.Rename(p, real); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(real, p); err != nil {
			t.Fatal(err)
		}
		out, _ := runBinWithin(t, 60*time.Second, "doctor", "--config", a.cfgPath)
		if !strings.Contains(out, "OK    realsee (account acme) credentials: accepted") {
			t.Errorf("doctor with the secret file a symlink to a regular file does not accept acme's credentials:\n%s", out)
		}
	})
}

// TestSecretFileFIFOWhileGateRereads: while acme's Realsee credentials
// are refused, the gate re-reads its secret file; that file turning into
// a FIFO holds up neither the other account's drops nor SIGTERM.
func TestSecretFileFIFOWhileGateRereads(t *testing.T) {
	a := newAcctRig(t)
	p := filepath.Join(a.root, "acme-realsee.secret")
	if err := os.WriteFile(p, []byte("wrong-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := a.start()
	eventually(t, "the gate to refuse acme's Realsee credentials", 20*time.Second, func() bool {
		return strings.Contains(a.logText(), "accounts[acme].realsee.app_secret_file")
	})
	os.Remove(p)
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second) // the gate re-reads every 2 s
	dropIn(t, a.own, "own-house", realseeNamed(t, "own-house"))
	dropIn(t, a.own, "own-aholo", aholoFiles(t, 2, 0))
	for _, name := range []string{"own-house", "own-aholo"} {
		if res, where := resultIn(t, a.own, name, 60*time.Second); where != "done" {
			t.Fatalf("the default account's drop %s landed in %s while acme's secret file is a FIFO: %v", name, where, res)
		}
	}
	start := time.Now()
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.waitExit(t, 10*time.Second)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("SIGTERM took %s to stop the daemon", took)
	}
}

// echoProxy fronts a vendor fake and answers the paths in echo with
// status code and body, as a vendor that echoes the credentials in its
// error answers does.
func echoProxy(t *testing.T, target string, echo map[string]string, code int) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if body, ok := echo[r.URL.Path]; ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			w.Write([]byte(body))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestSecretsEchoedByVendorRedacted: a vendor's error answer that echoes
// secrets, its own and other accounts', at start (the gate's ERROR line)
// and in a job (WARN "job failed", result.json, status --json), shows
// none of them anywhere.
func TestSecretsEchoedByVendorRedacted(t *testing.T) {
	a := newAcctRig(t)
	all := []string{ownRSSecret, ownAHSecret, acmeRSSecret, acmeAHSecret}
	echoed := "illegal app: app_key=rkB app_secret=" + strings.Join(all, " / ")
	body := `{"code":-1,"status":"` + echoed + `"}`
	ownURL := echoProxy(t, a.ownRS.URL, map[string]string{"/open/v1/pano/task/submit": body}, http.StatusBadRequest)
	acmeURL := echoProxy(t, a.acmeRS.URL, map[string]string{"/auth/access_token": body}, http.StatusOK)
	cfg, err := os.ReadFile(a.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(cfg), a.ownRS.URL+"\n", ownURL+"\n", 1)
	s = strings.Replace(s, a.acmeRS.URL+"\n", acmeURL+"\n", 1)
	if err := os.WriteFile(a.cfgPath, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	a.start()
	dropIn(t, a.own, "own-house", realseeNamed(t, "own-house"))
	res, where := resultIn(t, a.own, "own-house", 60*time.Second)
	if where != "failed" {
		t.Fatalf("the drop whose submit was refused landed in %s: %v", where, res)
	}
	eventually(t, "the gate's ERROR line about acme", 20*time.Second, func() bool {
		return strings.Contains(a.logText(), "accounts[acme].realsee.app_secret_file")
	})
	rj, err := os.ReadFile(filepath.Join(a.own, "failed", "own-house", "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	status, _ := runBin(t, "status", "--json", "--config", a.cfgPath)
	logText := a.logText()
	if !strings.Contains(string(rj), "illegal app") || !strings.Contains(string(rj), "[redacted]") {
		t.Errorf("result.json does not carry the vendor's (redacted) answer:\n%s", rj)
	}
	for _, sec := range all {
		for what, text := range map[string]string{"log": logText, "result.json": string(rj), "status --json": status} {
			if strings.Contains(text, sec) {
				t.Errorf("the %s holds the secret %q:\n%s", what, sec, text)
			}
		}
	}
}
