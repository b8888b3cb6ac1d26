package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/scandrop/scandrop/internal/config"
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

// loadConfigOffline finds and loads the configuration named by --config
// for the commands that only read and move folders in the watch dirs
// (status, retry): no secret is resolved, so they work from a shell that
// has none of the daemon's environment (config.LoadOffline).
func loadConfigOffline(path string) (*config.Config, error) {
	if path == "" {
		p, err := config.Find()
		if err != nil {
			return nil, usageError{err.Error()}
		}
		path = p
	}
	cfg, err := config.LoadOffline(path)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	redactSecrets(cfg)
	return cfg, nil
}

// statusOptions are the flags of `scandrop status`.
type statusOptions struct {
	Config string
	JSON   bool
	// Watch redraws the report every Interval until ctx ends.
	Watch    bool
	Interval time.Duration
	// Terminal: stdout is a terminal, so --watch redraws in place;
	// otherwise each report follows the last.
	Terminal bool
}

// defaultStatusInterval is the --watch refresh period; minStatusInterval
// keeps a typo (1ms) from rereading every journal in a busy loop.
const (
	defaultStatusInterval = 2 * time.Second
	minStatusInterval     = 100 * time.Millisecond
)

// runStatus prints the status of every watch once, or with Watch every
// Interval until ctx ends (Ctrl-C), which is a success.
func runStatus(ctx context.Context, opts statusOptions, stdout, stderr io.Writer) error {
	if opts.Watch && opts.Interval < minStatusInterval {
		return usageError{fmt.Sprintf("status: --interval must be at least %s (got %s)", minStatusInterval, opts.Interval)}
	}
	cfg, err := loadConfigOffline(opts.Config)
	if err != nil {
		return err
	}
	var srcs []ops.Source
	for _, w := range cfg.Watches {
		srcs = append(srcs, ops.Source{Dir: w.Dir, Account: w.Account})
	}
	r := newReporter()
	for first := true; ; first = false {
		var b bytes.Buffer
		rep := r.Report(ctx, srcs)
		if opts.Watch && !opts.JSON {
			switch {
			case opts.Terminal: // home, clear: the new report replaces the last in place
				b.WriteString("\x1b[H\x1b[2J")
			case !first:
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "scandrop status at %s, every %s (Ctrl-C to stop)\n\n", rep.GeneratedAt.Local().Format("15:04:05"), opts.Interval)
		}
		if err := writeStatus(&b, rep, opts.JSON); err != nil {
			return err
		}
		// A journal or result.json written before secrets were masked
		// may still hold one a vendor echoed.
		if _, err := stdout.Write(textsafe.RedactBytes(b.Bytes())); err != nil {
			return err
		}
		if !opts.Watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(opts.Interval):
		}
	}
}

// writeStatus writes one report, as text or as JSON (one document; with
// --watch a stream of them, one after the other).
func writeStatus(w io.Writer, rep ops.Report, asJSON bool) error {
	if !asJSON {
		return ops.WriteText(w, rep)
	}
	b, err := pipeline.IndentJSON(rep)
	if err != nil {
		return err
	}
	_, err = w.Write(textsafe.EscapeJSON(b))
	return err
}
