package aholo

import (
	"errors"
	"strconv"
	"time"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func fmtInt(n int) string { return strconv.Itoa(n) }

// fixedClock is a clock stopped at ms, whose waits end at once.
type fixedClock struct{ ms int64 }

func (c fixedClock) Now() time.Time { return time.UnixMilli(c.ms) }
func (c fixedClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

// fastClock is the real time, but waits end at once: tests need not wait
// the 200 ms between upload status polls.
type fastClock struct{}

func (fastClock) Now() time.Time { return time.Now() }
func (fastClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch
}
