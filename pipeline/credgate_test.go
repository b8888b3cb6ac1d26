package pipeline

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors"
)

// manualClock moves only when told.
type manualClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

// waiting reports whether anyone waits on the clock.
func (c *manualClock) waiting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters) > 0
}

// advance moves the clock by d and fires the waits that are due.
func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			keep = append(keep, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = keep
}

// checker answers with err, counting calls and taking a new secret.
type checker struct {
	mu     sync.Mutex
	err    error
	calls  int
	secret string
	accept string // the secret SetSecret makes good
	probed chan struct{}
}

func (c *checker) CheckCredentials(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	select {
	case c.probed <- struct{}{}:
	default:
	}
	return c.err
}

func (c *checker) SetSecret(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.secret = s
	if s == c.accept {
		c.err = nil
	}
}

func (c *checker) set(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

func (c *checker) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var errRefused = vendors.E(vendors.Auth, "realsee: access_token", "code -1: illegal app")

// Refused credentials hold their drops with a reason naming the label and
// the keys, logged once as an ERROR; an outage or an accepted probe holds
// nothing; Run asks again on a backoff capped at MaxWait, at once when the
// secret file changes or a job failed with kind auth, and releases the
// drops when the vendor accepts.
func TestCredentialGate(t *testing.T) {
	clock := &manualClock{now: time.Unix(1_800_000_000, 0)}
	logs := &syncBuf{}
	rs := &checker{err: errRefused, accept: "good", probed: make(chan struct{}, 100)}
	ah := &checker{err: vendors.E(vendors.Transient, "aholo", "connection refused"), probed: make(chan struct{}, 100)}
	ok := &checker{probed: make(chan struct{}, 100)}
	var secretMu sync.Mutex
	secret := "wrong"
	readSecret := func() (string, error) {
		secretMu.Lock()
		defer secretMu.Unlock()
		return secret, nil
	}
	g := NewCredentialGate(GateOptions{Clock: clock, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))},
		Credentials{Label: "realsee", Checker: rs, Keys: "realsee.app_key, realsee.app_secret_file (/x/realsee.secret)", ReadSecret: readSecret},
		Credentials{Label: "aholo", Checker: ah, Keys: "aholo.app_key"},
		Credentials{Label: "other", Checker: ok, Keys: "other.app_key"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g.Start(ctx)

	why := g.Held("realsee")
	for _, want := range []string{"realsee refuses the credentials", "realsee.app_secret_file (/x/realsee.secret)", "asks again every 1m and at once when the secret file changes"} {
		if !strings.Contains(why, want) {
			t.Errorf("Held(realsee) = %q, want it to contain %q", why, want)
		}
	}
	if h := g.Held("aholo"); h != "" {
		t.Errorf("an outage at start holds aholo: %q", h)
	}
	if h := g.Held("other") + g.Held("unknown"); h != "" {
		t.Errorf("accepted or unknown credentials hold drops: %q", h)
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 || !strings.Contains(logs.String(), `fix="realsee.app_key, realsee.app_secret_file`) {
		t.Errorf("want one ERROR line naming the keys; log:\n%s", logs)
	}
	if strings.Contains(logs.String(), "wrong") {
		t.Errorf("the log shows the secret:\n%s", logs)
	}

	done := make(chan struct{})
	go func() { g.Run(ctx); close(done) }()
	// step moves the clock in FileCheck steps for d and reports the
	// probes of rs meanwhile.
	step := func(d time.Duration) int {
		before := rs.count()
		for moved := time.Duration(0); moved < d; moved += 2 * time.Second {
			waitUntil(t, clock.waiting) // Run waits on the clock again
			clock.advance(2 * time.Second)
		}
		waitUntil(t, clock.waiting)
		return rs.count() - before
	}
	// Backoff: 15s, 30s, then every minute.
	if n := step(14 * time.Second); n != 0 {
		t.Errorf("%d probes within 14s of a refusal, want 0", n)
	}
	if n := step(4 * time.Second); n != 1 {
		t.Errorf("%d probes at 15s, want 1", n)
	}
	if n := step(4 * time.Minute); n != 4 {
		t.Errorf("%d probes in 4 minutes, want 4 (30s, then once a minute)", n)
	}
	if g.Held("realsee") == "" || strings.Count(logs.String(), "level=ERROR") != 1 {
		t.Error("still refused: held, and no second ERROR line")
	}
	if ah.count() != 1 || ok.count() != 1 {
		t.Errorf("aholo probed %d times, other %d: only refused credentials are probed again", ah.count(), ok.count())
	}

	// A fixed secret file is tried at the next file check.
	secretMu.Lock()
	secret = "good"
	secretMu.Unlock()
	if n := step(2 * time.Second); n != 1 {
		t.Errorf("%d probes after the secret file changed, want 1", n)
	}
	if h := g.Held("realsee"); h != "" {
		t.Errorf("accepted again but still held: %q", h)
	}
	if !strings.Contains(logs.String(), "vendor accepts the credentials now") {
		t.Errorf("no line saying the drops go ahead; log:\n%s", logs)
	}

	// A job failing with kind auth makes Run ask at once: revoked, held
	// again, with a new ERROR line.
	rs.set(errRefused)
	g.Suspect("realsee")
	waitUntil(t, func() bool { return g.Held("realsee") != "" })
	cancel()
	<-done
	if strings.Count(logs.String(), "level=ERROR") != 2 {
		t.Errorf("a new refusal after acceptance is a new ERROR line; log:\n%s", logs)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 5s")
}
