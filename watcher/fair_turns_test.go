package watcher

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Three watches share three slots and have four drops each. The first
// three claims are one per watch (the watch that scans first does not take
// every free slot), and as slots free one by one no watch gets its next
// slot while another with ready drops has had fewer: turns go round.
func TestFairSlotsRoundRobinAcrossWatches(t *testing.T) {
	const watches, drops = 3, 4
	fair := NewFairSlots(3)
	var mu sync.Mutex
	var order []int                    // the watch of each claim, in claim order
	var running []chan struct{}        // each running job's release, oldest first
	claimed := make(chan struct{}, 64) // one per claim
	for i := range watches {
		dir := t.TempDir()
		mkdirs(t, dir)
		for d := range drops {
			writeTree(t, filepath.Join(dir, InboxDir, fmt.Sprintf("w%d-d%d", i, d)), map[string]string{"manifest.json": "{}"})
		}
		h := newHarness(t, dir, nil)
		h.start(fair.For(testPoll), func(p string) {
			done := make(chan struct{})
			mu.Lock()
			order = append(order, i)
			running = append(running, done)
			mu.Unlock()
			if !strings.HasPrefix(filepath.Base(p), fmt.Sprintf("w%d-", i)) {
				t.Errorf("watch %d claimed %s", i, p)
			}
			claimed <- struct{}{}
			<-done
		})
	}
	wait := func(n int) {
		t.Helper()
		for range n {
			select {
			case <-claimed:
			case <-time.After(5 * time.Second):
				t.Fatalf("no claim within 5s; claims so far %v", order)
			}
		}
	}
	wait(3)
	time.Sleep(3 * testPoll) // a fourth claim would need a slot nobody freed
	mu.Lock()
	first := append([]int(nil), order...)
	mu.Unlock()
	if len(first) != 3 || first[0] == first[1] || first[1] == first[2] || first[0] == first[2] {
		t.Fatalf("first claims by watch %v, want one per watch", first)
	}
	for range watches*drops - 3 {
		mu.Lock()
		done := running[0]
		running = running[1:]
		mu.Unlock()
		close(done)
		wait(1)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, d := range running {
		close(d)
	}
	// Every prefix of the claims is round-robin: counts differ by at
	// most one while every watch has drops left.
	count := make([]int, watches)
	for n, w := range order {
		count[w]++
		lo, hi := count[0], count[0]
		for _, c := range count {
			lo, hi = min(lo, c), max(hi, c)
		}
		if hi-lo > 1 {
			t.Fatalf("after %d claims the watches have %v slots; claims by watch %v", n+1, count, order)
		}
	}
	t.Logf("claims by watch: %v", order)
}
