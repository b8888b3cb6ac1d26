package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/internal/diskfree"
	"github.com/scandrop/scandrop/internal/ops"
	"github.com/scandrop/scandrop/internal/textsafe"
	"github.com/scandrop/scandrop/internal/vendortable"
	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors"
)

// doctorOptions configure `scandrop doctor`.
type doctorOptions struct {
	// Config is the config file; "" finds it as every command does.
	Config string
	// EventWait is how long to wait for a file event in a watch's inbox/.
	// Default 2s.
	EventWait time.Duration
	// Timeout bounds each network check. Default 15s.
	Timeout time.Duration
}

// Thresholds of the checks.
const (
	// maxClockSkew is the clock difference with a vendor beyond which
	// doctor warns: Aholo signs every call with a timestamp its service
	// checks, and Realsee tokens expire at a time read on this clock.
	maxClockSkew = 2 * time.Minute
	// minFreeSpace is the free space below which doctor warns: Aholo
	// downloads assets into done/ folders, and a full disk stops every move.
	minFreeSpace = 1 << 30
	// doctorLineMax bounds each line: it may quote a vendor's answer.
	doctorLineMax = 1024
)

// runDoctor checks the setup named by o and prints one line per check on
// stdout: OK, WARN (works, but at a risk) or FAIL (does not work), each
// problem with its fix. It returns errJobFailed (exit 1) when a check
// failed, a usageError (exit 2) when the config cannot be loaded, nil when
// all is well, warnings or not. It changes nothing but probe files it
// creates and removes in the watch folders, and sends each vendor one
// authenticated call; it never prints a secret.
func runDoctor(ctx context.Context, o doctorOptions, stdout, stderr io.Writer) error {
	if o.EventWait <= 0 {
		o.EventWait = 2 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	cfg, err := loadConfig(o.Config)
	if err != nil {
		return err
	}
	r := &doctorReport{w: stdout}
	r.ok("config", cfg.Path+" loads and is valid")
	for _, w := range cfg.Warnings() {
		r.warn("config "+w.Key, w.Problem, w.Fix)
	}
	for _, wc := range cfg.Watches {
		checkWatch(ctx, r, wc, o)
	}
	checkVendors(ctx, r, cfg, o)
	checkListener(ctx, r, cfg, o)
	checkHooks(r, cfg)
	switch {
	case r.fails > 0:
		fmt.Fprintf(stdout, "doctor: %d problem(s), %d warning(s)\n", r.fails, r.warns)
		return errJobFailed
	case r.warns > 0:
		fmt.Fprintf(stdout, "doctor: no problem, %d warning(s)\n", r.warns)
	default:
		fmt.Fprintln(stdout, "doctor: all good")
	}
	return nil
}

// doctorReport writes the lines as the checks go, bounded, escaped, and
// with any secret of the config masked (loadConfig gave them to
// textsafe.Redact).
type doctorReport struct {
	w            io.Writer
	fails, warns int
}

func (r *doctorReport) ok(what, detail string) { r.line("OK", what, detail, "") }

func (r *doctorReport) warn(what, problem, fix string) {
	r.warns++
	r.line("WARN", what, problem, fix)
}

func (r *doctorReport) fail(what, problem, fix string) {
	r.fails++
	r.line("FAIL", what, problem, fix)
}

func (r *doctorReport) line(level, what, detail, fix string) {
	s := what + ": " + detail
	if fix != "" {
		s += "; fix: " + fix
	}
	fmt.Fprintf(r.w, "%-4s  %s\n", level, textsafe.Clean(textsafe.Redact(s), doctorLineMax))
}

// ---- watch folders

// checkWatch checks one watch root: there, writable, its four folders on
// one file system, file events, free space.
func checkWatch(ctx context.Context, r *doctorReport, wc config.Watch, o doctorOptions) {
	what := "watch " + wc.Dir
	fi, err := os.Stat(wc.Dir)
	switch {
	case err != nil:
		r.fail(what, "cannot be read: "+pathErr(err),
			"create it, or mount the share it is on (scandrop waits for a missing watch folder and never creates it)")
		return
	case !fi.IsDir():
		r.fail(what, "is not a folder", "point watches[].dir at a folder")
		return
	}
	var missing []string
	for _, sub := range []string{pipeline.Inbox, pipeline.Processing, pipeline.Done, pipeline.Failed} {
		if fi, err := os.Stat(filepath.Join(wc.Dir, sub)); err != nil || !fi.IsDir() {
			missing = append(missing, sub+"/")
		}
	}
	if len(missing) > 0 {
		r.ok(what, "exists; "+strings.Join(missing, ", ")+" will be created by scandrop run")
	} else {
		r.ok(what, "exists with inbox/, processing/, done/ and failed/")
	}

	// Writable, and one file system: a probe file is created in inbox/ and
	// renamed through the others, as a claimed drop is.
	probe := ".scandrop-doctor-" + randomSuffix()
	at := wc.Dir
	path := filepath.Join(at, probe)
	if len(missing) == 0 {
		at = filepath.Join(wc.Dir, pipeline.Inbox)
		path = filepath.Join(at, probe)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		r.fail(what, "cannot write in "+at+": "+pathErr(err),
			fmt.Sprintf("give the account scandrop runs as (uid %d) write access to the watch folder and its subfolders", os.Getuid()))
		return
	}
	f.Close()
	defer func() { os.Remove(path) }()
	if len(missing) > 0 {
		r.ok(what, "writable (the rename test waits for the subfolders)")
	} else {
		checkRenames(r, what, wc.Dir, probe, &path)
	}

	checkEvents(ctx, r, what, wc, o)

	if free, ok := diskfree.Free(wc.Dir); ok {
		if free < minFreeSpace {
			r.warn(what, "only "+ops.HumanBytes(free)+" free", "free space on that file system: a full disk stops every move to done/ and failed/")
		} else {
			r.ok(what, ops.HumanBytes(free)+" free")
		}
	}
}

// checkRenames moves the probe file from inbox/ through processing/,
// done/ and failed/: claims and results are renames, which fail across
// file systems. *path follows the file, for its removal.
func checkRenames(r *doctorReport, what, root, probe string, path *string) {
	for _, sub := range []string{pipeline.Processing, pipeline.Done, pipeline.Failed} {
		next := filepath.Join(root, sub, probe)
		if err := os.Rename(*path, next); err != nil {
			var errno syscall.Errno
			if errors.As(err, &errno) && errno == syscall.EXDEV {
				r.fail(what, "inbox/ and "+sub+"/ are on different file systems",
					"keep inbox/, processing/, done/ and failed/ on one file system (one share): scandrop moves drops by renaming")
			} else {
				r.fail(what, "cannot move a file from inbox/ to "+sub+"/: "+linkErr(err),
					"give the account scandrop runs as write access to "+sub+"/")
			}
			return
		}
		*path = next
	}
	r.ok(what, "writable; inbox/, processing/, done/ and failed/ on one file system")
}

// checkEvents creates a file in inbox/ and waits for its file event:
// network shares (SMB, NFS, FUSE) often deliver none, and then only
// `mode: poll` (or auto's rescans) finds drops.
func checkEvents(ctx context.Context, r *doctorReport, what string, wc config.Watch, o doctorOptions) {
	if wc.Mode == config.ModePoll {
		r.ok(what, "file events not used (mode poll): drops are found by a rescan every "+time.Duration(wc.PollInterval).String())
		return
	}
	inbox := filepath.Join(wc.Dir, pipeline.Inbox)
	if _, err := os.Stat(inbox); err != nil {
		inbox = wc.Dir // not created yet: the root is on the same file system
	}
	problem := func(p string) {
		if wc.Mode == config.ModeNotify {
			r.fail(what, p, "set mode: poll for this watch (network shares often deliver no file events)")
		} else {
			r.warn(what, p+"; mode auto still finds drops, by a rescan every "+time.Duration(wc.PollInterval).String(),
				"set mode: poll for this watch to say so (network shares often deliver no file events)")
		}
	}
	fw, err := fsnotify.NewWatcher()
	if err == nil {
		if err = fw.Add(inbox); err != nil {
			fw.Close()
		}
	}
	if err != nil {
		problem("file events are unavailable on inbox/: " + err.Error())
		return
	}
	defer fw.Close()
	name := filepath.Join(inbox, ".scandrop-doctor-event-"+randomSuffix())
	start := time.Now()
	if err := os.WriteFile(name, nil, 0o600); err != nil {
		return // the write check above has said why
	}
	defer os.Remove(name)
	timeout := time.NewTimer(o.EventWait)
	defer timeout.Stop()
	for {
		select {
		case ev := <-fw.Events:
			if ev.Name == name {
				r.ok(what, fmt.Sprintf("file events arrive (after %s)", time.Since(start).Round(time.Microsecond)))
				return
			}
		case <-fw.Errors:
		case <-timeout.C:
			problem(fmt.Sprintf("no file event arrived within %s of creating a file in %s", o.EventWait, inbox))
			return
		case <-ctx.Done():
			return
		}
	}
}

// ---- vendors

// checkVendors checks each configured vendor client, of the top-level
// sections and of each account: its endpoint's name and TLS, its
// credentials with one authenticated call, and the clock against the
// vendor's.
func checkVendors(ctx context.Context, r *doctorReport, cfg *config.Config, o doctorOptions) {
	dates := &dateRecorder{next: http.DefaultTransport}
	w := world{httpClient: &http.Client{Transport: dates}, clock: vendors.SystemClock{}}
	accounts := []string{""}
	for _, a := range cfg.Accounts {
		accounts = append(accounts, a.Name)
	}
	n := 0
	for _, account := range accounts {
		vs := cfg.AccountVendors(account)
		clients, _ := vendorClients(vs, w, slog.New(slog.DiscardHandler))
		for _, v := range clients {
			n++
			checkVendor(ctx, r, cfg, o, account, v, vs.Section(v.Name()).BaseURL(), dates)
		}
	}
	if n == 0 {
		var secs []string
		for _, e := range vendortable.All() {
			secs = append(secs, e.Name+":")
		}
		r.warn("vendors", "no vendor section ("+strings.Join(secs, ", ")+") in the config: every drop fails", "add the section of the vendor you use")
	}
}

// checkVendor checks one vendor client of account.
func checkVendor(ctx context.Context, r *doctorReport, cfg *config.Config, o doctorOptions, account string, v vendors.Vendor, endpoint string, dates *dateRecorder) {
	label := clientLabel(account, v.Name())
	keys := credentialKeysOf(cfg, account, v.Name())
	section := v.Name()
	if account != "" {
		section = "accounts[" + account + "]." + section
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		r.fail(label+" endpoint", "is not a URL", "check "+section+".endpoint")
		return
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	what := label + " endpoint " + u.Scheme + "://" + u.Host

	cctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if proxy, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err == nil && proxy != nil {
		// The calls go through the proxy, which resolves the name and
		// makes the connection: the credential check tests that way.
		r.ok(what, "reached through the proxy "+proxy.Host+" (HTTPS_PROXY/HTTP_PROXY)")
	} else if !checkEndpoint(cctx, r, what, section, u.Scheme, host, port) {
		return
	}
	checkCredentials(cctx, r, label, section, keys, v, dates)
}

// checkEndpoint resolves host and connects to it (with TLS for https);
// it reports whether the credential check is worth making.
func checkEndpoint(ctx context.Context, r *doctorReport, what, section, scheme, host, port string) bool {
	if net.ParseIP(host) == nil {
		addrs, err := net.DefaultResolver.LookupHost(ctx, host)
		if err != nil {
			r.fail(what, "the name does not resolve: "+err.Error(), "check "+section+".endpoint and this machine's DNS")
			return false
		}
		r.ok(what, fmt.Sprintf("resolves (%s)", strings.Join(addrs[:min(len(addrs), 3)], ", ")))
	}
	addr := net.JoinHostPort(host, port)
	if scheme == "https" {
		d := &tls.Dialer{Config: &tls.Config{ServerName: host}}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			r.fail(what, "TLS handshake failed: "+err.Error(),
				"check "+section+".endpoint, a proxy or firewall intercepting TLS, and this machine's CA certificates")
			return false
		}
		st := conn.(*tls.Conn).ConnectionState()
		conn.Close()
		detail := "TLS handshake OK (" + tls.VersionName(st.Version)
		if len(st.PeerCertificates) > 0 {
			detail += ", certificate valid until " + st.PeerCertificates[0].NotAfter.UTC().Format("2006-01-02")
		}
		r.ok(what, detail+")")
	} else {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			r.fail(what, "cannot connect: "+err.Error(), "check "+section+".endpoint and the network (firewall, proxy)")
			return false
		}
		conn.Close()
		r.ok(what, "connects (plain http, no TLS)")
	}
	return true
}

// checkCredentials makes the vendor client's one authenticated call and
// compares the clocks on its answer's Date.
func checkCredentials(ctx context.Context, r *doctorReport, label, section string, keys credentialKeys, v vendors.Vendor, dates *dateRecorder) {
	entry, _ := vendortable.Lookup(v.Name())
	c, ok := v.(vendors.CredentialChecker)
	if !ok {
		return
	}
	what := label + " credentials"
	err := c.CheckCredentials(ctx)
	switch kind := vendors.KindOf(err); {
	case err == nil:
		r.ok(what, "accepted ("+entry.ProbeCall+")")
	case kind == vendors.Auth:
		r.fail(what, "the vendor refuses them: "+err.Error(), keys.Keys)
	case kind == vendors.Transient:
		r.fail(what, "could not be checked, the vendor did not answer: "+err.Error(),
			"check "+section+".endpoint, the network and any proxy; a vendor outage passes by itself")
	default:
		r.fail(what, "unexpected answer: "+err.Error(), "check "+section+".endpoint")
	}
	if d, ok := dates.skew(); ok {
		what = label + " clock"
		switch {
		case d > maxClockSkew || d < -maxClockSkew:
			dir := "ahead of"
			if d < 0 {
				dir, d = "behind", -d
			}
			r.warn(what, fmt.Sprintf("this machine's clock is %s %s %s's: %s", d.Round(time.Second), dir, label, entry.ClockSkew),
				"synchronise the clock (NTP)")
		default:
			r.ok(what, fmt.Sprintf("within %s of the vendor's", max(d, -d).Round(time.Second)))
		}
	}
}

// dateRecorder remembers the Date header of the last answer, to compare
// the clocks.
type dateRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	last time.Duration // local clock minus the answer's Date
	seen bool
}

func (d *dateRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(req)
	if err == nil {
		if t, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
			d.mu.Lock()
			// Date has whole seconds: half a second of error either way.
			d.last, d.seen = time.Since(t.Add(500*time.Millisecond)), true
			d.mu.Unlock()
		}
	}
	return resp, err
}

// skew returns the last difference seen and forgets it.
func (d *dateRecorder) skew() (time.Duration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.last, d.seen
	d.seen = false
	return s, ok
}

// ---- listener and hooks

// checkListener checks that http.listen can be bound, or is bound by a
// running scandrop.
func checkListener(ctx context.Context, r *doctorReport, cfg *config.Config, o doctorOptions) {
	if cfg.HTTP == nil {
		return
	}
	addr := cfg.HTTP.Listen
	what := "http.listen " + addr
	l, err := net.Listen("tcp", addr)
	if err == nil {
		l.Close()
		r.ok(what, "free to listen on")
		return
	}
	if errors.Is(err, syscall.EADDRINUSE) && scandropListens(ctx, addr, o.Timeout) {
		r.ok(what, "in use by a running scandrop (it answers /healthz)")
		return
	}
	r.fail(what, "cannot listen: "+err.Error(), "choose a free http.listen address, or stop the program using it")
}

// scandropListens reports whether what listens on addr answers /healthz
// as scandrop does.
func scandropListens(ctx context.Context, addr string, timeout time.Duration) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, min(timeout, 5*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16))
	return resp.StatusCode == http.StatusOK && string(b) == "ok\n"
}

// checkHooks checks that each notification command can be run. Webhook
// URLs were validated at load; no test notification is sent.
func checkHooks(r *doctorReport, cfg *config.Config) {
	for i, c := range cfg.Notify.Commands {
		what := fmt.Sprintf("notify.commands[%d]", i)
		if len(c.Run) == 0 {
			continue
		}
		p, err := exec.LookPath(c.Run[0])
		if err != nil {
			r.fail(what, "cannot run "+c.Run[0]+": "+linkErr(err),
				"install it, give its absolute path, or make it executable (chmod +x)")
			continue
		}
		r.ok(what, p+" is executable")
	}
	for i, w := range cfg.Notify.Webhooks {
		what := fmt.Sprintf("notify.webhooks[%d]", i)
		if u, err := url.Parse(w.URL.Reveal()); err == nil {
			// Only the host: the URL may carry a token.
			r.ok(what, u.Scheme+" URL to "+u.Host+" (not called: doctor sends no notification)")
		}
	}
}

// ---- helpers

func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// pathErr is err without the path an *fs.PathError repeats.
func pathErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// linkErr is err without the paths an *os.LinkError repeats.
func linkErr(err error) string {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err.Error()
	}
	return pathErr(err)
}
