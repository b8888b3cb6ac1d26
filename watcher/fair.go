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
//
// Turns hold when several slots are free at once too: a watch that just
// got a slot is behind every other waiting watch, so the scan of one
// watch's inbox takes one slot, not all of them, while another waits. A
// watch counts as waiting from its start until its first scan says
// otherwise (Idle: its inbox is empty) or its wait lapses: at start, the watch that scans
// first does not take every slot before the others have looked.
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
	t.waitUntil = f.now().Add(t.wait())
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
		t.waitUntil = now.Add(t.wait())
		return false
	}
	f.free--
	f.served++
	t.last, t.waitUntil = f.served, time.Time{}
	if f.free > 0 {
		// Slots are left: the watches this one went ahead of take theirs.
		f.signal(now)
	}
	return true
}

// wait is how long a watch counts as waiting after it last asked.
func (t *turn) wait() time.Duration { return 2*t.retry + time.Second }

// Idle says the watch has no folder ready to claim: it waits no more, and
// holds nobody back.
func (t *turn) Idle() {
	f := t.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.waitUntil.IsZero() {
		return
	}
	t.waitUntil = time.Time{}
	if f.free > 0 {
		f.signal(f.now())
	}
}

// signal tells every waiting watch that a slot is free. f.mu is held.
func (f *FairSlots) signal(now time.Time) {
	for _, o := range f.watches {
		if now.Before(o.waitUntil) {
			select {
			case o.free <- struct{}{}:
			default: // told already
			}
		}
	}
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
	f.signal(f.now())
}
