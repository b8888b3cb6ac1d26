package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kardianos/service"
)

// The systemd unit, rendered by kardianos/service's own install into a
// temporary home (as a user unit, the one place it lets us choose), with a
// fake systemctl that records what it is asked.
func TestSystemdUnit(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("systemd is Linux only")
	}
	var systemd service.System
	for _, s := range service.AvailableSystems() {
		if s.String() == "linux-systemd" {
			systemd = s
		}
	}
	if systemd == nil {
		t.Fatal("kardianos/service has no linux-systemd system")
	}
	home, bin := t.TempDir(), t.TempDir()
	calls := filepath.Join(bin, "calls")
	fake := "#!/bin/sh\necho \"$@\" >> " + calls + "\n[ \"$1\" = --version ] && echo 'systemd 252 (252.39-1)'\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	cfgPath := "/etc/scandrop dir/config.yaml" // a space, to see it quoted
	c := serviceConfig(cfgPath, "scans", "linux")
	c.Option["UserService"] = true
	s, err := systemd.New(&program{}, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Install(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(home, ".config", "systemd", "user", "scandrop.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	t.Logf("unit:\n%s", unit)
	exe, _ := os.Executable()
	for _, want := range []string{
		"[Unit]\n",
		"\nWants=network-online.target\n",
		"\nAfter=network-online.target remote-fs.target\n",
		"\nStartLimitIntervalSec=0\n",
		"\n[Service]\n",
		"\nExecStart=" + exe + ` "run" "--config" "/etc/scandrop dir/config.yaml"` + "\n",
		"\nUser=scans\n",
		"\nRestart=on-failure\n",
		"\nRestartSec=15\n",
		"\nKillMode=mixed\n",
		"\n[Install]\nWantedBy=multi-user.target\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	// Logs go to the journal, not to files.
	if strings.Contains(unit, "StandardOutput=") || strings.Contains(unit, "StandardError=") {
		t.Error("the unit redirects the log away from the journal")
	}
	// [Unit] directives must not land in [Service], and vice versa.
	unitSec, serviceSec, _ := strings.Cut(unit, "[Service]")
	if !strings.Contains(unitSec, "After=") || strings.Contains(serviceSec, "After=") || strings.Contains(unitSec, "Restart=") {
		t.Error("directives in the wrong section")
	}
	got, _ := os.ReadFile(calls)
	if !strings.Contains(string(got), "enable --user scandrop.service") || !strings.Contains(string(got), "daemon-reload") {
		t.Errorf("systemctl calls: %q", got)
	}
}

// Windows service dependencies are service names: systemd's lines there
// would make the service fail to start.
func TestServiceConfigPerOS(t *testing.T) {
	win := serviceConfig(`C:\ProgramData\scandrop\config.yaml`, `NAS\scans`, "windows")
	if strings.Join(win.Dependencies, ",") != "LanmanWorkstation" || win.Option["OnFailure"] != "restart" || win.Option["DelayedAutoStart"] != true {
		t.Errorf("windows: %+v", win)
	}
	if win.Arguments[2] != `C:\ProgramData\scandrop\config.yaml` || win.UserName != `NAS\scans` {
		t.Errorf("windows arguments %v user %q", win.Arguments, win.UserName)
	}
	mac := serviceConfig("/etc/scandrop/config.yaml", "", "darwin")
	if len(mac.Dependencies) != 0 || mac.Option["RunAtLoad"] != true {
		t.Errorf("darwin: %+v", mac)
	}
	linux := serviceConfig("/etc/scandrop/config.yaml", "", "linux")
	if linux.Option["SystemdScript"] != systemdUnit {
		t.Error("linux: not our unit")
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
