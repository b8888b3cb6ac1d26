package watcher

import (
	"sync"
	"time"
)

// FairSlots shares a daemon's job slots among its watches in turns. When
// more drops are ready than slots are free, a freed slot goes to the watch
// that has waited for one and was served least recently: one busy watch
// (a customer dropping a hundred folders) cannot starve another, which
// gets the next turn however many folders the first has ready.
//
// A watch counts as waiting from a TryAcquire that found no slot (or found
// it was another's turn) until it gets one, or until it stops asking: a
// watch asks again at every scan while a folder is ready, so a wait not
// renewed within twice its retry period (its poll interval) has ended.
// When a slot frees, every waiting watch is told on its Free channel, so
// that the one whose turn it is takes the slot at once rather than at its
// next scan.
type FairSlots struct {
	mu      sync.Mutex
	free    int
	n       int
	served  uint64 // counts grants, to order the watches' last turns
	now     func() time.Time
	watches []*turn
}

// NewFairSlots returns FairSlots with n slots; n < 1 is treated as 1.
func NewFairSlots(n int) *FairSlots {
	n = max(n, 1)
	return &FairSlots{free: n, n: n, now: time.Now}
}

// For returns the Slots of one watch, which asks again for a slot at least
// every retry while it has a folder ready.
func (f *FairSlots) For(retry time.Duration) Slots {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &turn{f: f, retry: retry, free: make(chan struct{}, 1)}
	f.watches = append(f.watches, t)
	return t
}

// turn is one watch's share of FairSlots.
type turn struct {
	f     *FairSlots
	retry time.Duration
	// last is the FairSlots.served count at this watch's last grant; 0
	// if it never had one.
	last uint64
	// waitUntil: the watch wants a slot until then.
	waitUntil time.Time
	// free is signalled when a slot frees while the watch waits.
	free chan struct{}
}

// Free is signalled when a slot frees while this watch waits for one; the
// watcher then tries its ready folders again.
func (t *turn) Free() <-chan struct{} { return t.free }

func (t *turn) TryAcquire() bool {
	f := t.f
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if f.free == 0 || t.behind(now) {
		t.waitUntil = now.Add(2*t.retry + time.Second)
		return false
	}
	f.free--
	f.served++
	t.last, t.waitUntil = f.served, time.Time{}
	return true
}

// behind reports whether another watch waits whose turn comes first: it
// was served less recently.
func (t *turn) behind(now time.Time) bool {
	for _, o := range t.f.watches {
		if o != t && now.Before(o.waitUntil) && o.last < t.last {
			return true
		}
	}
	return false
}

func (t *turn) Release() {
	f := t.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.free >= f.n {
		panic("watcher: Slots.Release without a matching TryAcquire")
	}
	f.free++
	now := f.now()
	for _, o := range f.watches {
		if now.Before(o.waitUntil) {
			select {
			case o.free <- struct{}{}:
			default: // told already
			}
		}
	}
}
