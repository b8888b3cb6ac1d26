package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/kardianos/service"
)

// systemdUnit is scandrop's own unit template (kardianos/service's
// template language: {{Key}}, {{range Key}}, {{if Key}}, the cmd and
// cmdEscape escapes). It differs from the library's in what a daemon that
// reads network shares needs:
//   - ordered after network-online.target and remote-fs.target (the
//     Dependencies lines), so NFS/SMB mounts from fstab come first;
//   - Restart=on-failure after 15s, with no start limit: a share that is
//     late, or a config being fixed, is waited for rather than given up on;
//   - logs go to the journal (journalctl -u scandrop), not to files;
//   - on stop, SIGTERM to scandrop alone (KillMode=mixed), which ends its
//     jobs at a safe point (they resume on the next start) and lets
//     notification hooks finish.
const systemdUnit = `[Unit]
Description={{Description}}
Documentation=https://github.com/scandrop/scandrop#operating-scandrop
ConditionFileIsExecutable={{Path | cmdEscape}}
{{range Dependencies}}{{.}}
{{end}}StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}
{{if UserName}}User={{UserName}}
{{end}}Restart=on-failure
RestartSec=15
KillMode=mixed
TimeoutStopSec=60
EnvironmentFile=-/etc/default/{{Name}}
EnvironmentFile=-/etc/sysconfig/{{Name}}
{{range EnvVars}}{{.}}
{{end}}
[Install]
WantedBy=multi-user.target
`

// serviceConfig describes scandrop to the service manager of goos.
// configPath must be absolute: services start in / or System32.
func serviceConfig(configPath, user, goos string) *service.Config {
	c := &service.Config{
		Name:        "scandrop",
		DisplayName: "scandrop",
		Description: "Carries project drops from watch folders to Realsee and Aholo.",
		Arguments:   []string{"run", "--config", configPath},
		UserName:    user,
		Option:      service.KeyValue{},
	}
	switch goos {
	case "windows":
		// The SMB client: without it no share is reachable. Windows
		// dependencies are service names, nothing like systemd's.
		c.Dependencies = []string{"LanmanWorkstation"}
		c.Option["DelayedAutoStart"] = true // after the network is up
		c.Option["OnFailure"] = "restart"
		c.Option["OnFailureDelayDuration"] = "15s"
		c.Option["OnFailureResetPeriod"] = 24 * 60 * 60
		if pw := os.Getenv("SCANDROP_SERVICE_PASSWORD"); pw != "" {
			c.Option["Password"] = pw
		}
	case "darwin":
		c.Option["RunAtLoad"] = true
		c.Option["KeepAlive"] = true
		c.Option["LogOutput"] = true
	default:
		c.Dependencies = []string{
			"Wants=network-online.target",
			"After=network-online.target remote-fs.target",
		}
		c.Option["SystemdScript"] = systemdUnit
		c.Option["Restart"] = "on-failure" // for the other init systems that read it
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

// serviceOptions are the flags and argument of `scandrop service` (cli.go).
type serviceOptions struct {
	globalFlags
	action string // install, uninstall, start, stop, restart or status
	user   string
}

// runService is `scandrop service ACTION`.
func runService(ctx context.Context, opts serviceOptions, stdout, stderr io.Writer) error {
	action := opts.action
	path := opts.config
	var err error
	if action == "install" {
		cfg, err := loadConfig(path) // refuse to install a service that cannot start
		if err != nil {
			return err
		}
		path = cfg.Path // absolute
		exe, err := os.Executable()
		if err == nil && strings.HasPrefix(exe, filepath.Clean(os.TempDir())+string(filepath.Separator)) {
			return usageError{fmt.Sprintf("%s is a temporary file (go run?); install scandrop first (go install, make build) and run service install from there", exe)}
		}
	}
	if path != "" {
		if path, err = filepath.Abs(path); err != nil {
			return err
		}
	}
	s, err := service.New(&program{}, serviceConfig(path, opts.user, runtime.GOOS))
	if err != nil {
		return err
	}
	switch action {
	case "status":
		st, err := s.Status()
		switch {
		case errors.Is(err, service.ErrNotInstalled):
			fmt.Fprintln(stdout, "not installed")
			return errJobFailed
		case err != nil:
			return err
		}
		fmt.Fprintln(stdout, map[service.Status]string{
			service.StatusRunning: "running", service.StatusStopped: "stopped", service.StatusUnknown: "unknown",
		}[st])
		return nil
	case "install", "uninstall", "start", "stop", "restart":
		if err := service.Control(s, action); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "scandrop service: %s done (%s)\n", action, s.Platform())
		if action == "install" {
			fmt.Fprintf(stdout, "it runs: %s run --config %s\nstart it with: scandrop service start\n", exeName(), path)
		}
		return nil
	}
	return usageError{fmt.Sprintf("unknown service action %q", action)}
}

func exeName() string {
	if exe, err := os.Executable(); err == nil {
		return exe
	}
	return "scandrop"
}
