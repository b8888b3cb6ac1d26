package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"

	"github.com/kardianos/service"
)

// serviceConfig describes scandrop to the OS service manager. The config
// path is stored absolute: services start in / or System32.
func serviceConfig(configPath, user string) *service.Config {
	return &service.Config{
		Name:        "scandrop",
		DisplayName: "scandrop",
		Description: "Carries project drops from watch folders to Realsee and Aholo.",
		Arguments:   []string{"run", "--config", configPath},
		UserName:    user,
		// kardianos/service does not order after the network: a share
		// mounted over it would not be there yet.
		Dependencies: []string{
			"Wants=network-online.target remote-fs.target",
			"After=network-online.target remote-fs.target",
		},
		Option: service.KeyValue{
			"Restart":           "on-failure",
			"SuccessExitStatus": "0",
			"LogOutput":         true,
		},
	}
}

// program runs the daemon under the service manager.
type program struct {
	run    func(ctx context.Context) error
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (p *program) Start(s service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.run(ctx)
	}()
	return nil
}

func (p *program) Stop(s service.Service) error {
	p.cancel()
	p.wg.Wait()
	return nil
}

func cmdService(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("service", &cf)
	fs.StringVar(&cf.user, "user", "", "account the service runs as (Windows: one that can reach the SMB shares; LocalSystem cannot)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"usage: scandrop service install|uninstall|start|stop|restart|status [--config FILE] [--user ACCOUNT]"}
	}
	action := pos[0]
	path := cf.config
	if action == "install" {
		cfg, err := loadConfig(path) // refuse to install a service that cannot start
		if err != nil {
			return err
		}
		path = cfg.Path
	}
	if path != "" {
		if path, err = filepath.Abs(path); err != nil {
			return err
		}
	}
	s, err := service.New(&program{}, serviceConfig(path, cf.user))
	if err != nil {
		return err
	}
	switch action {
	case "status":
		st, err := s.Status()
		if err != nil {
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
		fmt.Fprintf(stdout, "scandrop service: %s done\n", action)
		return nil
	}
	return usageError{fmt.Sprintf("unknown service action %q", action)}
}
