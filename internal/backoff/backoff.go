// Package backoff is scandrop's one pacer: every wait before repeating a
// call — a pipeline stage after an outage, a status poll, a webhook
// delivery — is a Pacer's. It grows each wait from a first one to a
// ceiling, draws it at random within a band (jitter, so that jobs failed
// by one outage do not come back in step), honours a server's Retry-After
// hint, never waits past a deadline, and ends a wait when the caller's
// context does.
//
// # Layering: who waits
//
// Waiting happens at one level only, so that retries never multiply:
//
//   - A vendor client (vendors/realsee, vendors/aholo) makes ONE attempt per
//     call and classifies what came of it (vendors.HTTPOutcome: Transient,
//     Unknown, Rejected ..., with the server's Retry-After). It never
//     sleeps and retries a failed call. Repeating a call at once with a
//     fresh access token after an "expired" answer is a protocol step, not
//     a retry, and stays in the client; so does the object store client,
//     which is built with no retryer of its own.
//   - The pipeline retries a stage under one Pacer per stage run (first
//     wait PipelinePolicy.First, growing to its Ceiling, bounded by the
//     vendor's timeout). A stage resumes from the job's journal, so a blip
//     on part 700 of an upload costs part 700, not the upload.
//   - Loops that wait for something to finish rather than retry a failure
//     (the pipeline's task polls, Aholo's upload-status polls) take their
//     schedule from a Pacer too; a failed call inside them goes back to
//     the pipeline like any other.
//   - Notifications (internal/notify) are not vendor calls: each webhook
//     delivery has its own Pacer, bounded by its attempts and by shutdown.
//
// A short blip therefore costs one pipeline wait (about half a second), and
// an outage of an hour about one request a minute per job, whichever call
// met it.
package backoff

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Clock is the time source, injectable so that tests need not sleep.
// vendors.Clock is the same interface.
type Clock interface {
	Now() time.Time
	// After is time.After.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time                         { return time.Now() }
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Policy is how a Pacer's waits grow.
type Policy struct {
	// First is the first wait; each later one doubles, up to Ceiling.
	First time.Duration
	// Ceiling bounds the waits the Pacer grows to itself (not a server's
	// Retry-After, which MaxHint bounds).
	Ceiling time.Duration
	// Jitter, in [0, 1], is the part of each wait drawn at random: a wait
	// of d is drawn from [(1-Jitter)·d, d]. 0: every wait is exactly d.
	Jitter float64
	// MaxHint bounds the hint (a server's Retry-After) a wait honours; 0:
	// no bound but the deadline.
	MaxHint time.Duration
}

// PipelinePolicy is the pipeline's: half a second after a first failure,
// then doubling to one minute, drawn from the upper half of each step; a
// Retry-After up to ten minutes is honoured (vendors.MaxRetryAfter).
var PipelinePolicy = Policy{First: 500 * time.Millisecond, Ceiling: time.Minute, Jitter: 0.5, MaxHint: 10 * time.Minute}

// WebhookPolicy is a webhook delivery's: 2s, doubling to 5 minutes, which
// also bounds a receiver's Retry-After.
var WebhookPolicy = Policy{First: 2 * time.Second, Ceiling: 5 * time.Minute, Jitter: 0.5, MaxHint: 5 * time.Minute}

// ErrDeadline is returned by Wait and Sleep, at once and without waiting,
// when the Pacer's deadline has passed, or when the hint asks for a wait
// that would end after it: sitting out a wait only to give up at its end
// helps nobody.
var ErrDeadline = errors.New("backoff: the wait would end past the deadline")

// Pacer paces one run of attempts. It is not safe for concurrent use:
// each loop has its own.
type Pacer struct {
	policy   Policy
	clock    Clock
	deadline time.Time
	step     time.Duration
	waits    int
	rand     func() float64
}

// New returns a Pacer with policy p on clock c (nil: the system clock).
// A First of 0 or less is taken as 1ms and a Ceiling below First as First.
func New(p Policy, c Clock) *Pacer {
	if c == nil {
		c = SystemClock{}
	}
	p.First = max(p.First, time.Millisecond)
	p.Ceiling = max(p.Ceiling, p.First)
	p.Jitter = min(max(p.Jitter, 0), 1)
	return &Pacer{policy: p, clock: c, step: p.First, rand: rand.Float64}
}

// Until sets the deadline, on the Pacer's clock, past which it never
// waits; the zero time means none. It returns p.
func (p *Pacer) Until(deadline time.Time) *Pacer {
	p.deadline = deadline
	return p
}

// WithRand replaces the source of jitter (uniform in [0, 1)), for tests.
// It returns p.
func (p *Pacer) WithRand(f func() float64) *Pacer {
	p.rand = f
	return p
}

// Reset starts the growth over, after a success.
func (p *Pacer) Reset() { p.step, p.waits = p.policy.First, 0 }

// Waits is how many backoff waits Wait has started since New or Reset.
func (p *Pacer) Waits() int { return p.waits }

// Next returns the next backoff wait and advances the growth, without
// waiting: the current step, jittered, or the hint (bounded by MaxHint)
// when that is longer.
func (p *Pacer) Next(hint time.Duration) time.Duration {
	d := p.step
	if j := p.policy.Jitter; j > 0 {
		d -= time.Duration(j * p.rand() * float64(d))
	}
	p.step = min(p.step*2, p.policy.Ceiling)
	p.waits++
	return max(d, p.hint(hint))
}

func (p *Pacer) hint(h time.Duration) time.Duration {
	if p.policy.MaxHint > 0 {
		h = min(h, p.policy.MaxHint)
	}
	return max(h, 0)
}

// Wait waits out the next backoff (see Next) after a failed attempt, hint
// being how long the server asked to be left alone (0: it did not say).
// A wait that would end past the deadline is cut short to end at it, so
// that one last attempt is made there; but when the deadline has passed,
// or the hint alone reaches past it, Wait returns ErrDeadline at once. It
// returns ctx's error when ctx ends first, and at once when ctx's own
// deadline comes before the wait would end.
func (p *Pacer) Wait(ctx context.Context, hint time.Duration) error {
	d, err := p.Plan(ctx, hint)
	if err != nil {
		return err
	}
	return p.sleep(ctx, d)
}

// Plan is the first half of Wait, for a caller that records when its
// next attempt is due before it waits: it returns the wait Wait would make
// (advancing the growth, cut short to end at the deadline), or Wait's
// error at once. The caller then waits with Sleep(ctx, d).
func (p *Pacer) Plan(ctx context.Context, hint time.Duration) (time.Duration, error) {
	if err := p.check(ctx, hint); err != nil {
		return 0, err
	}
	d := p.Next(hint)
	if !p.deadline.IsZero() {
		d = min(d, p.deadline.Sub(p.clock.Now()))
	}
	return d, nil
}

// Sleep waits d — a polling interval, not a backoff: the growth is not
// advanced — with the same bounds as Wait.
func (p *Pacer) Sleep(ctx context.Context, d time.Duration) error {
	if err := p.check(ctx, 0); err != nil {
		return err
	}
	return p.sleep(ctx, d)
}

func (p *Pacer) check(ctx context.Context, hint time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !p.deadline.IsZero() {
		left := p.deadline.Sub(p.clock.Now())
		if left <= 0 || p.hint(hint) > left {
			return ErrDeadline
		}
	}
	return nil
}

func (p *Pacer) sleep(ctx context.Context, d time.Duration) error {
	if !p.deadline.IsZero() {
		d = min(d, p.deadline.Sub(p.clock.Now()))
	}
	// A context's deadline is on the real clock.
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.DeadlineExceeded
	}
	if d <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.clock.After(d):
		return nil
	}
}
