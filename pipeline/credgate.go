package pipeline

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scandrop/scandrop/vendors"
)

// Credentials is one vendor client whose credentials a CredentialGate
// watches.
type Credentials struct {
	// Label names the client in the log and in the reason a drop waits:
	// the vendor ("realsee"), with its account when there is one.
	Label string
	// Checker makes the probe.
	Checker vendors.CredentialChecker
	// Keys are the configuration keys holding the credentials, named in
	// the ERROR line: "realsee.app_key, realsee.app_secret_file (/etc/…)".
	Keys string
	// ReadSecret, when the secret comes from a file (app_secret_file),
	// reads it again; it is called while the credentials are refused, and
	// a changed secret is handed to Checker (if it is a
	// vendors.SecretSetter) and tried at once, so fixing the file is
	// enough. nil when the secret comes from the environment or
	// config.yaml itself: a running process sees no change to either, so
	// fixing those needs a restart.
	ReadSecret func() (string, error)
}

// GateOptions configure a CredentialGate. Zero values are the defaults.
type GateOptions struct {
	Clock  vendors.Clock
	Logger *slog.Logger
	// MinWait and MaxWait bound the wait between probes of refused
	// credentials, which doubles from one to the other. Defaults 15s and
	// 1m: a vendor is asked at most once a minute once it has said no.
	MinWait, MaxWait time.Duration
	// FileCheck is how often the secret files of refused credentials are
	// read for a change. Default 2s.
	FileCheck time.Duration
	// ProbeTimeout bounds each probe; one that runs out counts as an
	// outage. Default 20s.
	ProbeTimeout time.Duration
	// StartWait bounds how long Start holds up the daemon's start; a probe
	// still under way then goes on in the background, and its drops go
	// ahead meanwhile. Default 5s.
	StartWait time.Duration
}

// CredentialGate holds back the drops of a vendor client whose
// credentials the vendor refuses, instead of letting each one fail: the
// daemon probes every client at start (Start), asks Held before claiming
// a drop, and Run probes refused clients again until the credentials are
// fixed. Only a refusal (an error of kind vendors.Auth) holds drops: an
// outage says nothing about the credentials, and jobs retry outages on
// their own. It is safe for concurrent use.
type CredentialGate struct {
	o    GateOptions
	wake chan struct{}

	mu      sync.Mutex
	clients []*gated
}

// gated is the state of one client.
type gated struct {
	Credentials
	refused string    // the vendor's refusal; "" while not refused
	sum     [32]byte  // digest of the secret as ReadSecret last read it
	next    time.Time // when to probe again, while refused
	wait    time.Duration
	now     bool // probe at the next round (Suspect, a changed file)
	reading bool // a read of the secret file is under way (reread)
}

// NewCredentialGate returns a gate for the clients cs. It makes no call.
func NewCredentialGate(o GateOptions, cs ...Credentials) *CredentialGate {
	if o.Clock == nil {
		o.Clock = vendors.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MinWait <= 0 {
		o.MinWait = 15 * time.Second
	}
	if o.MaxWait <= 0 {
		o.MaxWait = time.Minute
	}
	if o.FileCheck <= 0 {
		o.FileCheck = 2 * time.Second
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 20 * time.Second
	}
	if o.StartWait <= 0 {
		o.StartWait = 5 * time.Second
	}
	g := &CredentialGate{o: o, wake: make(chan struct{}, 1)}
	for _, c := range cs {
		e := &gated{Credentials: c}
		if c.ReadSecret != nil {
			if s, err := c.ReadSecret(); err == nil {
				e.sum = sha256.Sum256([]byte(s))
			}
		}
		g.clients = append(g.clients, e)
	}
	return g
}

// Start probes every client once, at the same time, and returns when all
// have answered or StartWait has passed. A refusal is logged as an ERROR
// naming the client and its keys.
func (g *CredentialGate) Start(ctx context.Context) {
	var wg sync.WaitGroup
	for _, e := range g.clients {
		wg.Go(func() { g.probe(ctx, e, true) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	case <-g.o.Clock.After(g.o.StartWait):
	}
}

// Held returns why drops for the client labelled label must wait, or ""
// when they may go ahead (also for a label the gate does not know).
func (g *CredentialGate) Held(label string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range g.clients {
		if e.Label == label && e.refused != "" {
			how := "scandrop asks again every " + shortDuration(g.o.MaxWait)
			if e.ReadSecret != nil {
				how += " and at once when the secret file changes"
			} else {
				how += "; a secret from the environment or config.yaml needs a restart"
			}
			return "waiting: " + label + " refuses the credentials (" + e.Keys + "); fix them: " + how
		}
	}
	return ""
}

// Suspect asks for a prompt probe of the client labelled label: a job of
// it failed with kind auth, so its credentials may have been revoked.
func (g *CredentialGate) Suspect(label string) {
	g.mu.Lock()
	for _, e := range g.clients {
		if e.Label == label {
			e.now = true
		}
	}
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// Run probes refused clients again until ctx ends: on their backoff, at
// once when their secret file changes, and when Suspect asks.
func (g *CredentialGate) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.wake:
		case <-g.o.Clock.After(g.o.FileCheck):
		}
		for _, e := range g.due() {
			g.probe(ctx, e, false)
		}
	}
}

// due returns the clients to probe now. It starts a read of the secret
// file of each refused client on a goroutine of its own and does not wait
// for it: Held takes g.mu before every claim, and a slow read (a file on a
// hung network share) must delay only its own client, never the watchers,
// the other clients or the daemon's stop. A changed secret is handed to
// its client when the read ends (see reread).
func (g *CredentialGate) due() []*gated {
	now := g.o.Clock.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*gated
	for _, e := range g.clients {
		if e.refused != "" && e.ReadSecret != nil && !e.reading {
			e.reading = true
			go g.reread(e)
		}
		if e.now || e.refused != "" && !now.Before(e.next) {
			e.now = false
			out = append(out, e)
		}
	}
	return out
}

// reread reads e's secret file, outside g.mu, and when it changed hands
// the new secret to e's client and wakes Run to probe it at once.
func (g *CredentialGate) reread(e *gated) {
	s, err := e.ReadSecret()
	g.mu.Lock()
	e.reading = false
	changed := false
	if sum := sha256.Sum256([]byte(s)); err == nil && sum != e.sum {
		e.sum = sum
		if ss, ok := e.Checker.(vendors.SecretSetter); ok {
			ss.SetSecret(s)
			g.o.Logger.Info("secret file changed; checking the credentials again", "vendor", e.Label)
			e.now, changed = true, true
		}
	}
	g.mu.Unlock()
	if changed {
		select {
		case g.wake <- struct{}{}:
		default:
		}
	}
}

// probe asks the vendor once and records the verdict.
func (g *CredentialGate) probe(ctx context.Context, e *gated, first bool) {
	pctx, cancel := context.WithTimeout(ctx, g.o.ProbeTimeout)
	err := e.Checker.CheckCredentials(pctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	log := g.o.Logger
	g.mu.Lock()
	defer g.mu.Unlock()
	was := e.refused
	switch kind := vendors.KindOf(err); {
	case err == nil:
		e.refused, e.wait = "", 0
		switch {
		case was != "":
			log.Info("vendor accepts the credentials now; the drops that waited go ahead", "vendor", e.Label)
		case first:
			log.Info("vendor accepts the credentials", "vendor", e.Label)
		}
	case kind == vendors.Auth:
		e.refused = err.Error()
		e.wait = min(max(e.wait*2, g.o.MinWait), g.o.MaxWait)
		e.next = g.o.Clock.Now().Add(e.wait)
		if was == "" {
			log.Error("vendor refuses the credentials; its drops wait in inbox/ until they are fixed",
				"vendor", e.Label, "fix", e.Keys, "error", err)
		} else {
			log.Debug("vendor still refuses the credentials", "vendor", e.Label, "next", e.wait.String(), "error", err)
		}
	case was != "":
		// Refused, and now unreachable: that says nothing new; ask again.
		e.wait = min(max(e.wait*2, g.o.MinWait), g.o.MaxWait)
		e.next = g.o.Clock.Now().Add(e.wait)
		log.Debug("could not check the refused credentials again", "vendor", e.Label, "error", err)
	case kind == vendors.Transient:
		log.Warn("could not check the credentials: vendor unreachable; drops go ahead and retry outages as usual",
			"vendor", e.Label, "error", err)
	default:
		log.Warn("could not check the credentials: unexpected answer; drops go ahead",
			"vendor", e.Label, "error", err)
	}
}

// shortDuration is d as people write it: "1m", not "1m0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Client is one vendor client of one account.
type Client struct {
	Account string // "" for the default account
	Vendor  vendors.Vendor
}

// Clients returns every configured vendor client, of the default account
// and of each named one, for the daemon to build its CredentialGate over.
func (p *Pipeline) Clients() []Client {
	var out []Client
	for _, v := range p.o.Vendors {
		out = append(out, Client{Vendor: v})
	}
	for _, name := range slices.Sorted(maps.Keys(p.o.Accounts)) {
		for _, v := range p.o.Accounts[name].Vendors {
			out = append(out, Client{Account: name, Vendor: v})
		}
	}
	return out
}

// AccountOf names the account of the watch whose inbox/ or processing/
// holds dir ("" for the default).
func (p *Pipeline) AccountOf(dir string) string {
	return p.watchAccount(dir)
}

// VendorOf names the vendor whose marker the drop folder dir has, or ""
// when it has none or several (the pipeline fails those).
func (p *Pipeline) VendorOf(dir string) string {
	name := ""
	for _, marker := range slices.Sorted(maps.Keys(p.o.Markers)) {
		if _, err := os.Lstat(filepath.Join(dir, marker)); err == nil {
			if name != "" {
				return ""
			}
			name = p.o.Markers[marker]
		}
	}
	return name
}
