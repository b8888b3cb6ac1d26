package main

// What `scandrop service install` writes on each init system, rendered
// here in full (no template left for kardianos/service to fill), so that
// every init system gets the same service: the same account, the same
// environment file read as root before the account drop, one log
// location, a restart after 15 s where the init system supervises, and
// SIGTERM with 60 s to stop. The tests render these into a temporary root
// and check them with the tools of each system (systemd-analyze verify,
// sh running the SysV script, an XML parser for the plist).

import (
	"fmt"
	"path"
	"strings"
)

const (
	serviceName = "scandrop"
	serviceDesc = "Carries project drops from watch folders to the 3D scanning vendors."
	serviceDoc  = "https://github.com/scandrop/scandrop#operating-scandrop"
	// serviceStopTimeout is how long a stop waits for running jobs to reach
	// a safe point, in seconds (systemd TimeoutStopSec, the SysV loop, OpenRC's retry).
	serviceStopTimeout = 60
	// serviceRestartDelay is the pause before a restart after a failure,
	// in seconds: a share that is late is waited for.
	serviceRestartDelay = 15
)

// serviceLayout is where the files of one installation go. Paths are
// kept without the root; at() puts them under it. --root relocates the
// whole installation: the files install writes and every path the
// service uses (environment file, log, pid file) are under it.
type serviceLayout struct {
	init    string // systemd, sysv, openrc, launchd, windows
	scope   string // system or user
	root    string // "/" normally
	unit    string // unit file, init script or plist
	links   []string
	envFile string // "" where the init system reads none (launchd, Windows)
	logDir  string // "" when the journal or the Event Log keeps the log
	logFile string
	pidFile string
	// stateDir is $STATE_DIRECTORY (claim.key) where systemd's
	// StateDirectory= does not make it; the default state_dir.
	stateDir string
	rotate   string // logrotate snippet, "" where there is none
	runAs    string // "" = the init system's default (root; the user for user scope)

	exe, config string
}

// at is p under the root.
func (l *serviceLayout) at(p string) string {
	if p == "" {
		return ""
	}
	return path.Join(l.root, p)
}

// logWhere says where the service's log is read.
func (l *serviceLayout) logWhere() string {
	switch {
	case l.init == "systemd" && l.scope == "user":
		return "the journal: journalctl --user -u scandrop"
	case l.init == "systemd":
		return "the journal: journalctl -u scandrop"
	case l.init == "windows":
		return "the Event Log (Application, source scandrop)"
	}
	return l.at(l.logFile)
}

// newLayout lays out an installation for init and scope; home is the
// installing user's home (user scope only).
func newLayout(init, scope, root, home string) *serviceLayout {
	l := &serviceLayout{init: init, scope: scope, root: root}
	switch {
	case init == "systemd" && scope == "user":
		l.unit = path.Join(home, ".config/systemd/user/scandrop.service")
		l.links = []string{path.Join(home, ".config/systemd/user/default.target.wants/scandrop.service")}
		l.envFile = path.Join(home, ".config/scandrop/env")
		l.stateDir = path.Join(home, ".local/state/scandrop") // StateDirectory=
	case init == "systemd":
		l.unit = "/etc/systemd/system/scandrop.service"
		l.links = []string{"/etc/systemd/system/multi-user.target.wants/scandrop.service"}
		l.envFile = "/etc/scandrop/env"
		l.stateDir = "/var/lib/scandrop" // StateDirectory=
	case init == "sysv":
		l.unit = "/etc/init.d/scandrop"
		for _, n := range []string{"2", "3", "4", "5"} {
			l.links = append(l.links, "/etc/rc"+n+".d/S50scandrop")
		}
		for _, n := range []string{"0", "1", "6"} {
			l.links = append(l.links, "/etc/rc"+n+".d/K02scandrop")
		}
		l.envFile = "/etc/scandrop/env"
		l.logDir = "/var/log/scandrop"
		l.pidFile = "/var/run/scandrop.pid"
		l.stateDir = "/var/lib/scandrop"
		l.rotate = "/etc/logrotate.d/scandrop"
	case init == "openrc":
		l.unit = "/etc/init.d/scandrop"
		l.links = []string{"/etc/runlevels/default/scandrop"}
		l.envFile = "/etc/scandrop/env"
		l.logDir = "/var/log/scandrop"
		l.rotate = "/etc/logrotate.d/scandrop"
		l.stateDir = "/var/lib/scandrop"
	case init == "launchd" && scope == "user":
		l.unit = path.Join(home, "Library/LaunchAgents/scandrop.plist")
		l.logDir = path.Join(home, "Library/Logs/scandrop")
	case init == "launchd":
		l.unit = "/Library/LaunchDaemons/scandrop.plist"
		l.logDir = "/Library/Logs/scandrop"
	}
	if l.logDir != "" {
		l.logFile = path.Join(l.logDir, "scandrop.log")
	}
	return l
}

// sdQuote quotes one ExecStart word for systemd: "$" and "%" would be
// expanded, backslash and quote escaped.
func sdQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `%`, `%%`, `$`, `$$`)
	return `"` + r.Replace(s) + `"`
}

// shQuote quotes s for sh.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// xmlEscape escapes s for a plist string.
func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

// renderUnit renders the unit file, init script or plist of l.
func renderUnit(l *serviceLayout) string {
	switch l.init {
	case "systemd":
		return renderSystemd(l)
	case "sysv":
		return renderSysV(l)
	case "openrc":
		return renderOpenRC(l)
	case "launchd":
		return renderLaunchd(l)
	}
	return ""
}

func renderSystemd(l *serviceLayout) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by "scandrop service install"; "scandrop service uninstall" removes it.
[Unit]
Description=%s
Documentation=%s
`, serviceDesc, serviceDoc)
	if !strings.ContainsAny(l.exe, " \t") { // conditions take no quoting
		fmt.Fprintf(&b, "ConditionFileIsExecutable=%s\n", l.exe)
	}
	if l.scope == "system" {
		// NFS/SMB mounts from fstab come first. (A user manager cannot
		// order itself after system units.)
		b.WriteString("Wants=network-online.target\nAfter=network-online.target remote-fs.target\n")
	}
	fmt.Fprintf(&b, `StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=%s run --config %s
`, sdQuote(l.exe), sdQuote(l.config))
	if l.runAs != "" {
		fmt.Fprintf(&b, "User=%s\n", l.runAs)
	}
	fmt.Fprintf(&b, `# Secrets (NAME=value lines, e.g. the ${VAR}s of the config), mode 0600, read by
# systemd before it starts scandrop; never written into this unit.
EnvironmentFile=-%s
# $STATE_DIRECTORY, scandrop's private folder (claim.key): /var/lib/scandrop
# (~/.local/state/scandrop for a user service).
StateDirectory=scandrop
# Files scandrop writes on the share are group-writable, for the share's group.
UMask=0002
Restart=on-failure
RestartSec=%d
# On stop, SIGTERM to scandrop alone: jobs stop at a safe point and resume
# on the next start; notification hooks finish.
KillMode=mixed
TimeoutStopSec=%d

[Install]
`, l.at(l.envFile), serviceRestartDelay, serviceStopTimeout)
	if l.scope == "user" {
		b.WriteString("WantedBy=default.target\n")
	} else {
		b.WriteString("WantedBy=multi-user.target\n")
	}
	return b.String()
}

// shLoadEnv reads the environment file the way systemd's EnvironmentFile=
// does for plain NAME=value lines: literally, no shell expansion or
// quoting (a secret with "$" or spaces stays as it is), comments and
// lines that are not assignments skipped. It runs as root, before the
// account drop: the file stays root-only. (Its variables are not named
// "name": OpenRC shows that one as the service's name.)
const shLoadEnv = `load_env() {
	[ -f "$env_file" ] || return 0
	while IFS= read -r env_line || [ -n "$env_line" ]; do
		case "$env_line" in '' | '#'* | ';'*) continue ;; esac
		env_name=${env_line%%=*}
		case "$env_name" in "$env_line" | '' | [0-9]* | *[!A-Za-z0-9_]*) continue ;; esac
		export "$env_line"
	done <"$env_file"
}
`

func renderSysV(l *serviceLayout) string {
	return fmt.Sprintf(`#!/bin/sh
### BEGIN INIT INFO
# Provides:          scandrop
# Required-Start:    $network $remote_fs $syslog
# Required-Stop:     $network $remote_fs $syslog
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: scandrop
# Description:       %[1]s
### END INIT INFO
# chkconfig: 2345 50 02
# description: %[1]s
#
# Written by "scandrop service install"; "scandrop service uninstall" removes
# it with its rc links, pid file and log. status exits 0 running, 1 dead with
# the pid file left, 3 stopped (LSB). SysV does not restart a daemon that
# dies: systemd and OpenRC do.

exe=%[2]s
config=%[3]s
run_as=%[4]s
env_file=%[5]s
log_dir=%[6]s
log_file=%[7]s
pid_file=%[8]s
state_dir=%[11]s
stop_timeout=%[9]d

%[10]s
# alive PID: the process exists and is not a zombie.
alive() {
	[ -r "/proc/$1/stat" ] || { kill -0 "$1" 2>/dev/null; return; }
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$state" ] && [ "$state" != Z ]
}

running_pid() {
	[ -f "$pid_file" ] || return 1
	pid=$(cat "$pid_file" 2>/dev/null)
	case "$pid" in '' | *[!0-9]*) return 1 ;; esac
	alive "$pid" && echo "$pid"
}

do_start() {
	if pid=$(running_pid); then
		echo "scandrop is already running (pid $pid)"
		return 0
	fi
	load_env
	mkdir -p "$log_dir" "$state_dir" "$(dirname "$pid_file")" && chmod 0755 "$log_dir" && chmod 0700 "$state_dir" || return 1
	export STATE_DIRECTORY="$state_dir"
	umask 0002
	cd / || return 1
	if [ -n "$run_as" ] && [ "$(id -u)" = 0 ]; then
		chown "$run_as" "$state_dir" || return 1
		HOME=$(getent passwd "$run_as" | cut -d: -f6)
		USER=$run_as
		LOGNAME=$run_as
		export HOME USER LOGNAME
		if command -v setpriv >/dev/null 2>&1; then
			set -- setpriv --reuid="$run_as" --regid="$(id -g "$run_as")" --init-groups -- "$exe" run --config "$config"
		else
			set -- su -s /bin/sh "$run_as" -c 'exec "$0" "$@"' "$exe" run --config "$config"
		fi
	else
		set -- "$exe" run --config "$config"
	fi
	# The log is opened here, as root, and handed to scandrop.
	"$@" >>"$log_file" 2>&1 </dev/null &
	echo $! >"$pid_file" || {
		kill -TERM $!
		return 1
	}
	sleep 1
	if ! pid=$(running_pid); then
		rm -f "$pid_file"
		echo "scandrop failed to start; the last lines of $log_file:" >&2
		tail -n 20 "$log_file" >&2
		return 1
	fi
	echo "scandrop started (pid $pid); log: $log_file"
}

do_stop() {
	if ! pid=$(running_pid); then
		rm -f "$pid_file"
		echo "scandrop is not running"
		return 0
	fi
	kill -TERM "$pid"
	i=0
	while alive "$pid"; do
		i=$((i + 1))
		if [ "$i" -gt "$stop_timeout" ]; then
			echo "scandrop (pid $pid) did not stop within ${stop_timeout}s" >&2
			return 1
		fi
		sleep 1
	done
	rm -f "$pid_file"
	echo "scandrop stopped"
}

case "$1" in
start) do_start ;;
stop) do_stop ;;
restart | force-reload) do_stop && do_start ;;
status)
	if pid=$(running_pid); then
		echo "scandrop is running (pid $pid)"
		exit 0
	fi
	if [ -f "$pid_file" ]; then
		echo "scandrop is not running, but $pid_file exists"
		exit 1
	fi
	echo "scandrop is stopped"
	exit 3
	;;
*)
	echo "usage: $0 start|stop|restart|force-reload|status" >&2
	exit 2
	;;
esac
`, serviceDesc, shQuote(l.exe), shQuote(l.config), shQuote(l.runAs), shQuote(l.at(l.envFile)),
		shQuote(l.at(l.logDir)), shQuote(l.at(l.logFile)), shQuote(l.at(l.pidFile)), serviceStopTimeout, shLoadEnv, shQuote(l.at(l.stateDir)))
}

func renderOpenRC(l *serviceLayout) string {
	user := ""
	owner := ""
	if l.runAs != "" {
		user = "command_user=" + shQuote(l.runAs) + "\n"
		owner = ` --owner "$command_user"`
	}
	return fmt.Sprintf(`#!/sbin/openrc-run
# Written by "scandrop service install"; "scandrop service uninstall" removes it.
description=%[1]s
supervisor=supervise-daemon
command=%[2]s
command_args=%[3]s
%[4]soutput_log=%[5]s
error_log=%[5]s
respawn_delay=%[6]d
respawn_max=0
retry="TERM/%[7]d/KILL/5"
env_file=%[8]s

depend() {
	need net
	after netmount nfsmount
	use dns logger
}

%[9]s
start_pre() {
	checkpath --directory --mode 0755%[10]s %[11]s
	checkpath --file --mode 0640%[10]s %[5]s
	checkpath --directory --mode 0700%[10]s %[12]s
	export STATE_DIRECTORY=%[12]s
	umask 0002
	# Secrets, read as root before supervise-daemon drops to command_user.
	load_env
}
`, shQuote(serviceDesc), shQuote(l.exe), shQuote("run --config "+shQuote(l.config)), user,
		shQuote(l.at(l.logFile)), serviceRestartDelay, serviceStopTimeout, shQuote(l.at(l.envFile)), shLoadEnv, owner, shQuote(l.at(l.logDir)), shQuote(l.at(l.stateDir)))
}

func renderLaunchd(l *serviceLayout) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by "scandrop service install"; "scandrop service uninstall" removes it. -->
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>scandrop</string>
	<key>ProgramArguments</key>
	<array>
		<string>%s</string>
		<string>run</string>
		<string>--config</string>
		<string>%s</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<true/>
	<key>ThrottleInterval</key>
	<integer>%d</integer>
	<key>ExitTimeOut</key>
	<integer>%d</integer>
	<key>Umask</key>
	<integer>2</integer>
	<key>WorkingDirectory</key>
	<string>/</string>
	<key>StandardOutPath</key>
	<string>%s</string>
	<key>StandardErrorPath</key>
	<string>%s</string>
`, xmlEscape(l.exe), xmlEscape(l.config), serviceRestartDelay, serviceStopTimeout, xmlEscape(l.at(l.logFile)), xmlEscape(l.at(l.logFile)))
	if l.runAs != "" {
		fmt.Fprintf(&b, "\t<key>UserName</key>\n\t<string>%s</string>\n", xmlEscape(l.runAs))
	}
	b.WriteString("</dict>\n</plist>\n")
	return b.String()
}

// renderLogrotate is the logrotate snippet for the log file of SysV and
// OpenRC. copytruncate: scandrop holds its log open and has no signal to
// reopen it; it writes with O_APPEND, so the truncated file stays dense.
func renderLogrotate(l *serviceLayout) string {
	return fmt.Sprintf(`# Written by "scandrop service install"; "scandrop service uninstall" removes it.
%s {
	weekly
	rotate 8
	maxsize 50M
	compress
	delaycompress
	missingok
	notifempty
	copytruncate
}
`, l.at(l.logFile))
}

// envFileHeader starts the environment file install creates. A file that
// still holds no assignment is removed by uninstall; one with secrets is
// kept unless --purge.
func renderEnvFile(needs []string) string {
	var b strings.Builder
	b.WriteString(`# scandrop's environment: the secrets the config names as ${NAME}.
# One NAME=value per line, no quotes, no spaces around "=". Mode 0600.
# Read when the service starts; "scandrop service uninstall" keeps this
# file once it holds a value (--purge removes it).
`)
	for _, n := range needs {
		fmt.Fprintf(&b, "#%s=\n", n)
	}
	return b.String()
}
