package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hookConfig writes a config with a webhook URL from ${HOOKURL} (and
// extra appended) and an environment file under f.root holding the
// Realsee secrets but not HOOKURL.
func hookConfig(t *testing.T, f svcFixture, extra string) {
	t.Helper()
	cfg := "watches:\n  - dir: " + f.watch + "\n    mode: poll\nrealsee:\n  app_key: ${REALSEE_APP_KEY}\n  app_secret: ${REALSEE_APP_SECRET}\nnotify:\n  webhooks:\n    - url: ${HOOKURL}\n" + extra
	if err := os.WriteFile(f.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ef := filepath.Join(f.root, "etc/scandrop/env")
	os.MkdirAll(filepath.Dir(ef), 0o755)
	if err := os.WriteFile(ef, []byte("REALSEE_APP_KEY=k\nREALSEE_APP_SECRET=s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Install checks the config with the environment file's values, never
// the installing shell's: whether HOOKURL is unset, garbage or a good URL
// in this shell, the install succeeds and names HOOKURL as still needed.
// A config error that is not the placeholder's still fails the install.
func TestServiceInstallIgnoresShellEnv(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("--root is not on Windows")
	}
	for _, tc := range []struct{ name, env string }{
		{"unset", ""},
		{"garbage", "HOOKURL=garbage"},
		{"good", "HOOKURL=https://x.example/abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSvcFixture(t, "config.yaml")
			hookConfig(t, f, "")
			if _, ok := os.LookupEnv("HOOKURL"); ok {
				t.Setenv("HOOKURL", "") // restored after the test
				os.Unsetenv("HOOKURL")
			}
			var env []string
			if tc.env != "" {
				env = append(env, tc.env)
			}
			out, errOut, code := runSvc(t, env, "service", "install", "--init", "systemd", "--root", f.root, "--config", f.config)
			if code != 0 {
				t.Fatalf("install: exit %d\n%s%s", code, out, errOut)
			}
			if !strings.Contains(out, "needs:       HOOKURL: not in "+filepath.Join(f.root, "etc/scandrop/env")+" yet") {
				t.Errorf("HOOKURL not listed as still needed:\n%s", out)
			}
			if strings.Contains(out, "REALSEE_APP") {
				t.Errorf("names the env file holds are listed as needed:\n%s", out)
			}
		})
	}

	// A field that fails only because of the placeholder: reported, not refused.
	f := newSvcFixture(t, "config.yaml")
	hookConfig(t, f, "  commands:\n    - run: [/bin/true]\n      timeout: ${HOOKTIMEOUT}\n")
	out, errOut, code := runSvc(t, nil, "service", "install", "--init", "systemd", "--root", f.root, "--config", f.config)
	if code != 0 || !strings.Contains(out, "HOOKTIMEOUT") || !strings.Contains(out, "unchecked:") {
		t.Errorf("a placeholder-only failure: exit %d\n%s%s", code, out, errOut)
	}

	// A real error next to a placeholder still fails the install.
	f = newSvcFixture(t, "config.yaml")
	hookConfig(t, f, "    - url: ftp://nope.example/\n")
	out, errOut, code = runSvc(t, []string{"HOOKURL=https://x.example/abc"}, "service", "install", "--init", "systemd", "--root", f.root, "--config", f.config)
	if code != exitUsage || !strings.Contains(errOut, "notify.webhooks[1].url: must start with https:// or http://") || strings.Contains(errOut, "webhooks[0]") {
		t.Errorf("a real config error: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(f.root, "etc/systemd/system/scandrop.service")); err == nil {
		t.Error("a refused install wrote the unit")
	}
}

// --run-as names an account that exists: an unknown one is refused at
// install, before anything is written; under --root, the root's
// etc/passwd is the system the account must exist on.
func TestServiceRunAsUnknownAccount(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows accounts are checked by the service control manager")
	}
	const nobody = "scandrop-no-such-user"
	f := newSvcFixture(t, "config.yaml")
	out, errOut, code := runSvc(t, nil, "service", "install", "--init", "systemd", "--root", f.root, "--config", f.config, "--run-as", nobody)
	if code != exitUsage || !strings.Contains(errOut, "--run-as "+nobody+": no such account on this machine") {
		t.Errorf("unknown account: exit %d\n%s%s", code, out, errOut)
	}
	if left := files(t, f.root); len(left) != 0 {
		t.Errorf("a refused install wrote %v", left)
	}
	// The root's own accounts, when it has them.
	os.MkdirAll(filepath.Join(f.root, "etc"), 0o755)
	os.WriteFile(filepath.Join(f.root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\n"+nobody+":x:990:990::/:/usr/sbin/nologin\n"), 0o644)
	out, errOut, code = runSvc(t, nil, "service", "install", "--init", "systemd", "--root", f.root, "--config", f.config, "--run-as", nobody)
	if code != 0 {
		t.Fatalf("account of the root: exit %d\n%s%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(f.root, "etc/systemd/system/scandrop.service")); !strings.Contains(string(b), "\nUser="+nobody+"\n") {
		t.Errorf("unit without User=%s:\n%s", nobody, b)
	}
	runSvc(t, nil, "service", "uninstall", "--init", "systemd", "--root", f.root)
	if _, errOut, code = runSvc(t, nil, "service", "install", "--init", "systemd", "--root", f.root, "--config", f.config, "--run-as", "daemon"); code != exitUsage || !strings.Contains(errOut, "no such account in "+filepath.Join(f.root, "etc/passwd")) {
		t.Errorf("an account of this machine but not of the root: exit %d %s", code, errOut)
	}
}

// A SysV daemon killed without a stop leaves its pid file: status says
// "crashed" and exits 1 (LSB: dead and pid file exists), not 3
// (stopped); start starts it again. Relocated into an empty --root,
// install writes the rc links (making the rcN.d folders) and uninstall
// --purge leaves the root as empty as it found it, folders included.
func TestServiceSysVCrashedStatus(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the SysV script runs on Linux")
	}
	f := newSvcFixture(t, "config.yaml")
	args := []string{"--init", "sysv", "--root", f.root}
	svc := func(action string, extra ...string) (string, string, int) {
		t.Helper()
		return runSvc(t, nil, append(append([]string{"service", action}, args...), extra...)...)
	}
	t.Cleanup(func() { svc("stop") })
	out, errOut, code := svc("install", "--config", f.config)
	if code != 0 {
		t.Fatalf("install: exit %d\n%s%s", code, out, errOut)
	}
	for _, rc := range []string{"rc2.d/S50scandrop", "rc5.d/S50scandrop", "rc0.d/K02scandrop", "rc6.d/K02scandrop"} {
		if link, err := os.Readlink(filepath.Join(f.root, "etc", rc)); err != nil || link != "../init.d/scandrop" {
			t.Errorf("%s: %q %v", rc, link, err)
		}
		if !strings.Contains(out, filepath.Join(f.root, "etc", rc)) {
			t.Errorf("install does not list %s:\n%s", rc, out)
		}
	}
	envPath := filepath.Join(f.root, "etc/scandrop/env")
	if err := os.WriteFile(envPath, []byte("REALSEE_APP_KEY=k\nREALSEE_APP_SECRET=s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := svc("start", "--settle", "1s"); code != 0 {
		t.Fatalf("start: exit %d\n%s%s", code, out, errOut)
	}
	pidFile := filepath.Join(f.root, "var/run/scandrop.pid")
	pb, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pb)))
	proc, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Kill(); err != nil { // SIGKILL: no stop, the pid file stays
		t.Fatal(err)
	}
	for i := 0; i < 100 && alive(pid); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	out, _, code = svc("status")
	if code != exitSvcDead || !strings.HasPrefix(out, "crashed: not running, pid file left") {
		t.Errorf("status after kill -9: exit %d %q", code, out)
	}
	if out, errOut, code := svc("start", "--settle", "1s"); code != 0 {
		t.Fatalf("start after a crash: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code = svc("status"); code != exitSvcRunning {
		t.Errorf("status after the new start: exit %d %q", code, out)
	}
	if out, errOut, code := svc("stop"); code != 0 {
		t.Fatalf("stop: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code = svc("status"); code != exitSvcStopped || !strings.HasPrefix(out, "stopped") {
		t.Errorf("status after stop: exit %d %q", code, out)
	}
	if out, errOut, code := svc("uninstall", "--purge"); code != 0 {
		t.Fatalf("uninstall: exit %d\n%s%s", code, out, errOut)
	}
	if left, _ := os.ReadDir(f.root); len(left) != 0 {
		var names []string
		filepath.WalkDir(f.root, func(p string, d fs.DirEntry, err error) error {
			names = append(names, strings.TrimPrefix(p, f.root))
			return nil
		})
		t.Errorf("uninstall --purge left %v", names)
	}
}
