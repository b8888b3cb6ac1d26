package backoff_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scandrop/scandrop/internal/backoff"
)

// fakeClock's waits end at once and move its time on: a test of a loop
// that waits minutes runs in microseconds.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// A retry loop: one attempt, then a wait under the pacer, until the call
// succeeds or the deadline passes. The server's Retry-After (the hint)
// stretches a wait; the deadline cuts the last one short.
func Example() {
	clock := &fakeClock{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	start := clock.Now()
	pace := backoff.New(backoff.Policy{First: time.Second, Ceiling: 8 * time.Second}, clock).
		Until(start.Add(30 * time.Second))

	hints := []time.Duration{0, 0, 5 * time.Second, 0, 0, 0, 0}
	for attempt := 0; ; attempt++ {
		// ... the call, which failed, saying how long to stay away:
		hint := hints[attempt]
		if err := pace.Wait(context.Background(), hint); err != nil {
			fmt.Println("giving up:", errors.Is(err, backoff.ErrDeadline))
			break
		}
		fmt.Printf("attempt %d at +%s\n", attempt+2, clock.Now().Sub(start))
	}
	// Output:
	// attempt 2 at +1s
	// attempt 3 at +3s
	// attempt 4 at +8s
	// attempt 5 at +16s
	// attempt 6 at +24s
	// attempt 7 at +30s
	// giving up: true
}
