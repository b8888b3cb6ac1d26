package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/internal/notify"
	"github.com/scandrop/scandrop/internal/ops"
	"github.com/scandrop/scandrop/internal/textsafe"
	"github.com/scandrop/scandrop/internal/vendortable"
	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/watcher"
)

// loadConfig finds and loads the configuration named by --config.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		p, err := config.Find()
		if err != nil {
			return nil, usageError{err.Error()}
		}
		path = p
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	redactSecrets(cfg)
	return cfg, nil
}

// world is what the daemon talks to; the demo swaps in its fakes.
type world struct {
	httpClient *http.Client
	clock      vendors.Clock
}

// vendorClients makes the clients of one account's vendors, each with
// its own credentials and caches, and their waiting rules.
func vendorClients(vs *config.Vendors, w world, log *slog.Logger) ([]vendors.Vendor, map[string]pipeline.VendorSettings) {
	clients, waits := vendortable.Build(vs, vendortable.Env{HTTPClient: w.httpClient, Clock: w.clock, Logger: log})
	settings := map[string]pipeline.VendorSettings{}
	for name, wt := range waits {
		settings[name] = pipeline.VendorSettings{PollInterval: wt.Poll, Timeout: wt.Timeout}
	}
	return clients, settings
}

func newPipeline(cfg *config.Config, w world, log *slog.Logger, obs pipeline.Observer) *pipeline.Pipeline {
	vs, settings := vendorClients(&cfg.Vendors, w, log)
	accounts := map[string]pipeline.Account{}
	for i := range cfg.Accounts {
		a := &cfg.Accounts[i]
		avs, as := vendorClients(&a.Vendors, w, log.With("account", a.Name))
		accounts[a.Name] = pipeline.Account{Vendors: avs, Settings: as}
	}
	watchAccounts := map[string]string{}
	for _, wc := range cfg.Watches {
		if wc.Account != "" {
			watchAccounts[wc.Dir] = wc.Account
		}
	}
	return pipeline.New(pipeline.Options{
		Vendors: vs, Settings: settings, Markers: vendortable.Markers(),
		Accounts: accounts, WatchAccounts: watchAccounts,
		Clock: w.clock, Logger: log, Observer: obs,
		Crash: crashHook(), CrashLimit: cfg.CrashLimit,
		ClaimKey: pipeline.LoadClaimKey(cfg.StateDirectory(), log),
	})
}

// daemon is `scandrop run`: watchers feeding the pipeline, and the resume
// of jobs left in processing/.
type daemon struct {
	cfg  *config.Config
	pipe *pipeline.Pipeline
	log  *slog.Logger
	// orphanScan is how often processing/ is searched for jobs no live
	// daemon owns.
	orphanScan time.Duration

	// monitor, if set, is told when a job ends here without finishing,
	// and gives live status its fresher view.
	monitor  *ops.Monitor
	reporter *ops.Reporter
	// gate, if set, holds the drops of a vendor refusing the credentials.
	gate *pipeline.CredentialGate

	mu       sync.Mutex
	running  map[string]bool
	watchers map[string]*watcher.Watcher // by watch dir, once run has made them
	wg       sync.WaitGroup
}

// inbox returns the live inbox view of the watch dir, or nil before the
// daemon runs.
func (d *daemon) inbox(dir string) func() []watcher.FolderState {
	d.mu.Lock()
	w := d.watchers[dir]
	d.mu.Unlock()
	if w == nil {
		return nil
	}
	return w.Inbox
}

// scanned reports a watch's scan times to the monitor, if there is one.
func (d *daemon) scanned(dir string) func(bool, time.Duration) {
	if d.monitor == nil {
		return nil
	}
	return func(full bool, took time.Duration) { d.monitor.Scanned(dir, full, took) }
}

func (d *daemon) run(ctx context.Context) error {
	// max_jobs is shared by all watches, in turns (see FairSlots).
	fair := watcher.NewFairSlots(d.cfg.MaxJobs)
	d.running = map[string]bool{}
	if d.orphanScan == 0 {
		d.orphanScan = time.Minute
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(d.cfg.Watches))
	for _, wc := range d.cfg.Watches {
		slots := fair.For(time.Duration(wc.PollInterval))
		w, err := watcher.New(watcher.Options{
			Dir: wc.Dir, Mode: watcher.Mode(wc.Mode), PollInterval: time.Duration(wc.PollInterval),
			Settle: time.Duration(wc.Settle), Markers: vendortable.MarkerNames(), Logger: d.log.With("watch", wc.Dir),
			OnScan: d.scanned(wc.Dir), Hold: d.hold,
		})
		if err != nil {
			return usageError{err.Error()}
		}
		d.mu.Lock()
		if d.watchers == nil {
			d.watchers = map[string]*watcher.Watcher{}
		}
		d.watchers[wc.Dir] = w
		d.mu.Unlock()
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx, slots, func(path string) { d.handle(ctx, path, true) }); err != nil && !errors.Is(err, context.Canceled) {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			d.resumeLoop(ctx, wc.Dir, slots)
		}()
		wg.Go(func() { d.retentionLoop(ctx, wc) })
	}
	d.log.Info("scandrop running", "watches", len(d.cfg.Watches), "max_jobs", d.cfg.MaxJobs, "version", versionString())
	wg.Wait()
	d.wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	d.log.Info("scandrop stopped")
	return ctx.Err()
}

// resumeLoop resumes, at start and then every orphanScan, the jobs in
// processing/ that no live daemon runs.
func (d *daemon) resumeLoop(ctx context.Context, root string, slots watcher.Slots) {
	said := false
	for {
		orphans, err := d.pipe.Orphans(root)
		if err != nil && !said {
			d.log.Debug("cannot list processing/ yet", "watch", root, "error", err)
			said = true
		}
		for _, dir := range orphans {
			d.mu.Lock()
			busy := d.running[dir]
			d.mu.Unlock()
			if busy || d.hold(dir) != "" || !slots.TryAcquire() {
				continue
			}
			d.wg.Add(1)
			go func() {
				defer d.wg.Done()
				defer slots.Release()
				d.handle(ctx, dir, false)
			}()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(d.orphanScan):
		}
	}
}

func (d *daemon) handle(ctx context.Context, dir string, fresh bool) {
	d.mu.Lock()
	if d.running[dir] {
		d.mu.Unlock()
		return
	}
	d.running[dir] = true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.running, dir)
		d.mu.Unlock()
	}()
	_, _, err := d.pipe.Handle(ctx, dir, fresh)
	if err != nil && d.monitor != nil {
		d.monitor.Forget(filepath.Base(dir))
	}
	switch {
	case err == nil, errors.Is(err, context.Canceled):
	case errors.Is(err, pipeline.ErrOwned):
		d.log.Debug("job owned by another scandrop", "folder", filepath.Base(dir))
	default:
		d.log.Error("job could not be finished; it stays in processing/ and is retried", "folder", filepath.Base(dir), "error", err)
	}
}

// runOptions are the flags of `scandrop run` (cli.go).
type runOptions struct{ globalFlags }

// runRun is `scandrop run`: the daemon in the foreground, or under the
// Windows service manager.
func runRun(ctx context.Context, opts runOptions, stdout, stderr io.Writer) error {
	cfg, cfgErr := loadConfig(opts.config)
	if underServiceManager() {
		// The SCM must be answered whatever happens next; a bad config is
		// then reported in the event log.
		level := opts.logLevel
		if level == "" && cfg != nil {
			level = cfg.Log.Level
		}
		return runAsService(level, func(ctx context.Context, log *slog.Logger) error {
			if cfgErr != nil {
				return cfgErr
			}
			return runDaemon(ctx, cfg, log)
		})
	}
	if cfgErr != nil {
		return cfgErr
	}
	log, err := loggerFor(cfg, opts.globalFlags, stderr)
	if err != nil {
		return err
	}
	return runDaemon(ctx, cfg, log)
}

// runDaemon is `scandrop run` once configured: the daemon, its observers
// (metrics, notifications) and the HTTP listener.
func runDaemon(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	routeStdLog(log)
	harden(log)
	warnRisky(cfg, log)
	mon := ops.NewMonitor(ops.BuildInfo(version, commitString()), nil)
	notifier := notify.NewNotifier(cfg.Notify, notify.NotifierOptions{
		Logger: log, UserAgent: "scandrop/" + version, Count: mon.Notified, Secrets: cfg.Secrets(),
	})
	w := world{httpClient: http.DefaultClient, clock: vendors.SystemClock{}}
	auth := &authFailures{}
	d := &daemon{cfg: cfg, pipe: newPipeline(cfg, w, log, pipeline.Observers{mon, notifier, auth}), log: log, monitor: mon}

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	// Credentials first: a vendor refusing them holds its drops in inbox/.
	d.gate = newCredentialGate(cfg, d.pipe, w.clock, log)
	auth.gate = d.gate
	d.gate.Start(ctx)
	go d.gate.Run(ctx)
	var served <-chan error
	if cfg.HTTP != nil {
		srv := &ops.Server{
			Report:  func(ctx context.Context) ops.Report { return d.report(ctx) },
			Monitor: mon, Roots: watchDirs(cfg), Version: versionString(), Logger: log,
			Token: cfg.HTTP.Token.Reveal(),
		}
		addr, done, err := srv.ListenAndServe(ctx, cfg.HTTP.Listen)
		if err != nil {
			return usageError{fmt.Sprintf("http.listen: %v", err)}
		}
		served = done
		log.Info("http listening", "addr", addr.String(), "status_page", "http://"+addr.String()+"/")
	}
	err := d.run(ctx)
	stop()
	if served != nil {
		<-served
	}
	// Notifications under way get a moment to finish; the rest are logged
	// as not delivered.
	grace, cancel := context.WithTimeout(context.Background(), notifyGrace)
	notifier.Close(grace)
	cancel()
	return err
}

// warnRisky logs each risky setting (config.Config.Warnings), so that one
// is never taken on without a word.
func warnRisky(cfg *config.Config, log *slog.Logger) {
	for _, w := range cfg.Warnings() {
		log.Warn("risky setting", "key", w.Key, "problem", w.Problem, "fix", w.Fix)
	}
}

// notifyGrace is how long a stopping daemon waits for notifications.
const notifyGrace = 10 * time.Second

func watchDirs(cfg *config.Config) []string {
	var dirs []string
	for _, w := range cfg.Watches {
		dirs = append(dirs, w.Dir)
	}
	return dirs
}

// loggerFor is the logger of a command: the flags, else the config.
func loggerFor(cfg *config.Config, g globalFlags, w io.Writer) (*slog.Logger, error) {
	format, level := g.logFormat, g.logLevel
	if cfg != nil {
		if format == "" {
			format = cfg.Log.Format
		}
		if level == "" {
			level = cfg.Log.Level
		}
	}
	return newLogger(w, format, level)
}

// processOptions are the flags and argument of `scandrop process`.
type processOptions struct {
	globalFlags
	folder string
}

// runProcess is `scandrop process FOLDER`: one job, in place.
func runProcess(ctx context.Context, opts processOptions, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(opts.config)
	if err != nil {
		return err
	}
	// On a terminal, a progress bar; the log scrolls above it.
	var obs pipeline.Observer
	var bar *progressBar
	logOut := stderr
	if f, ok := stderr.(*os.File); ok && isTerminal(f) {
		bar = newProgressBar(f)
		defer bar.Close()
		obs, logOut = bar, bar
	}
	log, err := loggerFor(cfg, opts.globalFlags, logOut)
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(opts.folder)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		if claimedByDaemon(dir) {
			return errTaken{textsafe.Escape(opts.folder) + " is already taken by a scandrop daemon: it is in processing/ now; see scandrop status"}
		}
		return usageError{fmt.Sprintf("%s: not a folder", textsafe.Escape(opts.folder))}
	}
	w := world{httpClient: http.DefaultClient, clock: vendors.SystemClock{}}
	p := newPipeline(cfg, w, log, obs)
	release, err := p.Own(ctx, dir)
	if errors.Is(err, pipeline.ErrOwned) {
		return errTaken{textsafe.Escape(opts.folder) + " is being run by another scandrop; see scandrop status"}
	} else if err != nil {
		return err
	}
	defer release()
	res, err := p.Process(ctx, dir, true)
	if bar != nil {
		bar.Close()
	}
	if err != nil {
		if _, serr := os.Stat(dir); errors.Is(serr, os.ErrNotExist) {
			// A daemon watching this inbox claimed the folder (renamed it
			// into processing/) while we ran: it runs the job from here.
			return errTaken{textsafe.Escape(opts.folder) + " was taken by a scandrop daemon while this one ran it: it continues there; see scandrop status"}
		}
		return err
	}
	b, _ := pipeline.IndentJSON(res)
	fmt.Fprintf(stdout, "%s\n", textsafe.EscapeJSON(b))
	if !res.Success() {
		return errJobFailed
	}
	return nil
}

// claimedByDaemon reports a folder of an inbox/ that is gone because a
// daemon claimed it: processing/<name> beside it exists.
func claimedByDaemon(dir string) bool {
	if filepath.Base(filepath.Dir(dir)) != pipeline.Inbox {
		return false
	}
	_, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(dir)), pipeline.Processing, filepath.Base(dir)))
	return err == nil
}

// checkOptions are the flags and argument of `scandrop check`.
type checkOptions struct {
	globalFlags
	folder string
}

// runCheck is `scandrop check FOLDER`: offline validation.
func runCheck(ctx context.Context, opts checkOptions, stdout, stderr io.Writer) error {
	dir := opts.folder
	// Names, ids and messages come from the drop: each line is escaped
	// (a terminal shows ESC as \x1b instead of obeying it) and bounded.
	show := textsafe.Escape(dir)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return usageError{fmt.Sprintf("%s: not a folder", show)}
	}
	// Validation is offline: vendors with no credentials do.
	name, err := pipeline.Check(ctx, dir, vendortable.Offline())
	if err == nil {
		fmt.Fprintf(stdout, "%s: a valid %s drop\n", show, name)
		return nil
	}
	var ps vendors.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(stdout, textsafe.Escape(p.String()))
		}
		fmt.Fprintf(stdout, "%s: %d problem(s); nothing was changed\n", show, ps.Count())
		return errJobFailed
	}
	fmt.Fprintln(stdout, textsafe.Clean(pipeline.ShowPaths(err.Error(), dir), vendors.MaxErrorMessage))
	return errJobFailed
}
