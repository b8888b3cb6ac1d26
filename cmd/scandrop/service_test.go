package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every test here installs into a temporary root (--root) with the init
// system named (--init): nothing is written to, or started on, the
// machine itself.

// runSvc runs the built binary with extra environment.
func runSvc(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// svcFixture is a config naming two secrets as ${NAME}, a watch folder
// anyone may write, and an empty root to install into. Every folder on
// the way is traversable, for a service run as another account.
type svcFixture struct {
	dir, root, config, watch string
}

const shellSecret = "shell-secret-must-not-be-written-anywhere"

func newSvcFixture(t *testing.T, configName string) svcFixture {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()+string(filepath.Separator)); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	f := svcFixture{dir: dir, root: filepath.Join(dir, "root"), config: filepath.Join(dir, configName), watch: filepath.Join(dir, "watch")}
	if err := os.MkdirAll(f.watch, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(f.watch, 0o777)
	cfg := "watches:\n  - dir: " + f.watch + "\n    mode: poll\nrealsee:\n  app_key: ${REALSEE_APP_KEY}\n  app_secret: ${REALSEE_APP_SECRET}\n"
	if err := os.WriteFile(f.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(f.root, 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

// files lists the regular files and links under dir, relative.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

// noSecretIn fails if the shell's secret reached any file under dir.
func noSecretIn(t *testing.T, dir string) {
	t.Helper()
	for _, f := range files(t, dir) {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		if bytes.Contains(b, []byte(shellSecret)) {
			t.Errorf("%s holds the installing shell's secret", f)
		}
	}
}

// systemdVerify runs systemd-analyze verify and fails on any complaint
// about the unit (it exits 0 on most of them).
func systemdVerify(t *testing.T, unit string, user bool) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian package systemd; scripts/install-test-deps installs it)")
	}
	args := []string{"verify", unit}
	cmd := exec.Command(sa, args...)
	if user {
		rt := t.TempDir()
		os.Chmod(rt, 0o700)
		cmd = exec.Command(sa, append([]string{"--user"}, args...)...)
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, filepath.Base(unit)) && !strings.Contains(line, "is added as a dependency to a non-existent unit") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
}

// The systemd unit, system and user scope: what install prints, what it
// writes (unit, enable link, a 0600 environment file listing the names
// the config needs, never a value from the installing shell), checked by
// systemd-analyze verify; status without systemd tells installed from
// not; uninstall removes all of it.
func TestServiceSystemdUnit(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("systemd is Linux only")
	}
	f := newSvcFixture(t, "config & co.yaml") // a space and an & to see them quoted
	env := []string{"REALSEE_APP_KEY=k", "REALSEE_APP_SECRET=" + shellSecret}
	args := []string{"--init", "systemd", "--root", f.root}

	out, _, code := runSvc(t, env, append([]string{"service", "status"}, args...)...)
	if code != exitSvcNotInstalled || !strings.HasPrefix(out, "not installed") {
		t.Fatalf("status before install: exit %d, %q", code, out)
	}
	out, errOut, code := runSvc(t, env, append([]string{"service", "install", "--config", f.config, "--run-as", "daemon"}, args...)...)
	if code != 0 {
		t.Fatalf("install: exit %d\n%s%s", code, out, errOut)
	}
	unitPath := filepath.Join(f.root, "etc/systemd/system/scandrop.service")
	envPath := filepath.Join(f.root, "etc/scandrop/env")
	for _, want := range []string{
		"unit:        " + unitPath,
		"enabled:     " + filepath.Join(f.root, "etc/systemd/system/multi-user.target.wants/scandrop.service"),
		"as user:     daemon",
		"environment: " + envPath + " (created, mode 0600)",
		"log:         the journal: journalctl -u scandrop",
		"needs:       REALSEE_APP_KEY, REALSEE_APP_SECRET",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("install output lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	t.Logf("unit:\n%s", unit)
	for _, want := range []string{
		"\nWants=network-online.target\nAfter=network-online.target remote-fs.target\n",
		"\nExecStart=\"" + binPath + "\" run --config \"" + f.config + "\"\n",
		"\nUser=daemon\n",
		"\nEnvironmentFile=-" + envPath + "\n",
		"\nStateDirectory=scandrop\n",
		"\nRestart=on-failure\n", "\nRestartSec=15\n", "\nKillMode=mixed\n", "\nTimeoutStopSec=60\n",
		"\n[Install]\nWantedBy=multi-user.target\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	if strings.Contains(unit, "StandardOutput=") || strings.Contains(unit, "sysconfig") || strings.Contains(unit, "/etc/default") {
		t.Error("the unit logs away from the journal or reads another environment file")
	}
	if link, err := os.Readlink(filepath.Join(f.root, "etc/systemd/system/multi-user.target.wants/scandrop.service")); err != nil || link != "../scandrop.service" {
		t.Errorf("enable link: %q %v", link, err)
	}
	fi, err := os.Stat(envPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("env file: %v %v", fi, err)
	}
	eb, _ := os.ReadFile(envPath)
	if !strings.Contains(string(eb), "\n#REALSEE_APP_SECRET=\n") {
		t.Errorf("env file does not list the names the config needs:\n%s", eb)
	}
	noSecretIn(t, f.root)
	systemdVerify(t, unitPath, false)

	// Installed twice: refused, naming what to do.
	_, errOut, code = runSvc(t, env, append([]string{"service", "install", "--config", f.config}, args...)...)
	if code != exitUsage || !strings.Contains(errOut, "already installed") {
		t.Errorf("second install: exit %d, %q", code, errOut)
	}
	// Not running (nothing manages a relocated unit): stopped.
	out, _, code = runSvc(t, env, append([]string{"service", "status"}, args...)...)
	if code != exitSvcStopped || !strings.HasPrefix(out, "stopped") {
		t.Errorf("status after install: exit %d, %q", code, out)
	}
	out, errOut, code = runSvc(t, env, append([]string{"service", "uninstall"}, args...)...)
	if code != 0 {
		t.Fatalf("uninstall: exit %d %s%s", code, out, errOut)
	}
	if left := files(t, f.root); len(left) != 0 {
		t.Errorf("uninstall left %v", left)
	}

	// The per-user unit: in the user's home, no account, no network
	// ordering (a user manager cannot see system units), default.target.
	home := filepath.Join(f.dir, "home")
	os.MkdirAll(home, 0o755)
	env = append(env, "HOME="+home)
	args = []string{"--init", "systemd", "--root", f.root, "--scope", "user"}
	out, errOut, code = runSvc(t, env, append([]string{"service", "install", "--config", f.config}, args...)...)
	if code != 0 {
		t.Fatalf("user install: exit %d\n%s%s", code, out, errOut)
	}
	userUnit := filepath.Join(f.root, home, ".config/systemd/user/scandrop.service")
	b, err = os.ReadFile(userUnit)
	if err != nil {
		t.Fatal(err)
	}
	unit = string(b)
	if strings.Contains(unit, "User=") || strings.Contains(unit, "network-online") || !strings.Contains(unit, "\nWantedBy=default.target\n") ||
		!strings.Contains(unit, "\nEnvironmentFile=-"+filepath.Join(f.root, home, ".config/scandrop/env")+"\n") {
		t.Errorf("user unit:\n%s", unit)
	}
	if !strings.Contains(out, "journalctl --user -u scandrop") || !strings.Contains(out, "loginctl enable-linger") {
		t.Errorf("user install output:\n%s", out)
	}
	systemdVerify(t, userUnit, true)
	if _, _, code = runSvc(t, env, append([]string{"service", "uninstall"}, args...)...); code != 0 {
		t.Fatalf("user uninstall: exit %d", code)
	}
	if left := files(t, f.root); len(left) != 0 {
		t.Errorf("user uninstall left %v", left)
	}
	// --run-as makes no sense for a user service.
	if _, errOut, code = runSvc(t, env, append([]string{"service", "install", "--config", f.config, "--run-as", "daemon"}, args...)...); code != exitUsage || !strings.Contains(errOut, "--run-as is for system services") {
		t.Errorf("user scope with --run-as: exit %d %q", code, errOut)
	}
}

// The SysV script, installed into a temporary root and run for real:
// refused start prints the log's tail, the service runs as the account
// with the environment file's secrets (not the installing shell's), status
// exits 0 running / 3 stopped / 4 not installed, and uninstall removes
// the script, rc links, pid file, log and logrotate file, keeping only the
// environment file holding secrets (and the state folder) until --purge.
func TestServiceSysVLifecycle(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the SysV script runs on Linux")
	}
	f := newSvcFixture(t, "config.yaml")
	for _, n := range "0123456" {
		os.MkdirAll(filepath.Join(f.root, "etc/rc"+string(n)+".d"), 0o755)
	}
	os.MkdirAll(filepath.Join(f.root, "etc/logrotate.d"), 0o755)
	env := []string{"REALSEE_APP_KEY=k", "REALSEE_APP_SECRET=" + shellSecret}
	args := []string{"--init", "sysv", "--root", f.root}
	account := ""
	if os.Getuid() == 0 {
		if _, err := user.Lookup("nobody"); err == nil {
			account = "nobody"
		}
	}
	svc := func(action string, extra ...string) (string, string, int) {
		t.Helper()
		return runSvc(t, env, append(append([]string{"service", action}, args...), extra...)...)
	}
	t.Cleanup(func() { svc("stop") }) // never leave a daemon behind

	install := []string{"--config", f.config}
	if account != "" {
		install = append(install, "--run-as", account)
	}
	out, errOut, code := svc("install", install...)
	if code != 0 {
		t.Fatalf("install: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("install:\n%s%s", out, errOut)
	script := filepath.Join(f.root, "etc/init.d/scandrop")
	envPath := filepath.Join(f.root, "etc/scandrop/env")
	logFile := filepath.Join(f.root, "var/log/scandrop/scandrop.log")
	for _, want := range []string{
		"init script: " + script,
		"S50scandrop", "K02scandrop",
		"environment: " + envPath + " (created, mode 0600)",
		"log:         " + logFile,
		"rotation:    " + filepath.Join(f.root, "etc/logrotate.d/scandrop"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("install output lacks %q", want)
		}
	}
	// The binary is a real one in the temp folder: allowed, with a warning.
	if !strings.Contains(errOut, "is in a temporary folder") {
		t.Errorf("no warning about a binary in the temp folder: %q", errOut)
	}
	if out, err := exec.Command("sh", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v %s", err, out)
	}
	for _, rc := range []string{"rc2.d/S50scandrop", "rc5.d/S50scandrop", "rc0.d/K02scandrop", "rc6.d/K02scandrop"} {
		if link, err := os.Readlink(filepath.Join(f.root, "etc", rc)); err != nil || link != "../init.d/scandrop" {
			t.Errorf("%s: %q %v", rc, link, err)
		}
	}
	noSecretIn(t, f.root)

	out, _, code = svc("status")
	if code != exitSvcStopped || !strings.HasPrefix(out, "stopped") {
		t.Errorf("status after install: exit %d %q", code, out)
	}
	// No secret in the environment file yet: the daemon refuses its
	// config, and start says why, from the log.
	out, errOut, code = svc("start")
	if code != exitFailed || !strings.Contains(errOut, "the last lines of "+logFile) || !strings.Contains(errOut, "${REALSEE_APP_KEY} is not set") || !strings.Contains(errOut, "start failed") {
		t.Fatalf("start without secrets: exit %d\n%s%s", code, out, errOut)
	}
	// A secret with "$" and a space is taken literally, as systemd does.
	const fileSecret = `from-the-file $HOME "q" x`
	ef, err := os.OpenFile(envPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(ef, "REALSEE_APP_KEY=k\nREALSEE_APP_SECRET="+fileSecret+"\n")
	ef.Close()
	out, errOut, code = svc("start", "--settle", "1s")
	if code != 0 {
		t.Fatalf("start: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = svc("status")
	if code != exitSvcRunning || !strings.HasPrefix(out, "running") {
		t.Fatalf("status after start: exit %d %q", code, out)
	}
	pidFile := filepath.Join(f.root, "var/run/scandrop.pid")
	pb, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pb)))
	if os.Getuid() == 0 {
		environ, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(environ, []byte("\x00REALSEE_APP_SECRET="+fileSecret+"\x00")) || bytes.Contains(environ, []byte(shellSecret)) {
			t.Error("the daemon does not have the environment file's secret, or has the installing shell's")
		}
		if !bytes.Contains(environ, []byte("STATE_DIRECTORY="+filepath.Join(f.root, "var/lib/scandrop"))) {
			t.Error("no STATE_DIRECTORY")
		}
	}
	if account != "" {
		u, _ := user.Lookup(account)
		st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if !strings.Contains(string(st), "\nUid:\t"+u.Uid+"\t") {
			t.Errorf("the daemon does not run as %s:\n%s", account, st)
		}
	}
	if lr, err := exec.LookPath("logrotate"); err != nil {
		t.Log("logrotate is not installed: its snippet is not checked")
	} else {
		out, err := exec.Command(lr, "-d", "-s", filepath.Join(f.dir, "logrotate.state"), filepath.Join(f.root, "etc/logrotate.d/scandrop")).CombinedOutput()
		if err != nil || strings.Contains(string(out), "error:") || !strings.Contains(string(out), logFile) {
			t.Errorf("logrotate -d: %v\n%s", err, out)
		}
	}
	out, errOut, code = svc("stop")
	if code != 0 {
		t.Fatalf("stop: exit %d %s%s", code, out, errOut)
	}
	if alive(pid) {
		t.Error("the daemon still runs after stop")
	}
	out, _, code = svc("status")
	if code != exitSvcStopped {
		t.Errorf("status after stop: exit %d %q", code, out)
	}

	out, errOut, code = svc("uninstall")
	if code != 0 {
		t.Fatalf("uninstall: exit %d %s%s", code, out, errOut)
	}
	if !strings.Contains(out, envPath+" (it holds secrets; --purge removes it)") {
		t.Errorf("uninstall does not say the env file is kept:\n%s", out)
	}
	if !strings.Contains(out, filepath.Join(f.root, "var/lib/scandrop")+" (claim.key") {
		t.Errorf("uninstall does not say the state folder is kept:\n%s", out)
	}
	if left := strings.Join(files(t, f.root), " "); left != "etc/scandrop/env var/lib/scandrop/claim.key" {
		t.Errorf("uninstall left %q, want only the env file with the secrets and the claim key", left)
	}
	out, _, code = svc("status")
	if code != exitSvcNotInstalled || !strings.HasPrefix(out, "not installed") {
		t.Errorf("status after uninstall: exit %d %q", code, out)
	}
	if _, _, code = svc("uninstall", "--purge"); code != 0 {
		t.Fatalf("uninstall --purge: exit %d", code)
	}
	if left := files(t, f.root); len(left) != 0 {
		t.Errorf("uninstall --purge left %v", left)
	}
	if _, err := os.Stat(filepath.Join(f.root, "var/lib/scandrop")); err == nil {
		t.Error("--purge left the state folder")
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(after, "Z")
}

// The environment file is read the same way by install (which lists the
// names still missing) and by the init scripts (which export them):
// literally, comments and non-assignments skipped.
func TestServiceEnvFileParsers(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "env")
	content := "# comment\n\nA=1\nB=two words $HOME `x` \"q\"\n  C=indented\n1BAD=x\nBAD-NAME=x\n; semicolon\nD=\nE=a=b\nF=last-without-newline"
	os.WriteFile(p, []byte(content), 0o600)
	got, exists, err := readEnvFile(p)
	if err != nil || !exists {
		t.Fatal(err)
	}
	script := "env_file=" + shQuote(p) + "\n" + shLoadEnv + "unset A B C D E F\nload_env\nfor n in A B C D E F; do eval \"[ \\\"\\${$n+set}\\\" = set ] && printf '%s=%s\\n' $n \\\"\\$$n\\\"\"; done\n"
	out, err := exec.Command("sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, out)
	}
	want := map[string]string{"A": "1", "B": "two words $HOME `x` \"q\"", "D": "", "E": "a=b", "F": "last-without-newline"}
	sh := map[string]string{}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			sh[k] = v
		}
	}
	for k, v := range want {
		if got[k] != v || sh[k] != v {
			t.Errorf("%s: go %q, sh %q, want %q", k, got[k], sh[k], v)
		}
	}
	if len(got) != len(want) || len(sh) != len(want) {
		t.Errorf("go %v, sh %v, want %v", got, sh, want)
	}
}

// OpenRC: the script is valid sh with supervise-daemon, the account, the
// log, the restart delay and the environment file.
func TestServiceOpenRCScript(t *testing.T) {
	f := newSvcFixture(t, "config.yaml")
	out, errOut, code := runSvc(t, nil, "service", "install", "--init", "openrc", "--root", f.root, "--config", f.config, "--run-as", "daemon")
	if code != 0 {
		t.Fatalf("install: exit %d\n%s%s", code, out, errOut)
	}
	script := filepath.Join(f.root, "etc/init.d/scandrop")
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		"#!/sbin/openrc-run\n", "\nsupervisor=supervise-daemon\n", "\ncommand='" + binPath + "'\n",
		"\ncommand_args='run --config '\\''" + f.config + "'\\'''\n", "\ncommand_user='daemon'\n",
		"\noutput_log='" + filepath.Join(f.root, "var/log/scandrop/scandrop.log") + "'\n",
		"\nrespawn_delay=15\n", "\nenv_file='" + filepath.Join(f.root, "etc/scandrop/env") + "'\n",
		"\tneed net\n", "\tload_env\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("openrc script lacks %q:\n%s", want, s)
		}
	}
	if out, err := exec.Command("sh", "-n", script).CombinedOutput(); err != nil {
		t.Errorf("sh -n: %v %s", err, out)
	}
	if link, err := os.Readlink(filepath.Join(f.root, "etc/runlevels/default/scandrop")); err != nil || link != "../../init.d/scandrop" {
		t.Errorf("runlevel link: %q %v", link, err)
	}
	if _, _, code := runSvc(t, nil, "service", "uninstall", "--init", "openrc", "--root", f.root); code != 0 {
		t.Fatal("uninstall")
	}
	if left := files(t, f.root); len(left) != 0 {
		t.Errorf("uninstall left %v", left)
	}
	// No per-user services in OpenRC: said so.
	if _, errOut, code := runSvc(t, nil, "service", "install", "--init", "openrc", "--scope", "user", "--root", f.root, "--config", f.config); code != exitUsage || !strings.Contains(errOut, "no per-user services") {
		t.Errorf("openrc --scope user: exit %d %q", code, errOut)
	}
}

// launchd: the plist is well-formed XML with the keys launchd needs, the
// paths escaped; a user agent goes to ~/Library/LaunchAgents with its log
// in ~/Library/Logs.
func TestServiceLaunchdPlist(t *testing.T) {
	f := newSvcFixture(t, "a<b>&'c\".yaml")
	home := filepath.Join(f.dir, "home")
	os.MkdirAll(home, 0o755)
	for _, tc := range []struct {
		scope, plist, log, user string
	}{
		{"system", "Library/LaunchDaemons/scandrop.plist", "Library/Logs/scandrop/scandrop.log", "daemon"},
		{"user", home + "/Library/LaunchAgents/scandrop.plist", home + "/Library/Logs/scandrop/scandrop.log", ""},
	} {
		args := []string{"service", "install", "--init", "launchd", "--scope", tc.scope, "--root", f.root, "--config", f.config}
		if tc.user != "" {
			args = append(args, "--run-as", tc.user)
		}
		out, errOut, code := runSvc(t, []string{"HOME=" + home, "REALSEE_APP_KEY=k", "REALSEE_APP_SECRET=" + shellSecret}, args...)
		if code != 0 {
			t.Fatalf("%s install: exit %d\n%s%s", tc.scope, code, out, errOut)
		}
		// launchd has no environment file: the names are reported.
		if !strings.Contains(errOut, "launchd reads no environment file") || !strings.Contains(errOut, "REALSEE_APP_SECRET") {
			t.Errorf("no warning about ${NAME}s under launchd: %q", errOut)
		}
		b, err := os.ReadFile(filepath.Join(f.root, tc.plist))
		if err != nil {
			t.Fatal(err)
		}
		keys := plistKeys(t, b)
		logFile := filepath.Join(f.root, tc.log)
		want := map[string]string{
			"Label": "scandrop", "ProgramArguments": binPath + "|run|--config|" + f.config,
			"RunAtLoad": "true", "KeepAlive": "true", "ThrottleInterval": "15", "ExitTimeOut": "60",
			"StandardOutPath": logFile, "StandardErrorPath": logFile, "UserName": tc.user,
		}
		for k, v := range want {
			if keys[k] != v {
				t.Errorf("%s plist %s = %q, want %q", tc.scope, k, keys[k], v)
			}
		}
		if !strings.Contains(out, "log:         "+logFile) {
			t.Errorf("install output:\n%s", out)
		}
		noSecretIn(t, f.root)
		if _, _, code := runSvc(t, []string{"HOME=" + home}, "service", "uninstall", "--init", "launchd", "--scope", tc.scope, "--root", f.root); code != 0 {
			t.Fatal("uninstall")
		}
		if left := files(t, f.root); len(left) != 0 {
			t.Errorf("uninstall left %v", left)
		}
	}
}

// plistKeys decodes a plist's top dict into key -> value: strings and
// numbers as text, <true/> as "true", arrays joined with "|".
func plistKeys(t *testing.T, b []byte) map[string]string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	keys := map[string]string{}
	var key string
	var inArray []string
	depth := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("plist is not well-formed XML: %v\n%s", err, b)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			switch el.Name.Local {
			case "key", "string", "integer":
				var s string
				if err := d.DecodeElement(&s, &el); err != nil {
					t.Fatal(err)
				}
				depth--
				switch {
				case el.Name.Local == "key":
					key = s
				case inArray != nil:
					inArray = append(inArray, s)
				default:
					keys[key] = s
				}
			case "true", "false":
				keys[key] = el.Name.Local
			case "array":
				inArray = []string{}
			}
		case xml.EndElement:
			depth--
			if el.Name.Local == "array" {
				keys[key] = strings.Join(inArray, "|")
				inArray = nil
			}
		}
	}
	if depth != 0 {
		t.Fatal("unbalanced plist")
	}
	return keys
}

// `go run` binaries are refused; real binaries anywhere, /tmp included,
// are not.
func TestServiceGoRunDetection(t *testing.T) {
	for p, refused := range map[string]bool{
		"/tmp/go-build3141592/b001/exe/scandrop":                              true,
		"/home/u/.cache/gotmp/go-build12/b001/exe/scandrop":                   true,
		`C:\Users\u\AppData\Local\Temp\go-build99\b001\exe\scandrop.exe`:      runtime.GOOS == "windows",
		"/tmp/go-build77/b123/scandrop.test":                                  true,
		"/tmp/scandrop":                                                       false,
		"/tmp/go-build-notes/scandrop":                                        false,
		"/usr/local/bin/scandrop":                                             false,
		"/opt/go-build1/b001/exe/../../../bin/scandrop-real/exe-not-a-go-run": false,
	} {
		var warn bytes.Buffer
		err := checkExe(p, &warn)
		if (err != nil) != refused {
			t.Errorf("%s: refused=%v, want %v (%v)", p, err != nil, refused, err)
		}
		if strings.HasPrefix(p, "/tmp/") && err == nil && !strings.Contains(warn.String(), "may be cleaned") {
			t.Errorf("%s: no warning", p)
		}
	}
}

// Where nothing is installed, status says so with exit 4 on every init
// system; an unknown --init or --scope is a usage error.
func TestServiceStatusNotInstalled(t *testing.T) {
	root := t.TempDir()
	for _, init := range []string{"systemd", "sysv", "openrc", "launchd"} {
		out, _, code := runSvc(t, []string{"HOME=" + root}, "service", "status", "--init", init, "--root", root)
		if code != exitSvcNotInstalled || !strings.HasPrefix(out, "not installed ("+init+": ") {
			t.Errorf("%s: exit %d %q", init, code, out)
		}
		out, errOut, code := runSvc(t, nil, "service", "start", "--init", init, "--root", root)
		if code != exitSvcNotInstalled || !strings.Contains(errOut, "not installed") {
			t.Errorf("%s start: exit %d %q %q", init, code, out, errOut)
		}
	}
	for _, args := range [][]string{{"--init", "upstart"}, {"--scope", "global"}, {"--init", "sysv", "--scope", "user"}} {
		_, errOut, code := runSvc(t, nil, append([]string{"service", "status", "--root", root}, args...)...)
		if code != exitUsage {
			t.Errorf("%v: exit %d %q", args, code, errOut)
		}
	}
	// --user, the old name of --run-as, still works and says so.
	_, errOut, _ := runSvc(t, nil, "service", "status", "--init", "sysv", "--root", root, "--user", "x")
	if !strings.Contains(errOut, "--user ACCOUNT is now --run-as ACCOUNT") {
		t.Errorf("--user: %q", errOut)
	}
}

// Windows service dependencies are service names: systemd's lines there
// would make the service fail to start.
func TestServiceConfigWindows(t *testing.T) {
	win := serviceConfig(`C:\ProgramData\scandrop\config.yaml`, `NAS\scans`, "windows")
	if strings.Join(win.Dependencies, ",") != "LanmanWorkstation" || win.Option["OnFailure"] != "restart" || win.Option["DelayedAutoStart"] != true || win.Option["OnFailureDelayDuration"] != "15s" {
		t.Errorf("windows: %+v", win)
	}
	if win.Arguments[2] != `C:\ProgramData\scandrop\config.yaml` || win.UserName != `NAS\scans` {
		t.Errorf("windows arguments %v user %q", win.Arguments, win.UserName)
	}
}

// Under a service manager, a daemon that ends on its own exits non-zero
// (so that recovery restarts it); one that is stopped does not exit.
func TestProgram(t *testing.T) {
	exited := make(chan int, 1)
	p := &program{exit: func(code int) { exited <- code }, run: func(ctx context.Context) error {
		return errors.New("watch dir vanished")
	}}
	p.Start(nil)
	select {
	case code := <-exited:
		if code == 0 {
			t.Error("exit 0 after a failure")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no exit")
	}

	stopped := make(chan struct{})
	p = &program{exit: func(code int) { exited <- code }, run: func(ctx context.Context) error {
		<-ctx.Done()
		close(stopped)
		return ctx.Err()
	}}
	p.Start(nil)
	if err := p.Stop(nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopped:
	default:
		t.Error("Stop returned before the daemon stopped")
	}
	select {
	case code := <-exited:
		t.Errorf("exit %d after a stop", code)
	default:
	}
}

// Where the .deb/.rpm installed the unit, service install and uninstall
// leave it to the package manager; status reports that unit.
func TestServicePackagedUnit(t *testing.T) {
	f := newSvcFixture(t, "config.yaml")
	pkg := filepath.Join(f.root, "usr/lib/systemd/system/scandrop.service")
	os.MkdirAll(filepath.Dir(pkg), 0o755)
	os.WriteFile(pkg, []byte("[Service]\nExecStart=/usr/bin/scandrop run\n"), 0o644)
	for _, action := range []string{"install", "uninstall"} {
		_, errOut, code := runSvc(t, nil, "service", action, "--init", "systemd", "--root", f.root, "--config", f.config)
		if code != exitUsage || !strings.Contains(errOut, "installed by its package ("+pkg+")") {
			t.Errorf("%s: exit %d %q", action, code, errOut)
		}
	}
	out, _, code := runSvc(t, nil, "service", "status", "--init", "systemd", "--root", f.root)
	if code != exitSvcStopped || !strings.Contains(out, pkg) {
		t.Errorf("status: exit %d %q", code, out)
	}
	if _, err := os.Stat(pkg); err != nil {
		t.Error("the package's unit was removed")
	}
}

// The live systemd path, on a per-user unit in a temporary home (the one
// place it can be taken without touching the system), with a systemctl
// and a journalctl that play a unit's states and record their calls:
// install reloads and enables, a start after which the unit is
// restarting after a failure prints the journal's tail and exits 1,
// status maps the states to its exit codes, uninstall disables and
// removes. (The unit itself is checked by systemd-analyze in
// TestServiceSystemdUnit.)
func TestServiceSystemdControl(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("systemd is Linux only")
	}
	f := newSvcFixture(t, "config.yaml")
	home, bin := filepath.Join(f.dir, "home"), filepath.Join(f.dir, "bin")
	os.MkdirAll(home, 0o755)
	os.MkdirAll(bin, 0o755)
	calls, state := filepath.Join(f.dir, "calls"), filepath.Join(f.dir, "state")
	os.WriteFile(filepath.Join(bin, "systemctl"), []byte("#!/bin/sh\necho \"systemctl $*\" >>"+shQuote(calls)+"\ncase \" $* \" in *\" show \"*) cat "+shQuote(state)+" ;; esac\nexit 0\n"), 0o755)
	os.WriteFile(filepath.Join(bin, "journalctl"), []byte("#!/bin/sh\necho \"journalctl $*\" >>"+shQuote(calls)+"\necho 'scandrop[42]: config.yaml:3: unknown key \"polll\"'\n"), 0o755)
	env := []string{"HOME=" + home, "PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}
	svc := func(action string, extra ...string) (string, string, int) {
		t.Helper()
		return runSvc(t, env, append([]string{"service", action, "--init", "systemd", "--scope", "user"}, extra...)...)
	}
	setState := func(active, sub string) {
		os.WriteFile(state, []byte("ActiveState="+active+"\nSubState="+sub+"\n"), 0o644)
	}
	callsSince := func() string { b, _ := os.ReadFile(calls); os.Remove(calls); return string(b) }

	out, errOut, code := svc("install", "--config", f.config)
	if code != 0 {
		t.Fatalf("install: exit %d\n%s%s", code, out, errOut)
	}
	if c := callsSince(); c != "systemctl --user daemon-reload\nsystemctl --user enable scandrop.service\n" {
		t.Errorf("install calls:\n%s", c)
	}
	unit := filepath.Join(home, ".config/systemd/user/scandrop.service")
	if _, err := os.Stat(unit); err != nil {
		t.Fatal(err)
	}

	setState("activating", "auto-restart")
	out, errOut, code = svc("start", "--settle", "0")
	if code != exitFailed || !strings.Contains(errOut, "start failed") || !strings.Contains(errOut, `unknown key "polll"`) || !strings.Contains(errOut, "the last lines of the journal: journalctl --user -u scandrop") {
		t.Errorf("failing start: exit %d\n%s%s", code, out, errOut)
	}
	if c := callsSince(); !strings.Contains(c, "systemctl --user start scandrop.service\n") || !strings.Contains(c, "journalctl --user -u scandrop.service -n 20 --no-pager") {
		t.Errorf("start calls:\n%s", c)
	}
	if out, _, code = svc("status"); code != exitSvcStopped || !strings.Contains(out, "stopped") || !strings.Contains(out, "activating/auto-restart") {
		t.Errorf("status while restarting: exit %d %q", code, out)
	}
	setState("active", "running")
	if out, errOut, code = svc("start", "--settle", "0"); code != 0 || strings.Contains(errOut, "journal") {
		t.Errorf("start: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code = svc("status"); code != exitSvcRunning || !strings.HasPrefix(out, "running") {
		t.Errorf("status running: exit %d %q", code, out)
	}
	setState("failed", "failed")
	if out, _, code = svc("status"); code != exitSvcStopped {
		t.Errorf("status failed: exit %d %q", code, out)
	}
	callsSince()
	setState("inactive", "dead")
	if out, errOut, code = svc("uninstall"); code != 0 {
		t.Fatalf("uninstall: exit %d %s%s", code, out, errOut)
	}
	if c := callsSince(); !strings.Contains(c, "systemctl --user disable scandrop.service\n") || !strings.HasSuffix(c, "systemctl --user daemon-reload\n") {
		t.Errorf("uninstall calls:\n%s", c)
	}
	if left := files(t, home); len(left) != 0 {
		t.Errorf("uninstall left %v", left)
	}
}

// Installing a system service without the rights says to use sudo or a
// per-user service, instead of a bare "permission denied".
func TestServiceNeedsRoot(t *testing.T) {
	if runtime.GOOS != "linux" || os.Getuid() != 0 {
		t.Skip("runs the binary as nobody: needs Linux and root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	f := newSvcFixture(t, "config.yaml")
	os.Chmod(f.root, 0o555)
	cmd := exec.Command("setpriv", "--reuid="+u.Uid, "--regid="+u.Gid, "--clear-groups", binPath, "service", "install", "--init", "systemd", "--root", f.root, "--config", f.config)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(string(out), "permission denied: a system service is installed and controlled as root (sudo scandrop service install") {
		t.Errorf("install as nobody: %v\n%s", err, out)
	}
	if left := files(t, f.root); len(left) != 0 {
		t.Errorf("a failed install left %v", left)
	}
}

// An install that fails half-way removes what it wrote.
func TestServiceInstallRollsBack(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("symlinks and rc folders")
	}
	f := newSvcFixture(t, "config.yaml")
	os.MkdirAll(filepath.Join(f.root, "etc/rc2.d"), 0o755)
	os.MkdirAll(filepath.Join(f.root, "etc/logrotate.d"), 0o755)
	os.MkdirAll(filepath.Join(f.root, "etc"), 0o755)
	os.WriteFile(filepath.Join(f.root, "etc/rc3.d"), []byte("not a folder"), 0o644) // the link there fails
	out, errOut, code := runSvc(t, nil, "service", "install", "--init", "sysv", "--root", f.root, "--config", f.config)
	if code == 0 {
		t.Fatalf("install succeeded:\n%s", out)
	}
	if left := strings.Join(files(t, f.root), " "); left != "etc/rc3.d" {
		t.Errorf("a failed install left %q (%s)", left, errOut)
	}
	for _, d := range []string{"etc/scandrop", "var/log/scandrop"} {
		if _, err := os.Stat(filepath.Join(f.root, d)); err == nil {
			t.Errorf("a failed install left %s", d)
		}
	}
}
