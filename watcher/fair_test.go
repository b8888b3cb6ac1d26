package watcher

import (
	"testing"
	"time"
)

// TestFairSlotsTakeTurns: with one slot, a watch with many ready folders
// and one with a single folder take turns: the second is served as soon
// as the slot frees, not after the first watch's backlog.
func TestFairSlotsTakeTurns(t *testing.T) {
	now := time.Unix(0, 0)
	f := NewFairSlots(1)
	f.now = func() time.Time { return now }
	a, b := f.For(time.Second), f.For(time.Second)

	if !a.TryAcquire() {
		t.Fatal("a: the free slot was refused")
	}
	if b.TryAcquire() {
		t.Fatal("b: got a slot while the only one is taken")
	}
	now = now.Add(500 * time.Millisecond)
	a.Release()
	select {
	case <-b.(*turn).Free():
	default:
		t.Fatal("b, waiting, was not told that a slot freed")
	}
	// a asks first (it scans more often, or its job just ended), but b
	// has waited and a was served last: b's turn.
	if a.TryAcquire() {
		t.Fatal("a: took the freed slot although b was waiting its turn")
	}
	if !b.TryAcquire() {
		t.Fatal("b: refused the slot on its turn")
	}
	b.Release()
	// b wants no more; a, waiting, gets the slot, and again after.
	if !a.TryAcquire() {
		t.Fatal("a: refused the slot with nobody else waiting")
	}
	a.Release()
	if !a.TryAcquire() {
		t.Fatal("a: refused the slot again with nobody else waiting")
	}
	a.Release()
}

// TestFairSlotsWaitEnds: a watch that stopped asking (its folder went
// away) holds the others up only until its wait lapses.
func TestFairSlotsWaitEnds(t *testing.T) {
	now := time.Unix(0, 0)
	f := NewFairSlots(1)
	f.now = func() time.Time { return now }
	a, b := f.For(time.Second), f.For(time.Second)
	a.TryAcquire()
	b.TryAcquire() // waits
	a.Release()
	if a.TryAcquire() {
		t.Fatal("a: took b's turn")
	}
	now = now.Add(4 * time.Second) // b never came back
	if !a.TryAcquire() {
		t.Fatal("a: still refused after b stopped asking")
	}
	a.Release()
}

// TestFairSlotsBound: never more grants than slots, across watches.
func TestFairSlotsBound(t *testing.T) {
	f := NewFairSlots(2)
	a, b := f.For(time.Second), f.For(time.Second)
	got := 0
	for range 3 {
		for _, s := range []Slots{a, b} {
			if s.TryAcquire() {
				got++
			}
		}
	}
	if got != 2 {
		t.Fatalf("%d slots granted, want 2", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("a third Release did not panic")
		}
	}()
	a.Release()
	b.Release()
	a.Release()
}
