package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/backoff"
	"github.com/scandrop/scandrop/vendors"
)

// TestRetryWait: the pipeline's pacer waits the backoff, or the vendor's
// Retry-After when longer, never beyond vendors.MaxRetryAfter.
func TestRetryWait(t *testing.T) {
	after := func(d time.Duration) error {
		return fmt.Errorf("wrapped: %w", &vendors.Error{Kind: vendors.Transient, RetryAfter: d})
	}
	for _, tt := range []struct {
		err  error
		want time.Duration
	}{
		{vendors.E(vendors.Transient, "op", "plain"), 2 * time.Second},
		{after(30 * time.Second), 30 * time.Second},
		{after(time.Second), 2 * time.Second},
		{after(time.Hour), vendors.MaxRetryAfter},
	} {
		clock := &jumpClock{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
		p := New(Options{Clock: clock, Backoff: backoff.Policy{First: 2 * time.Second, Ceiling: time.Minute, Jitter: 0.5}})
		pace := p.pacer().WithRand(func() float64 { return 0 })
		start := clock.Now()
		if err := pace.Wait(context.Background(), vendors.RetryAfterOf(tt.err)); err != nil {
			t.Fatal(err)
		}
		if got := clock.Now().Sub(start); got != tt.want {
			t.Errorf("wait after %v = %v, want %v", tt.err, got, tt.want)
		}
	}
}
