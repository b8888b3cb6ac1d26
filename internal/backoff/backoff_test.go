package backoff

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/fakeclock"
)

// stuckClock's waits never end.
type stuckClock struct{ now time.Time }

func (c *stuckClock) Now() time.Time                       { return c.now }
func (c *stuckClock) After(time.Duration) <-chan time.Time { return nil }

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func waitN(t *testing.T, p *Pacer, n int, hint time.Duration) {
	t.Helper()
	for range n {
		if err := p.Wait(context.Background(), hint); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGrowthAndCeiling: without jitter the waits double from First and stop
// at Ceiling; Reset starts over.
func TestGrowthAndCeiling(t *testing.T) {
	c := fakeclock.New(t0)
	p := New(Policy{First: time.Second, Ceiling: 10 * time.Second}, c)
	waitN(t, p, 6, 0)
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for i := range want {
		want[i] *= time.Second
	}
	if w := c.Waits(); !slices.Equal(w, want) {
		t.Errorf("waits %v, want %v", w, want)
	}
	if p.Waits() != 6 {
		t.Errorf("Waits() = %d, want 6", p.Waits())
	}
	p.Reset()
	c.Waits()
	waitN(t, p, 1, 0)
	if w := c.Waits(); !slices.Equal(w, []time.Duration{time.Second}) || p.Waits() != 1 {
		t.Errorf("after Reset: waits %v (%d), want [1s]", w, p.Waits())
	}
}

// TestJitterBand: each wait is drawn from [(1-Jitter)·d, d]; the draw comes
// from the injected source.
func TestJitterBand(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999} {
		c := fakeclock.New(t0)
		p := New(Policy{First: 4 * time.Second, Ceiling: time.Minute, Jitter: 0.5}, c).WithRand(func() float64 { return r })
		waitN(t, p, 3, 0)
		for i, d := range c.Waits() {
			step := 4 * time.Second << i
			want := step - time.Duration(0.5*r*float64(step))
			if d != want || d < step/2 || d > step {
				t.Errorf("rand %v: wait %d = %v, want %v within [%v, %v]", r, i, d, want, step/2, step)
			}
		}
	}
}

// TestRetryAfterHint: a hint longer than the backoff is the wait, bounded
// by MaxHint; a shorter one changes nothing.
func TestRetryAfterHint(t *testing.T) {
	c := fakeclock.New(t0)
	p := New(Policy{First: time.Second, Ceiling: time.Minute, MaxHint: 10 * time.Minute}, c)
	for _, h := range []time.Duration{30 * time.Second, 0, time.Millisecond, time.Hour} {
		if err := p.Wait(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Duration{30 * time.Second, 2 * time.Second, 4 * time.Second, 10 * time.Minute}
	if w := c.Waits(); !slices.Equal(w, want) {
		t.Errorf("waits %v, want %v", w, want)
	}
}

// TestDeadline: a wait that would end past the deadline is cut to end at
// it (one last attempt there); once it has passed, or when the hint alone
// reaches past it, Wait fails at once with ErrDeadline, not waiting.
func TestDeadline(t *testing.T) {
	c := fakeclock.New(t0)
	p := New(Policy{First: 4 * time.Second, Ceiling: time.Minute}, c).Until(t0.Add(10 * time.Second))
	waitN(t, p, 2, 0) // 4s, then 6s of the 8s: cut at the deadline
	if w, want := c.Waits(), []time.Duration{4 * time.Second, 6 * time.Second}; !slices.Equal(w, want) {
		t.Errorf("waits %v, want %v", w, want)
	}
	if err := p.Wait(context.Background(), 0); !errors.Is(err, ErrDeadline) {
		t.Errorf("at the deadline: %v, want ErrDeadline", err)
	}
	if err := p.Sleep(context.Background(), time.Second); !errors.Is(err, ErrDeadline) {
		t.Errorf("Sleep at the deadline: %v, want ErrDeadline", err)
	}

	c = fakeclock.New(t0)
	p = New(Policy{First: time.Second, Ceiling: time.Minute}, c).Until(t0.Add(10 * time.Second))
	if err, w := p.Wait(context.Background(), 11*time.Second), c.Waits(); !errors.Is(err, ErrDeadline) || len(w) != 0 {
		t.Errorf("hint past the deadline: %v after waits %v, want ErrDeadline at once", err, w)
	}
	if err, w := p.Wait(context.Background(), 9*time.Second), c.Waits(); err != nil || !slices.Equal(w, []time.Duration{9 * time.Second}) {
		t.Errorf("hint within the deadline: %v, waits %v, want one of 9s", err, w)
	}
}

// TestContext: a cancelled context ends a wait with its error; a context
// whose deadline comes before the wait would end fails at once, without
// waiting to fail.
func TestContext(t *testing.T) {
	p := New(Policy{First: time.Hour, Ceiling: time.Hour}, &stuckClock{now: t0})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Wait(ctx, 0) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
	if err := p.Wait(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("already cancelled: %v", err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Wait(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wait past ctx's deadline: %v, want context.DeadlineExceeded at once", err)
	}
}

// TestSleepKeepsGrowth: Sleep is a fixed pause and does not advance the
// backoff.
func TestSleepKeepsGrowth(t *testing.T) {
	c := fakeclock.New(t0)
	p := New(Policy{First: time.Second, Ceiling: time.Minute}, c)
	if err := p.Sleep(context.Background(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	waitN(t, p, 1, 0)
	if w, want := c.Waits(), []time.Duration{5 * time.Second, time.Second}; !slices.Equal(w, want) {
		t.Errorf("waits %v, want %v", w, want)
	}
}
