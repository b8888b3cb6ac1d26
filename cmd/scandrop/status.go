package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/scandrop/scandrop/internal/ops"
	"github.com/scandrop/scandrop/internal/textsafe"
	"github.com/scandrop/scandrop/internal/vendortable"
	"github.com/scandrop/scandrop/pipeline"
)

// newReporter builds status reports that validate inbox drops offline.
func newReporter() *ops.Reporter {
	vs := vendortable.Offline()
	return &ops.Reporter{
		Markers: vendortable.MarkerNames(),
		Check: func(ctx context.Context, dir string) error {
			_, err := pipeline.Check(ctx, dir, vs)
			return err
		},
	}
}

// report is the live status of a running daemon, for the HTTP listener.
func (d *daemon) report(ctx context.Context) ops.Report {
	d.mu.Lock()
	if d.reporter == nil {
		d.reporter = newReporter()
	}
	r := d.reporter
	d.mu.Unlock()
	var srcs []ops.Source
	for _, w := range d.cfg.Watches {
		srcs = append(srcs, ops.Source{Dir: w.Dir, Account: w.Account, Inbox: d.inbox(w.Dir), Live: d.monitor})
	}
	return r.Report(ctx, srcs)
}

// cmdStatus is `scandrop status`: read from the watch folders themselves,
// so it works whether or not a daemon runs, and on any host that mounts
// them.
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("status", &cf)
	fs.BoolVar(&cf.json, "json", false, "print JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{"status takes no arguments"}
	}
	cfg, err := loadConfig(cf.config)
	if err != nil {
		return err
	}
	var srcs []ops.Source
	for _, w := range cfg.Watches {
		srcs = append(srcs, ops.Source{Dir: w.Dir, Account: w.Account})
	}
	rep := newReporter().Report(ctx, srcs)
	if cf.json {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", textsafe.EscapeJSON(b))
		return err
	}
	return ops.WriteText(stdout, rep)
}
