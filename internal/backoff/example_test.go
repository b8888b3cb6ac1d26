package backoff_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scandrop/scandrop/internal/backoff"
	"github.com/scandrop/scandrop/internal/testkit/fakeclock"
)

// A retry loop: one attempt, then a wait under the pacer, until the call
// succeeds or the deadline passes. The server's Retry-After (the hint)
// stretches a wait; the deadline cuts the last one short.
func Example() {
	// A fake clock: each wait ends at once and moves it on, so a loop
	// that waits for half a minute runs in microseconds.
	clock := fakeclock.New(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
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
