// Package notify tells the outside world about finished jobs: a signed
// webhook POST of result.json (retried under a backoff.Pacer) and command
// hooks run with a clean environment. A Notifier is a pipeline.Observer.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scandrop/scandrop/internal/backoff"
	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/internal/textsafe"
	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors"
)

// Notification headers.
const (
	HeaderEvent     = "X-Scandrop-Event"     // done or failed
	HeaderDelivery  = "X-Scandrop-Delivery"  // one id per notification, the same on each retry
	HeaderSignature = "X-Scandrop-Signature" // sha256=<hex HMAC-SHA256 of the body>
)

// Sign returns the X-Scandrop-Signature value of body under secret. A
// receiver computes the same and compares with hmac.Equal.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Notifier is a pipeline.Observer that tells webhooks and commands about
// each job that landed in done/ or failed/. Every notification runs in its
// own goroutine: Finished returns at once, and a receiver that is down or
// slow never holds up a job. Call Close when stopping.
type Notifier struct {
	pipeline.NopObserver
	hooks []config.Webhook
	cmds  []config.Command
	o     NotifierOptions

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NotifierOptions are the Notifier's collaborators; all are optional.
type NotifierOptions struct {
	Client    *http.Client // default: one with no redirects followed
	Logger    *slog.Logger
	UserAgent string // default "scandrop"
	// Backoff paces the attempts of one delivery; the zero Policy means
	// backoff.WebhookPolicy (2s doubling to 5m, which also bounds a
	// receiver's Retry-After).
	Backoff backoff.Policy
	// Clock is the time source of the waits; default the system clock.
	Clock backoff.Clock
	// Count is told each outcome: channel "webhook" or "command", outcome
	// "delivered" or "failed" (Monitor.Notified).
	Count func(channel, outcome string)
	// Secrets are kept out of command hooks' environments
	// (config.Config.Secrets).
	Secrets []config.Secret
}

// NewNotifier returns a Notifier for the notify section of the config.
func NewNotifier(n config.Notify, o NotifierOptions) *Notifier {
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	// A signed POST is not replayed to wherever a redirect points, nor
	// turned into a GET: a redirect is an answer, and not a 2xx one.
	c := *o.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.Client = &c
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.UserAgent == "" {
		o.UserAgent = "scandrop"
	}
	if o.Backoff == (backoff.Policy{}) {
		o.Backoff = backoff.WebhookPolicy
	}
	if o.Clock == nil {
		o.Clock = backoff.SystemClock{}
	}
	if o.Count == nil {
		o.Count = func(string, string) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Notifier{hooks: n.Webhooks, cmds: n.Commands, o: o, ctx: ctx, cancel: cancel}
}

// Finished implements pipeline.Observer: it starts the notifications of the
// job, which landed at path, and returns.
func (n *Notifier) Finished(folder string, res *pipeline.Result, path string) {
	event := config.EventFailed
	if res.Success() {
		event = config.EventDone
	}
	resultPath := filepath.Join(path, pipeline.ResultFile)
	// The body is result.json, which scandrop writes bounded
	// (pipeline.MaxResultBytes); one larger is not ours and is not sent.
	body, err := pipeline.ReadResultFile(path)
	if err != nil { // the folder moved on already: send what we know
		body, _ = json.MarshalIndent(res, "", "  ")
		body = append(textsafe.RedactBytes(body), '\n')
	}
	for _, h := range n.hooks {
		if !slices.Contains(h.Events, event) {
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.deliver(h, folder, event, body)
		}()
	}
	for _, c := range n.cmds {
		if !slices.Contains(c.Events, event) {
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.run(c, folder, event, res.Status, res.Account, path, resultPath)
		}()
	}
}

// Close waits until the notifications under way are done or ctx ends; then
// it stops the rest, which are logged as not delivered.
func (n *Notifier) Close(ctx context.Context) {
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		n.cancel()
		<-done
	}
	n.cancel()
}

// deliver POSTs body to h until it is accepted, refused, or the attempts
// run out.
func (n *Notifier) deliver(h config.Webhook, folder, event string, body []byte) {
	rawURL := h.URL.Reveal()
	host := "webhook"
	if u, err := url.Parse(rawURL); err == nil {
		host = u.Host
	}
	log := n.o.Logger.With("folder", folder, "webhook", host, "event", event)
	var idb [12]byte
	rand.Read(idb[:])
	id := hex.EncodeToString(idb[:])
	pace := backoff.New(n.o.Backoff, n.o.Clock)
	var lastErr error
	for attempt := 1; attempt <= h.Attempts; attempt++ {
		retry, wait, err := n.post(h, rawURL, event, id, body)
		if err == nil {
			log.Info("webhook delivered", "attempt", attempt)
			n.o.Count("webhook", "delivered")
			return
		}
		lastErr = err
		if !retry || attempt == h.Attempts {
			break
		}
		log.Debug("webhook failed; retrying", "attempt", attempt, "error", err)
		if pace.Wait(n.ctx, wait) != nil {
			log.Warn("webhook not delivered: scandrop is stopping", "attempts", attempt, "error", err)
			n.o.Count("webhook", "failed")
			return
		}
	}
	log.Warn("webhook not delivered; giving up", "error", lastErr)
	n.o.Count("webhook", "failed")
}

// post makes one attempt. It reports whether a failure is worth another
// try, and how long the receiver asked to wait (Retry-After).
func (n *Notifier) post(h config.Webhook, rawURL, event, id string, body []byte) (retry bool, wait time.Duration, err error) {
	ctx, cancel := context.WithTimeout(n.ctx, time.Duration(h.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return false, 0, errors.New("bad URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", n.o.UserAgent)
	req.Header.Set(HeaderEvent, event)
	req.Header.Set(HeaderDelivery, id)
	if s := h.Secret.Reveal(); s != "" {
		req.Header.Set(HeaderSignature, Sign([]byte(s), body))
	}
	resp, err := n.o.Client.Do(req)
	if err != nil {
		// *url.Error repeats the URL, which may hold a token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return true, 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, 0, nil
	}
	err = fmt.Errorf("the receiver answered %s", resp.Status)
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooEarly,
		resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return true, vendors.RetryAfter(resp.Header, n.o.Clock.Now()), err
	}
	return false, 0, err
}

// run runs one command hook.
func (n *Notifier) run(c config.Command, folder, event, status, account, dir, resultPath string) {
	log := n.o.Logger.With("folder", folder, "command", filepath.Base(c.Run[0]), "event", event)
	ctx, cancel := context.WithTimeout(n.ctx, time.Duration(c.Timeout))
	defer cancel()
	args := append(slices.Clone(c.Run[1:]), resultPath)
	cmd := exec.CommandContext(ctx, c.Run[0], args...)
	cmd.Dir = dir
	env, dropped := hookEnv(os.Environ(), c, []string{
		"SCANDROP_RESULT=" + resultPath,
		"SCANDROP_STATUS=" + status,
		"SCANDROP_EVENT=" + event,
		"SCANDROP_FOLDER=" + folder,
		"SCANDROP_DIR=" + dir,
		"SCANDROP_ACCOUNT=" + account, // "" for the default account
	}, n.o.Secrets)
	for _, name := range dropped {
		log.Warn("command hook: variable left out: it holds one of scandrop's secrets", "variable", name)
	}
	cmd.Env = env
	var out tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	killGroup(cmd)
	// A grandchild that keeps the output open must not keep us waiting.
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start).Round(time.Millisecond).String()
	switch {
	case err == nil:
		log.Info("command hook ran", "took", took, "output", out.String())
		n.o.Count("command", "delivered")
	case ctx.Err() != nil && n.ctx.Err() == nil:
		log.Warn("command hook timed out and was killed", "timeout", c.Timeout.String(), "output", out.String())
		n.o.Count("command", "failed")
	default:
		log.Warn("command hook failed", "error", err, "took", took, "output", out.String())
		n.o.Count("command", "failed")
	}
}

// tailBuffer keeps the last 4 KiB written to it, for the log.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

const tailMax = 4 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		t.b = append(t.b[:0], t.b[len(t.b)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
