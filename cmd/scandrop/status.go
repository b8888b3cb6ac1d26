package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/internal/ops"
	"github.com/scandrop/scandrop/internal/textsafe"
	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/realsee"
)

// offlineVendors are the vendors with no credentials: enough to validate a
// drop, which needs no network.
func offlineVendors() []vendors.Vendor {
	vs := []vendors.Vendor{realsee.New(realsee.Config{})}
	if a := newAholo(&config.Aholo{}, world{}, slog.New(slog.DiscardHandler)); a != nil {
		vs = append(vs, a)
	}
	return vs
}

// newReporter builds status reports that validate inbox drops offline.
func newReporter() *ops.Reporter {
	vs := offlineVendors()
	return &ops.Reporter{
		Markers: markerNames(),
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
		srcs = append(srcs, ops.Source{Dir: w.Dir, Inbox: d.inbox(w.Dir), Live: d.monitor})
	}
	return r.Report(ctx, srcs)
}

// statusOptions are the flags of `scandrop status` (cli.go).
type statusOptions struct {
	globalFlags
	json bool
}

// runStatus is `scandrop status`: read from the watch folders themselves,
// so it works whether or not a daemon runs, and on any host that mounts
// them.
func runStatus(ctx context.Context, opts statusOptions, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(opts.config)
	if err != nil {
		return err
	}
	var srcs []ops.Source
	for _, w := range cfg.Watches {
		srcs = append(srcs, ops.Source{Dir: w.Dir})
	}
	rep := newReporter().Report(ctx, srcs)
	if opts.json {
		b, err := pipeline.IndentJSON(rep)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", textsafe.EscapeJSON(b))
		return err
	}
	return ops.WriteText(stdout, rep)
}
