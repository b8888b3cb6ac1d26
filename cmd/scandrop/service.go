package main

// `scandrop service`: installs scandrop as a service of the machine's init
// system, and starts, stops, inspects and removes it.
//
// kardianos/service picks the init system (and, on Windows, is the
// service: it installs into and answers the service control manager). On
// Linux and macOS scandrop writes its own files (service_files.go) and
// drives systemctl, the init script, rc-service or launchctl itself: the
// library's files differ per init system (root on SysV, /etc/sysconfig,
// logs in /var/log), its uninstall leaves rc links, pid file and logs,
// its SysV status fails on a stopped service, and its paths cannot be
// redirected for a test.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kardianos/service"
	"github.com/scandrop/scandrop/internal/config"
)

// Exit codes of `scandrop service status` (LSB init script codes, as
// systemctl status uses them).
const (
	exitSvcRunning      = 0
	exitSvcUnknown      = 1 // the service manager could not be asked
	exitSvcDead         = 1 // SysV: not running, but its pid file is left (killed, crashed)
	exitSvcStopped      = 3 // installed, not running (also: failed, restarting)
	exitSvcNotInstalled = 4
)

// exitStatus is an error that sets the exit code; msg, if any, is
// printed as "scandrop: msg".
type exitStatus struct {
	code int
	msg  string
}

func (e exitStatus) Error() string {
	if e.msg == "" {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.msg
}

// serviceOptions are the flags of `scandrop service ACTION`.
type serviceOptions struct {
	Action string // install, uninstall, start, stop, restart, status
	Config string // install: the config file (made absolute)
	Scope  string // "system" (default) or "user": a per-user service
	RunAs  string // install, system scope: the account the service runs as
	Init   string // "" detects; systemd, sysv, openrc, launchd, windows
	Root   string // relocates the whole installation under this folder
	Purge  bool   // uninstall: remove the environment file holding secrets too
	// Settle is how long start waits before it checks that the service
	// still runs (a config error ends it within a second or two).
	Settle time.Duration
	Exe    string // the binary the service runs; default this one
	Home   string // user scope: the home folder; default the current user's
	GOOS   string // default runtime.GOOS
}

const serviceUsage = `usage: scandrop service install|uninstall|start|stop|restart|status [flags]
  --config FILE       install: the config the service runs with (checked first)
  --scope system|user system (default): a system service; user: a per-user service
                      (systemd --user unit, launchd agent), no root needed
  --run-as ACCOUNT    install: the account a system service runs as (default root/LocalSystem);
                      it must exist (under --root: in DIR/etc/passwd if there is one);
                      Windows: one that can reach the SMB shares, checked by the service manager
  --purge             uninstall: also remove the environment file (secrets) and the state folder
  --init NAME         systemd, sysv, openrc, launchd or windows, instead of the detected one
  --root DIR          relocate the installation (files, env file, log, pid file) under DIR
  --settle DURATION   start: how long the service must keep running to count as started (3s)
status exits 0 running, 1 dead with its pid file left (crashed, killed) or state unknown,
3 stopped, 4 not installed (the LSB init script codes).`

// runService carries out o.Action.
func runService(ctx context.Context, o serviceOptions, stdout, stderr io.Writer) error {
	switch o.Action {
	case "install", "uninstall", "start", "stop", "restart", "status":
	default:
		return usageError{fmt.Sprintf("unknown service action %q\n%s", o.Action, serviceUsage)}
	}
	if o.GOOS == "" {
		o.GOOS = runtime.GOOS
	}
	if o.Scope != "system" && o.Scope != "user" {
		return usageError{fmt.Sprintf("--scope %q: system or user", o.Scope)}
	}
	init, err := detectInit(o.Init, o.GOOS)
	if err != nil {
		return err
	}
	if o.Scope == "user" {
		if init != "systemd" && init != "launchd" {
			return usageError{fmt.Sprintf("--scope user: %s has no per-user services (systemd and launchd have)", init)}
		}
		if o.RunAs != "" {
			return usageError{"--run-as is for system services: a per-user service runs as its user"}
		}
	}
	if init == "windows" {
		if o.Root != "" {
			return usageError{"--root: not on Windows"}
		}
		return runWindowsService(o, stdout)
	}
	root := "/"
	if o.Root != "" {
		if root, err = filepath.Abs(o.Root); err != nil {
			return err
		}
		root = filepath.ToSlash(root)
	}
	home := o.Home
	if o.Scope == "user" && home == "" {
		if home, err = os.UserHomeDir(); err != nil {
			return err
		}
	}
	l := newLayout(init, o.Scope, root, filepath.ToSlash(home))
	l.runAs = o.RunAs
	if pkg := packagedUnit(l); pkg != "" {
		// The .deb/.rpm's unit: systemctl drives it; the package manager
		// installs and removes it.
		if o.Action == "install" || o.Action == "uninstall" {
			return usageError{fmt.Sprintf("scandrop is installed by its package (%s): configure it in /etc/scandrop/, remove it with the package manager (apt remove scandrop, dnf remove scandrop)", pkg)}
		}
		l.unit, l.links = strings.TrimPrefix(pkg, strings.TrimSuffix(l.root, "/")), nil
	}
	switch o.Action {
	case "install":
		err = installService(ctx, o, l, stdout, stderr)
	case "uninstall":
		err = uninstallService(ctx, o, l, stdout, stderr)
	case "status":
		return serviceStatus(ctx, l, stdout)
	default:
		err = controlService(ctx, o, l, stdout, stderr)
	}
	if errors.Is(err, os.ErrPermission) && o.Scope == "system" {
		return usageError{fmt.Sprintf("%v: a system service is installed and controlled as root (sudo scandrop service %s ...); --scope user installs one for you alone", err, o.Action)}
	}
	return err
}

// packagedUnit is the unit the .deb or .rpm installed, if that is what
// is there rather than one of `service install`.
func packagedUnit(l *serviceLayout) string {
	if l.init != "systemd" || l.scope != "system" {
		return ""
	}
	if _, err := os.Stat(l.at(l.unit)); err == nil {
		return ""
	}
	for _, p := range []string{"/usr/lib/systemd/system/scandrop.service", "/lib/systemd/system/scandrop.service"} {
		if _, err := os.Stat(l.at(p)); err == nil {
			return l.at(p)
		}
	}
	return ""
}

// detectInit names the init system: the one asked for, or the one
// kardianos/service detects.
func detectInit(asked, goos string) (string, error) {
	switch asked {
	case "systemd", "sysv", "openrc", "launchd", "windows":
		return asked, nil
	case "":
	default:
		return "", usageError{fmt.Sprintf("--init %q: systemd, sysv, openrc, launchd or windows", asked)}
	}
	switch goos {
	case "windows":
		return "windows", nil
	case "darwin":
		return "launchd", nil
	}
	name := service.Platform()
	switch name {
	case "linux-systemd":
		return "systemd", nil
	case "unix-systemv":
		return "sysv", nil
	case "linux-openrc":
		return "openrc", nil
	}
	// Upstart (last released 2014, its distributions end-of-life),
	// BusyBox rcS and OpenWrt's procd: nothing scandrop is deployed on
	// (NAS boxes take the container), and nothing it can test.
	return "", usageError{fmt.Sprintf("this machine's init system (%s) is not one scandrop installs into: systemd, SysV init, OpenRC, launchd and Windows are; run `scandrop run --config FILE` under your own supervisor, or force one with --init", orUnknown(name))}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// goRunBinary matches the binaries `go run` and `go test` build:
// $GOTMPDIR/go-buildNNN/bNNN/exe/NAME (or bNNN/NAME.test).
var goRunBinary = regexp.MustCompile(`(^|/)go-build[0-9]+/b[0-9]+/(exe/[^/]+|[^/]+\.test(\.exe)?)$`)

// checkExe refuses a binary that will be gone when the service starts,
// and warns about one that may be.
func checkExe(exe string, stderr io.Writer) error {
	slash := filepath.ToSlash(exe)
	if goRunBinary.MatchString(slash) {
		return usageError{fmt.Sprintf("%s is a temporary build of `go run`: install scandrop first (go install, make build, a release archive) and run service install from there", exe)}
	}
	tmp := filepath.ToSlash(filepath.Clean(os.TempDir()))
	for _, t := range []string{tmp, "/tmp", "/var/tmp"} {
		if strings.HasPrefix(slash, strings.TrimSuffix(t, "/")+"/") {
			fmt.Fprintf(stderr, "scandrop: WARN %s is in a temporary folder (%s), which may be cleaned at boot: the service would then fail to start\n", exe, t)
			break
		}
	}
	return nil
}

// badPathChars are refused in every path written into a unit or script:
// a newline would start a directive of its own.
func checkPathChars(what, p string) error {
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return usageError{fmt.Sprintf("%s %q: control characters are not allowed in a service's paths", what, p)}
		}
	}
	return nil
}

var unixAccount = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$`)

// installService writes the service's files, enables it and says what
// it did. If it fails half-way, what it wrote is removed again.
func installService(ctx context.Context, o serviceOptions, l *serviceLayout, stdout, stderr io.Writer) (err error) {
	if l.exe, err = serviceExe(o, stderr); err != nil {
		return err
	}
	cfgPath := o.Config
	if cfgPath == "" {
		if cfgPath, err = config.Find(); err != nil {
			return usageError{err.Error()}
		}
	}
	if cfgPath, err = filepath.Abs(cfgPath); err != nil {
		return err
	}
	l.config = filepath.ToSlash(cfgPath)
	for what, p := range map[string]string{"the binary": l.exe, "--config": l.config, "--root": l.root} {
		if err := checkPathChars(what, p); err != nil {
			return err
		}
	}
	if l.runAs != "" {
		if !unixAccount.MatchString(l.runAs) {
			return usageError{fmt.Sprintf("--run-as %q: not a user name", l.runAs)}
		}
		if err := accountExists(l); err != nil {
			return usageError{fmt.Sprintf("--run-as %s: %v: create the account first (e.g. useradd --system --no-create-home %s), or leave --run-as out", l.runAs, err, l.runAs)}
		}
	}
	if _, err := os.Stat(l.at(l.unit)); err == nil {
		return usageError{fmt.Sprintf("already installed: %s exists. To run a new binary at the same path: scandrop service restart; to change the install: scandrop service uninstall first", l.at(l.unit))}
	}

	// The config as the service will see it: ${NAME}s from the
	// environment file, not from this shell.
	envVals, envExists, err := readEnvFile(l.at(l.envFile))
	if err != nil {
		return err
	}
	needs, deferred, err := checkServiceConfig(cfgPath, envVals)
	if err != nil {
		return err
	}

	var created []string
	note := func(p string) { created = append(created, p) }
	// mkdir makes folder d and notes each folder it creates, the outer
	// first, so that a rollback removes them inner first.
	mkdir := func(d string) error {
		var missing []string
		for p := d; ; p = filepath.Dir(p) {
			if _, err := os.Lstat(p); err == nil || p == filepath.Dir(p) {
				break
			}
			missing = append(missing, p)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		for i := len(missing) - 1; i >= 0; i-- {
			note(missing[i])
		}
		return nil
	}
	defer func() {
		if err != nil {
			for i := len(created) - 1; i >= 0; i-- {
				os.Remove(created[i])
			}
		}
	}()
	// Environment file: root-only (it is read as root, before the drop to
	// the service account); a user service's belongs to its user.
	envNote := ""
	if l.envFile != "" {
		ef := l.at(l.envFile)
		if !envExists {
			if err := mkdir(filepath.Dir(ef)); err != nil {
				return err
			}
			if err := writeFileExcl(ef, renderEnvFile(needs), 0o600); err != nil {
				return err
			}
			note(ef)
			envNote = " (created, mode 0600)"
		} else if fi, err := os.Stat(ef); err == nil && fi.Mode().Perm()&0o077 != 0 {
			fmt.Fprintf(stderr, "scandrop: WARN %s is readable by others (mode %04o): chmod 600 %s\n", ef, fi.Mode().Perm(), ef)
		}
	}
	for _, old := range []string{"/etc/default/scandrop", "/etc/sysconfig/scandrop"} {
		if l.scope == "system" && l.envFile != "" {
			if _, err := os.Stat(l.at(old)); err == nil {
				fmt.Fprintf(stderr, "scandrop: WARN %s is no longer read: move its lines into %s\n", l.at(old), l.at(l.envFile))
			}
		}
	}
	if l.logDir != "" {
		if err := mkdir(l.at(l.logDir)); err != nil {
			return err
		}
		if l.init == "launchd" && l.runAs != "" { // launchd opens the log as the account
			if u, err := user.Lookup(l.runAs); err == nil {
				chownNumeric(l.at(l.logDir), u.Uid, u.Gid)
			}
		}
	}
	mode := os.FileMode(0o644)
	if l.init == "sysv" || l.init == "openrc" {
		mode = 0o755
	}
	if err := mkdir(filepath.Dir(l.at(l.unit))); err != nil {
		return err
	}
	if err := writeFileExcl(l.at(l.unit), renderUnit(l), mode); err != nil {
		return err
	}
	note(l.at(l.unit))
	rotated := false
	if l.rotate != "" {
		if _, err := os.Stat(filepath.Dir(l.at(l.rotate))); err == nil {
			if err := os.WriteFile(l.at(l.rotate), []byte(renderLogrotate(l)), 0o644); err != nil {
				return err
			}
			note(l.at(l.rotate))
			rotated = true
		}
	}
	// Enable: start at boot.
	enabled, skipped, err := enableService(ctx, l, mkdir)
	for _, link := range enabled {
		if l.init == "sysv" || l.root != "/" { // links scandrop made itself
			note(link)
		}
	}
	if err != nil {
		return err
	}

	p := func(k, v string) { fmt.Fprintf(stdout, "  %-12s %s\n", k+":", v) }
	fmt.Fprintf(stdout, "scandrop service installed (%s, %s scope):\n", l.init, l.scope)
	p(map[string]string{"systemd": "unit", "sysv": "init script", "openrc": "init script", "launchd": "plist"}[l.init], l.at(l.unit))
	if len(enabled) > 0 {
		p("enabled", strings.Join(enabled, ", "))
	}
	if len(skipped) > 0 {
		p("not enabled", "no "+strings.Join(skipped, ", ")+" here: it does not start at boot by those; use the distribution's tool (update-rc.d scandrop defaults, chkconfig --add scandrop)")
	}
	p("runs", l.exe+" run --config "+l.config)
	p("as user", describeAccount(l))
	switch {
	case l.envFile != "":
		p("environment", l.at(l.envFile)+envNote+"; NAME=value lines, read at start")
	case len(needs) > 0:
		fmt.Fprintf(stderr, "scandrop: WARN launchd reads no environment file: the service will not see %s. Put each secret into a file (mode 0600) and name it in the config (app_secret_file:, secret_file:, token_file:) instead of ${NAME}\n", strings.Join(needs, ", "))
	}
	p("log", l.logWhere())
	if rotated {
		p("rotation", l.at(l.rotate)+" (logrotate, weekly, 8 kept)")
	} else if l.rotate != "" {
		p("rotation", "none: no "+filepath.Dir(l.at(l.rotate))+" (install logrotate, or see Logs in the README)")
	}
	if len(needs) > 0 && l.envFile != "" {
		p("needs", strings.Join(needs, ", ")+": not in "+l.at(l.envFile)+" yet")
	}
	for _, d := range deferred {
		p("unchecked", d+" (checked once the value is set)")
	}
	if l.init == "systemd" && l.scope == "user" {
		fmt.Fprintln(stdout, "To start it at boot without a login: loginctl enable-linger "+currentUserName())
	}
	start := "scandrop service start"
	if l.scope == "user" {
		start += " --scope user"
	}
	if o.Root != "" {
		start += " --root " + o.Root
	}
	if l.root != "/" && l.init != "sysv" {
		start = l.init + " starts it where these files are the root"
	}
	if len(needs) > 0 && l.envFile != "" {
		fmt.Fprintf(stdout, "Next: put %s into %s, then: %s\n", strings.Join(needs, ", "), l.at(l.envFile), start)
	} else {
		fmt.Fprintf(stdout, "Next: %s\n", start)
	}
	return nil
}

// accountExists checks that l.runAs is an account of the system the
// service will run on: under --root, that root's etc/passwd if it has one
// (an image being prepared), else this machine's. (Windows accounts are
// left to the service control manager, which refuses an unknown one at
// install.)
func accountExists(l *serviceLayout) error {
	if l.root != "/" {
		if f, err := os.Open(l.at("/etc/passwd")); err == nil {
			defer f.Close()
			sc := bufio.NewScanner(io.LimitReader(f, 16<<20))
			for sc.Scan() {
				if name, _, _ := strings.Cut(sc.Text(), ":"); name == l.runAs {
					return nil
				}
			}
			if err := sc.Err(); err != nil {
				return err
			}
			return fmt.Errorf("no such account in %s", l.at("/etc/passwd"))
		}
	}
	if _, err := user.Lookup(l.runAs); err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return errors.New("no such account on this machine")
		}
		return fmt.Errorf("cannot look the account up: %v", err)
	}
	return nil
}

func currentUserName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "$USER"
}

func describeAccount(l *serviceLayout) string {
	switch {
	case l.runAs != "":
		return l.runAs
	case l.scope == "user":
		return currentUserName() + " (a per-user service)"
	}
	return "root (--run-as ACCOUNT for a dedicated account)"
}

// serviceExe is the binary the service will run: o.Exe or this one.
func serviceExe(o serviceOptions, stderr io.Writer) (string, error) {
	exe := o.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return "", err
		}
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
	}
	if err := checkExe(exe, stderr); err != nil {
		return "", err
	}
	return filepath.ToSlash(exe), nil
}

// placeholderValue stands in, for the install-time check, for a ${NAME}
// the environment file does not hold yet: an https URL on a reserved
// host (RFC 2606 .invalid), valid as a URL, an endpoint and a plain string.
const placeholderValue = "https://scandrop-placeholder.invalid"

// checkServiceConfig loads the config as the service will: ${NAME} from
// the environment file (env), never from this shell. A name the file does
// not hold is needed: it is returned, and checked as placeholderValue.
// A problem on a line that names a needed ${NAME} is the placeholder's
// (say, a number or a URL built around it): it is returned in deferred,
// to be checked when the value is there, not refused.
func checkServiceConfig(path string, env map[string]string) (needs, deferred []string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, usageError{err.Error()}
	}
	missing := map[string]bool{}
	lookup := func(name string) (string, bool) {
		if v, ok := env[name]; ok {
			return v, true
		}
		missing[name] = true
		return placeholderValue, true
	}
	_, perr := config.ParseEnv(data, path, lookup)
	for n := range missing {
		needs = append(needs, n)
	}
	sort.Strings(needs)
	if perr == nil {
		return needs, nil, nil
	}
	lines := strings.Split(string(data), "\n")
	var real []string
	for _, p := range configProblems(perr) {
		msg := p.Error()
		if n := problemLine(msg, path); n > 0 && n <= len(lines) && namesMissing(lines[n-1], missing) {
			deferred = append(deferred, msg)
			continue
		}
		real = append(real, msg)
	}
	if len(real) > 0 {
		return nil, nil, usageError{strings.Join(real, "\n")}
	}
	return needs, deferred, nil
}

// configProblems splits config.ParseEnv's error into its problems (one
// per line of the config).
func configProblems(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// problemLine is the config line a problem ("FILE:LINE: msg") is about, 0
// if none.
func problemLine(msg, file string) int {
	rest, ok := strings.CutPrefix(msg, file+":")
	if !ok {
		return 0
	}
	digits, _, ok := strings.Cut(rest, ":")
	if !ok {
		return 0
	}
	n := 0
	if _, err := fmt.Sscanf(digits, "%d", &n); err != nil {
		return 0
	}
	return n
}

// namesMissing reports whether line refers to one of the names as ${NAME}.
func namesMissing(line string, missing map[string]bool) bool {
	for n := range missing {
		if strings.Contains(line, "${"+n+"}") {
			return true
		}
	}
	return false
}

// readEnvFile reads NAME=value lines as the init scripts and systemd do.
// A missing file is no error.
func readEnvFile(p string) (map[string]string, bool, error) {
	vals := map[string]string{}
	if p == "" {
		return vals, false, nil
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return vals, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if ok && validEnvName(name) {
			vals[name] = val
		}
	}
	return vals, true, sc.Err()
}

func validEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func writeFileExcl(p, content string, mode os.FileMode) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil { // whatever the umask
		f.Close()
		return err
	}
	return f.Close()
}

// enableService makes the service start at boot and returns the links
// that do it. Relocated (--root), it makes the links itself, as
// systemctl enable and rc-update add would, and the folders they are in
// with mkdir. A live SysV machine without one of the rcN.d folders gets
// no link there: skipped names the folder.
func enableService(ctx context.Context, l *serviceLayout, mkdir func(string) error) (made, skipped []string, err error) {
	live := l.root == "/"
	switch {
	case l.init == "systemd" && live:
		args := systemctlArgs(l)
		if err := runTool(ctx, "systemctl", append(args, "daemon-reload")...); err != nil {
			return nil, nil, err
		}
		if err := runTool(ctx, "systemctl", append(args, "enable", "scandrop.service")...); err != nil {
			return nil, nil, err
		}
		return l.links, nil, nil
	case l.init == "openrc" && live:
		if err := runTool(ctx, "rc-update", "add", "scandrop", "default"); err != nil {
			return nil, nil, err
		}
		return l.links, nil, nil
	case l.init == "launchd":
		return nil, nil, nil // RunAtLoad: loaded by start, and at every boot
	}
	for _, link := range l.links {
		dir := filepath.Dir(l.at(link))
		if l.init == "sysv" && l.root == "/" {
			if _, err := os.Stat(dir); err != nil {
				skipped = append(skipped, dir) // no such runlevel folder here
				continue
			}
		} else if err := mkdir(dir); err != nil {
			return made, skipped, err
		}
		target, err := filepath.Rel(dir, l.at(l.unit)) // as update-rc.d makes them
		if err != nil {
			return made, skipped, err
		}
		if err := os.Symlink(target, l.at(link)); err != nil && !errors.Is(err, os.ErrExist) {
			return made, skipped, err
		}
		made = append(made, l.at(link))
	}
	return made, skipped, nil
}

func systemctlArgs(l *serviceLayout) []string {
	if l.scope == "user" {
		return []string{"--user"}
	}
	return nil
}

// runTool runs a service manager's command; its output becomes part of
// the error.
func runTool(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func chownNumeric(p, uid, gid string) {
	var u, g int
	if _, err := fmt.Sscan(uid, &u); err != nil {
		return
	}
	if _, err := fmt.Sscan(gid, &g); err != nil {
		return
	}
	_ = os.Chown(p, u, g)
}

// serviceState asks the init system whether the service runs. detail
// says more (systemd's sub-state: "auto-restart", "failed"). dead: not
// running, but not stopped either (the SysV script's LSB status 1: the
// pid file is left, the daemon was killed or crashed).
func serviceState(ctx context.Context, l *serviceLayout) (installed, running, dead bool, detail string, err error) {
	if _, err := os.Stat(l.at(l.unit)); err != nil {
		return false, false, false, "", nil
	}
	if l.root != "/" && l.init != "sysv" {
		return true, false, false, "relocated with --root: not known to the service manager", nil
	}
	switch l.init {
	case "systemd":
		out, err := exec.CommandContext(ctx, "systemctl", append(systemctlArgs(l), "show", "scandrop.service", "-p", "ActiveState", "-p", "SubState")...).Output()
		if err != nil {
			return true, false, false, "", fmt.Errorf("systemctl show: %v", err)
		}
		var active, sub string
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "ActiveState="); ok {
				active = v
			} else if v, ok := strings.CutPrefix(line, "SubState="); ok {
				sub = v
			}
		}
		return true, active == "active" && sub == "running", false, active + "/" + sub, nil
	case "sysv", "openrc":
		cmd := exec.CommandContext(ctx, l.at(l.unit), "status")
		cmd.Env = cleanEnv()
		if l.init == "openrc" {
			cmd = exec.CommandContext(ctx, "rc-service", "scandrop", "status")
		}
		out, err := cmd.Output()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return true, true, false, strings.TrimSpace(string(out)), nil
		case errors.As(err, &ee):
			return true, false, l.init == "sysv" && ee.ExitCode() == 1, strings.TrimSpace(string(out)), nil
		}
		return true, false, false, "", err
	case "launchd":
		out, _ := exec.CommandContext(ctx, "launchctl", "list", "scandrop").Output()
		return true, regexp.MustCompile(`"PID" = [0-9]+;`).Match(out), false, "", nil
	}
	return true, false, false, "", nil
}

// serviceStatus prints the state; the exit code tells it to scripts.
func serviceStatus(ctx context.Context, l *serviceLayout, stdout io.Writer) error {
	installed, running, dead, detail, err := serviceState(ctx, l)
	where := fmt.Sprintf("(%s: %s)", l.init, l.at(l.unit))
	switch {
	case !installed:
		fmt.Fprintln(stdout, "not installed", where)
		return exitStatus{code: exitSvcNotInstalled}
	case err != nil:
		fmt.Fprintln(stdout, "installed, state unknown", where)
		return exitStatus{exitSvcUnknown, err.Error()}
	}
	state := "stopped"
	switch {
	case running:
		state = "running"
	case dead:
		state = "crashed: not running, pid file left"
	}
	if detail != "" {
		where += " " + detail
	}
	fmt.Fprintln(stdout, state, where)
	fmt.Fprintln(stdout, "log:", l.logWhere())
	if dead {
		fmt.Fprintln(stdout, "it was killed or died without a stop: its log tells why; scandrop service start starts it again")
	}
	switch {
	case dead:
		return exitStatus{code: exitSvcDead}
	case !running:
		return exitStatus{code: exitSvcStopped}
	}
	return nil
}

// controlService starts, stops or restarts the service. A start (or
// restart) that fails, or after which the service is gone within
// o.Settle, prints the last lines of its log.
func controlService(ctx context.Context, o serviceOptions, l *serviceLayout, stdout, stderr io.Writer) error {
	if _, err := os.Stat(l.at(l.unit)); err != nil {
		return exitStatus{exitSvcNotInstalled, fmt.Sprintf("not installed (no %s): scandrop service install first", l.at(l.unit))}
	}
	if l.root != "/" && l.init != "sysv" {
		return usageError{"--root: only a SysV installation runs relocated; " + l.init + " needs its service manager"}
	}
	var cmd *exec.Cmd
	switch l.init {
	case "systemd":
		cmd = exec.CommandContext(ctx, "systemctl", append(systemctlArgs(l), o.Action, "scandrop.service")...)
	case "sysv":
		cmd = exec.CommandContext(ctx, l.at(l.unit), o.Action)
		cmd.Env = cleanEnv()
	case "openrc":
		cmd = exec.CommandContext(ctx, "rc-service", "scandrop", o.Action)
	case "launchd":
		switch o.Action {
		case "start":
			cmd = exec.CommandContext(ctx, "launchctl", "load", "-w", l.at(l.unit))
		case "stop":
			cmd = exec.CommandContext(ctx, "launchctl", "unload", l.at(l.unit))
		default:
			if err := runTool(ctx, "launchctl", "unload", l.at(l.unit)); err != nil {
				fmt.Fprintln(stderr, "scandrop:", err)
			}
			cmd = exec.CommandContext(ctx, "launchctl", "load", "-w", l.at(l.unit))
		}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(stdout, &out), io.MultiWriter(stderr, &out)
	err := cmd.Run()
	if o.Action == "stop" {
		if err != nil {
			return exitStatus{exitFailed, fmt.Sprintf("stop failed: %v", err)}
		}
		fmt.Fprintln(stdout, "scandrop service: stopped")
		return nil
	}
	if err == nil {
		if o.Settle > 0 {
			select {
			case <-time.After(o.Settle):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		_, running, _, detail, serr := serviceState(ctx, l)
		if serr == nil && !running {
			err = fmt.Errorf("it exited within %s (%s)", o.Settle, detail)
		}
	}
	if err != nil {
		// The SysV script printed its log's tail itself when it saw the
		// daemon die.
		if !(l.init == "sysv" && strings.Contains(out.String(), "the last lines of")) {
			printLogTail(ctx, l, stderr)
		}
		return exitStatus{exitFailed, fmt.Sprintf("%s failed: %v", o.Action, err)}
	}
	fmt.Fprintf(stdout, "scandrop service: running; log: %s\n", l.logWhere())
	return nil
}

// cleanEnv is the environment an init script is run with, as service(8)
// runs it: none of this shell's variables (its secrets included) reach
// the daemon, only the environment file's.
func cleanEnv() []string {
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, k := range []string{"LANG", "TERM"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// printLogTail prints the last lines of the service's log.
func printLogTail(ctx context.Context, l *serviceLayout, w io.Writer) {
	const n = 20
	if l.init == "systemd" {
		fmt.Fprintf(w, "the last lines of %s:\n", l.logWhere())
		cmd := exec.CommandContext(ctx, "journalctl", append(systemctlArgs(l), "-u", "scandrop.service", "-n", fmt.Sprint(n), "--no-pager", "-o", "short-iso")...)
		cmd.Stdout, cmd.Stderr = w, w
		_ = cmd.Run()
		return
	}
	lines, err := tailFile(l.at(l.logFile), n)
	if err != nil {
		fmt.Fprintf(w, "(no log: %v)\n", err)
		return
	}
	fmt.Fprintf(w, "the last lines of %s:\n", l.at(l.logFile))
	for _, s := range lines {
		fmt.Fprintln(w, s)
	}
}

// tailFile returns the last n lines of the file, reading at most its
// last 64 KiB.
func tailFile(p string, n int) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	const max = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		if _, err := f.Seek(-max, io.SeekEnd); err != nil {
			return nil, err
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, max))
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}

// uninstallService stops the service and removes what install created.
// Kept: the config (install never wrote it) and an environment file
// holding values (the secrets) unless --purge.
func uninstallService(ctx context.Context, o serviceOptions, l *serviceLayout, stdout, stderr io.Writer) error {
	installed, running, _, _, _ := serviceState(ctx, l)
	if running || (installed && l.init == "launchd" && l.root == "/") {
		so := o
		so.Action = "stop"
		_ = controlService(ctx, so, l, io.Discard, stderr)
	}
	var removed, kept []string
	rm := func(p string) {
		if p == "" {
			return
		}
		if _, err := os.Lstat(p); err != nil {
			return
		}
		if err := os.RemoveAll(p); err != nil {
			fmt.Fprintln(stderr, "scandrop:", err)
			return
		}
		removed = append(removed, p)
	}
	live := l.root == "/"
	if installed && live {
		switch l.init {
		case "systemd":
			if err := runTool(ctx, "systemctl", append(systemctlArgs(l), "disable", "scandrop.service")...); err != nil {
				fmt.Fprintln(stderr, "scandrop:", err)
			}
		case "openrc":
			if err := runTool(ctx, "rc-update", "del", "scandrop", "default"); err != nil {
				fmt.Fprintln(stderr, "scandrop:", err)
			}
		}
	}
	for _, link := range l.links {
		rm(l.at(link))
	}
	rm(l.at(l.unit))
	rm(l.at(l.pidFile))
	rm(l.at(l.rotate))
	rm(l.at(l.logDir))
	if l.init == "systemd" && installed && live {
		_ = runTool(ctx, "systemctl", append(systemctlArgs(l), "daemon-reload")...)
	}
	if l.envFile != "" {
		ef := l.at(l.envFile)
		vals, exists, _ := readEnvFile(ef)
		switch {
		case !exists:
		case len(vals) == 0 || o.Purge:
			rm(ef)
			_ = os.Remove(filepath.Dir(ef)) // only if empty now
		default:
			kept = append(kept, ef+" (it holds secrets; --purge removes it)")
		}
	}
	if sd := l.at(l.stateDir); sd != "" {
		if _, err := os.Stat(sd); err == nil {
			if o.Purge {
				rm(sd)
			} else {
				kept = append(kept, sd+" (claim.key: jobs moved back from failed/ resume their task only with it; --purge removes it)")
			}
		}
	}
	if len(removed) > 0 && !live {
		// Relocated, the folders on the way are the installation's
		// (install, and the init script at start, made them): those left
		// empty go, up to the root itself.
		for _, p := range []string{l.unit, l.pidFile, l.logDir, l.rotate, l.envFile, l.stateDir} {
			removed = append(removed, pruneEmptyDirs(l.root, path.Dir(l.at(p)))...)
		}
		for _, link := range l.links {
			removed = append(removed, pruneEmptyDirs(l.root, path.Dir(l.at(link)))...)
		}
	}
	if len(removed) == 0 {
		fmt.Fprintf(stdout, "scandrop service: not installed (%s: no %s); nothing removed\n", l.init, l.at(l.unit))
		return nil
	}
	fmt.Fprintf(stdout, "scandrop service uninstalled (%s); removed:\n", l.init)
	for _, p := range removed {
		fmt.Fprintln(stdout, "  "+p)
	}
	fmt.Fprintln(stdout, "kept:")
	for _, k := range kept {
		fmt.Fprintln(stdout, "  "+k)
	}
	fmt.Fprintln(stdout, "  the config, the watch folders and what is in them (install did not create them)")
	return nil
}

// pruneEmptyDirs removes dir and its parents while they are empty
// folders, stopping at root (kept), and returns what it removed.
func pruneEmptyDirs(root, dir string) (removed []string) {
	root = path.Clean(root)
	for d := path.Clean(dir); d != root && strings.HasPrefix(d, root+"/"); d = path.Dir(d) {
		fi, err := os.Lstat(d)
		if err != nil || !fi.IsDir() || os.Remove(d) != nil {
			break
		}
		removed = append(removed, d)
	}
	return removed
}

// runWindowsService installs and controls the Windows service through
// kardianos/service: the service control manager is only reached
// through its API.
func runWindowsService(o serviceOptions, stdout io.Writer) error {
	var cfgPath string
	if o.Action == "install" {
		var err error
		if _, err = serviceExe(o, io.Discard); err != nil {
			return err
		}
		cfgPath = o.Config
		if cfgPath == "" {
			if cfgPath, err = config.Find(); err != nil {
				return usageError{err.Error()}
			}
		}
		if cfgPath, err = filepath.Abs(cfgPath); err != nil {
			return err
		}
		// The service sees the system environment, not this shell's.
		needs, deferred, err := checkServiceConfig(cfgPath, map[string]string{})
		if err != nil {
			return err
		}
		for _, d := range deferred {
			fmt.Fprintf(stdout, "unchecked: %s (checked once the value is set)\n", d)
		}
		if len(needs) > 0 {
			fmt.Fprintf(stdout, "WARN the service will not see %s from this shell: put each secret into a file readable by the service account only and name it in the config (app_secret_file:, secret_file:, token_file:)\n", strings.Join(needs, ", "))
		}
	}
	s, err := service.New(&program{}, serviceConfig(cfgPath, o.RunAs, "windows"))
	if err != nil {
		return err
	}
	switch o.Action {
	case "status":
		st, err := s.Status()
		switch {
		case errors.Is(err, service.ErrNotInstalled):
			fmt.Fprintln(stdout, "not installed (windows)")
			return exitStatus{code: exitSvcNotInstalled}
		case err != nil:
			return exitStatus{exitSvcUnknown, err.Error()}
		case st == service.StatusRunning:
			fmt.Fprintln(stdout, "running (windows service scandrop)")
			return nil
		}
		fmt.Fprintln(stdout, "stopped (windows service scandrop)")
		return exitStatus{code: exitSvcStopped}
	case "uninstall":
		_ = s.Stop()
	}
	if err := service.Control(s, o.Action); err != nil {
		if o.Action == "start" || o.Action == "restart" {
			return exitStatus{exitFailed, fmt.Sprintf("%v\nthe service's log: Event Viewer > Windows Logs > Application, source scandrop; or in PowerShell: Get-EventLog -LogName Application -Source scandrop -Newest 20", err)}
		}
		return err
	}
	switch o.Action {
	case "install":
		account := o.RunAs
		if account == "" {
			account = "LocalSystem (reaches no SMB share: --run-as DOMAIN\\account)"
		}
		fmt.Fprintf(stdout, "scandrop service installed (windows service manager):\n  %-12s %s\n  %-12s %s run --config %s\n  %-12s %s\n  %-12s %s\nNext: scandrop service start\n",
			"service:", "scandrop (delayed automatic start, restart on failure)", "runs:", exeName(), cfgPath, "as user:", account, "log:", "the Event Log (Application, source scandrop)")
	case "uninstall":
		fmt.Fprintln(stdout, "scandrop service uninstalled: the service and its Event Log source removed; the config and the watch folders kept")
	default:
		fmt.Fprintf(stdout, "scandrop service: %s done\n", o.Action)
	}
	return nil
}

// serviceConfig describes scandrop to the Windows service control manager.
// configPath must be absolute: services start in System32.
func serviceConfig(configPath, account, goos string) *service.Config {
	c := &service.Config{
		Name:        serviceName,
		DisplayName: serviceName,
		Description: serviceDesc,
		Arguments:   []string{"run", "--config", configPath},
		UserName:    account,
		Option:      service.KeyValue{},
	}
	if goos == "windows" {
		// The SMB client: without it no share is reachable. Windows
		// dependencies are service names, nothing like systemd's.
		c.Dependencies = []string{"LanmanWorkstation"}
		c.Option["DelayedAutoStart"] = true // after the network is up
		c.Option["OnFailure"] = "restart"
		c.Option["OnFailureDelayDuration"] = fmt.Sprintf("%ds", serviceRestartDelay)
		c.Option["OnFailureResetPeriod"] = 24 * 60 * 60
		if pw := os.Getenv("SCANDROP_SERVICE_PASSWORD"); pw != "" {
			c.Option["Password"] = pw
		}
	}
	return c
}

// program runs the daemon under the service manager: Start returns at
// once, Stop cancels and waits for a clean stop.
type program struct {
	run  func(ctx context.Context) error
	exit func(code int) // os.Exit; a test swaps it

	mu       sync.Mutex
	cancel   context.CancelFunc
	stopping bool
	wg       sync.WaitGroup
	log      *slog.Logger
}

func (p *program) Start(s service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.mu.Lock()
	p.cancel = cancel
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := p.run(ctx)
		p.mu.Lock()
		stopping := p.stopping
		p.mu.Unlock()
		if stopping {
			return
		}
		// The daemon ended on its own (a configuration or watch error):
		// exit non-zero, so that the service manager's recovery applies.
		if err == nil {
			err = errors.New("stopped unexpectedly")
		}
		if p.log != nil {
			p.log.Error("scandrop stopped", "error", err)
		}
		p.exit(exitUsage)
	}()
	return nil
}

func (p *program) Stop(s service.Service) error {
	p.mu.Lock()
	p.stopping = true
	cancel := p.cancel
	p.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	p.wg.Wait()
	return nil
}

// underServiceManager reports whether this process was started by the
// Windows service control manager, which must be answered through
// service.Run. Elsewhere the service managers send signals, which `run`
// handles itself.
func underServiceManager() bool {
	return runtime.GOOS == "windows" && !service.Interactive()
}

// runAsService runs the daemon under the Windows SCM, logging to the
// Windows event log at level.
func runAsService(level string, daemon func(ctx context.Context, log *slog.Logger) error) error {
	prg := &program{exit: os.Exit}
	s, err := service.New(prg, serviceConfig("", "", runtime.GOOS))
	if err != nil {
		return err
	}
	el, err := s.Logger(nil)
	if err != nil {
		return err
	}
	log := slog.New(newEventLogHandler(el, level))
	prg.log = log
	prg.run = func(ctx context.Context) error { return daemon(ctx, log) }
	return s.Run()
}

func exeName() string {
	if exe, err := os.Executable(); err == nil {
		return exe
	}
	return "scandrop"
}
