package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/scandrop/scandrop/examples"
	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/internal/vendortable"
	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors"
)

// demoOptions are the flags of `scandrop demo` (cli.go).
type demoOptions struct {
	globalFlags
	dir  string // the watch folder; "" is a new temporary one
	keep bool   // keep the temporary watch folder
}

// runDemo is the offline sandbox: the built-in vendor emulators and an S3
// store run in this process, the bundled examples are dropped into a fresh
// watch folder, and the real daemon — watcher, pipeline, vendor clients —
// carries them to done/. The links it prints are the emulators': it says
// so, as they lead nowhere once it exits. A temporary watch folder is
// removed when the demo ends, however it ends, unless opts.keep; a folder
// given with --dir is the user's and is kept.
func runDemo(ctx context.Context, opts demoOptions, stdout, stderr io.Writer) error {
	start := time.Now()
	root := opts.dir
	var err error
	if root == "" {
		if root, err = os.MkdirTemp("", "scandrop-demo-"); err != nil {
			return err
		}
		// Deferred first, so it runs last: after the daemon has stopped.
		defer func() {
			if opts.keep {
				fmt.Fprintf(stdout, "kept the watch folder: %s\n", root)
				return
			}
			if err := os.RemoveAll(root); err != nil {
				fmt.Fprintf(stderr, "scandrop demo: could not remove the temporary watch folder: %v\n", err)
				return
			}
			fmt.Fprintf(stdout, "removed the temporary watch folder %s (--keep keeps it)\n", root)
		}()
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	level := opts.logLevel
	if level == "" {
		level = "warn" // the demo prints its own story; warnings still show
	}
	log, err := newLogger(stderr, opts.logFormat, level)
	if err != nil {
		return err
	}

	cfg := config.Default()
	cfg.Watches = []config.Watch{{Dir: root, Mode: config.ModeAuto,
		PollInterval: config.Duration(500 * time.Millisecond), Settle: config.Duration(time.Second)}}
	// Every vendor's emulator, as the default account. Some speak HTTPS,
	// as their vendor does: the client trusts their certificates.
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	for _, e := range vendortable.All() {
		fake := e.Demo(300 * time.Millisecond)
		defer fake.Close()
		cfg.Vendors.Set(e.Name, fake.Section)
		if fake.TrustPEM != nil {
			roots.AppendCertsFromPEM(fake.TrustPEM)
		}
	}
	cfg.SetDefaults()
	// The demo's jobs are its own: its claim key stays with them, not in
	// the user's state folder.
	if cfg.StateDir, err = os.MkdirTemp("", "scandrop-demo-state-"); err != nil {
		return err
	}
	defer os.RemoveAll(cfg.StateDir)

	fmt.Fprintf(stdout, "scandrop demo — offline: scandrop's built-in emulators of the %s APIs\n"+
		"(fake vendors) and an S3 store run in this process. Nothing is sent to the real vendors,\n"+
		"and the links and asset URLs below are the emulators', not real tours or models.\n", strings.Join(vendorTitles(), " and "))
	fmt.Fprintf(stdout, "watch folder: %s\n\n", root)
	story := &demoStory{w: stdout, start: start}
	events := story.say
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	w := world{httpClient: hc, clock: vendors.SystemClock{}}
	d := &daemon{cfg: cfg, pipe: newPipeline(cfg, w, log, story), log: log}

	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- d.run(runCtx) }()
	// stopDaemon stops the daemon and waits for it, once; deferred, so
	// that it has stopped before the watch folder is removed.
	stopped := false
	stopDaemon := func() {
		if !stopped {
			stop()
			<-ran
			stopped = true
		}
	}
	defer stopDaemon()

	drops, err := dropExamples(root)
	if err != nil {
		return err
	}
	for _, name := range drops {
		events(name, "dropped into inbox/", "")
	}

	deadline := time.After(90 * time.Second)
	results := map[string]string{}
	for len(results) < len(drops) {
		for _, name := range drops {
			for _, sub := range []string{pipeline.Done, pipeline.Failed} {
				p := filepath.Join(root, sub, name, pipeline.ResultFile)
				if _, err := os.Stat(p); err == nil {
					results[name] = p
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-ran:
			stop()
			stopped = true
			return fmt.Errorf("the daemon stopped: %v", err)
		case <-deadline:
			return errors.New("demo: the drops did not finish within 90s")
		case <-time.After(100 * time.Millisecond):
		}
	}
	stopDaemon()

	fmt.Fprintln(stdout)
	failed := false
	for _, name := range drops {
		b, err := os.ReadFile(results[name])
		if err != nil {
			return err
		}
		var r pipeline.Result
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		switch {
		case r.Success() && r.VRURL != "":
			fmt.Fprintf(stdout, "%s: VR link (the emulator's, not a real tour) %s\n", name, r.VRURL)
		case r.Success():
			fmt.Fprintf(stdout, "%s: 3D assets (the emulator's, not real models)\n", name)
			for _, k := range sortedKeys(r.Assets) {
				fmt.Fprintf(stdout, "    %-4s %s\n", k, r.Assets[k])
			}
		default:
			failed = true
			fmt.Fprintf(stdout, "%s: FAILED at %s: %s\n", name, r.Error.Stage, r.Error.Message)
		}
		rel, _ := filepath.Rel(root, results[name])
		fmt.Fprintf(stdout, "    result: %s\n", rel) // in the watch folder
	}
	fmt.Fprintf(stdout, "\ndone in %.1fs\n", time.Since(start).Seconds())
	if failed {
		return errJobFailed
	}
	return nil
}

// vendorTitles names every vendor for people, from the table.
func vendorTitles() []string {
	var out []string
	for _, e := range vendortable.All() {
		out = append(out, e.Title)
	}
	return out
}

// dropExamples copies every bundled example into the inbox the way a
// careful copier does: into a hidden folder first, renamed into place once
// complete.
func dropExamples(root string) ([]string, error) {
	inbox := filepath.Join(root, pipeline.Inbox)
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		return nil, err
	}
	var names []string
	for _, e := range vendortable.All() {
		vendor := e.Name
		ents, err := fs.ReadDir(examples.FS, vendor)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			tmp := filepath.Join(inbox, ".copying-"+e.Name())
			if err := copyEmbedded(path.Join(vendor, e.Name()), tmp); err != nil {
				return nil, err
			}
			if err := os.Rename(tmp, filepath.Join(inbox, e.Name())); err != nil {
				return nil, err
			}
			names = append(names, e.Name())
		}
	}
	return names, nil
}

func copyEmbedded(src, dst string) error {
	return fs.WalkDir(examples.FS, src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := p[len(src):]
		target := filepath.Join(dst, filepath.FromSlash(rel))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := examples.FS.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

// demoStory prints what the jobs do, as it happens.
type demoStory struct {
	pipeline.NopObserver
	w     io.Writer
	start time.Time
	mu    sync.Mutex
}

func (s *demoStory) say(folder, what, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := fmt.Sprintf("%6.1fs  %-24s %s", time.Since(s.start).Seconds(), folder, what)
	if detail != "" {
		line += " (" + detail + ")"
	}
	fmt.Fprintln(s.w, line)
}

func (s *demoStory) Stage(folder, vendor, stage string) { s.say(folder, stage, vendor) }

func (s *demoStory) VendorStatus(folder, vendor, status string) {
	s.say(folder, "wait", vendor+" says "+status)
}

func (s *demoStory) Finished(folder string, res *pipeline.Result, path string) {
	s.say(folder, "moved to "+filepath.Base(filepath.Dir(path))+"/", res.Status)
}
