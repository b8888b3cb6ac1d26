//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

type pickupResult struct {
	Mode         string    `json:"mode"`
	SettleS      float64   `json:"settle_s"`
	PollInterval float64   `json:"poll_interval_s"`
	LatenciesS   []float64 `json:"latencies_s"` // last write → "claimed folder"
	MedianS      float64   `json:"median_s"`
	MaxS         float64   `json:"max_s"`
	TargetS      float64   `json:"target_s"`
}

// pickup writes small drops in place (marker first, as many copiers do)
// and times the last write to the daemon's "claimed folder".
func (b *bench) pickup(ctx context.Context, mode string) (pickupResult, error) {
	settle, poll := time.Second, 10*time.Second
	target := settle + time.Second
	if mode == "poll" {
		poll = 2 * time.Second
		target = settle + poll
	}
	r := pickupResult{Mode: mode, SettleS: settle.Seconds(), PollInterval: poll.Seconds(), TargetS: target.Seconds()}
	watch := filepath.Join(b.tmp, "watch-pickup-"+mode)
	defer os.RemoveAll(watch)
	d, err := b.daemonFor(watch, mode, poll, settle, "")
	if err != nil {
		return r, err
	}
	defer d.stop()
	pano := noiseJPEG(512, 256, 1, 80, 64)
	const trials = 5
	b.logf("pickup latency, %s mode (settle %s, poll_interval %s), %d drops", mode, settle, poll, trials)
	for i := range trials {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		// Land at a different phase of the rescan each time.
		time.Sleep(time.Duration(i) * poll / trials)
		name := fmt.Sprintf("pick-%s-%d", mode, i)
		dir := filepath.Join(watch, "inbox", name)
		mark := d.mark()
		os.MkdirAll(filepath.Join(dir, "images"), 0o755)
		os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"version":"1.0","floor_map":{"0":1},"scan_list":[{"id":"a","floor":0}]}`), 0o644)
		time.Sleep(200 * time.Millisecond)
		if err := os.WriteFile(filepath.Join(dir, "images", "a.jpg"), pano, 0o644); err != nil {
			return r, err
		}
		last := time.Now()
		ev, err := d.waitEvent(mark, 30*time.Second+poll, func(e logEvent) bool { return e.Folder == name && e.Msg == "claimed folder" })
		if err != nil {
			return r, err
		}
		r.LatenciesS = append(r.LatenciesS, ev.Time.Sub(last).Seconds())
		if _, err := d.waitEvent(mark, time.Minute, func(e logEvent) bool {
			return e.Folder == name && (e.Msg == "job succeeded" || e.Msg == "job failed")
		}); err != nil {
			return r, err
		}
	}
	s := slices.Clone(r.LatenciesS)
	slices.Sort(s)
	r.MedianS, r.MaxS = s[len(s)/2], s[len(s)-1]
	return r, nil
}

type rescanResult struct {
	Folders        int     `json:"folders"`
	PollInterval   float64 `json:"poll_interval_s"`
	WindowS        float64 `json:"window_s"`
	Rescans        int     `json:"rescans"`
	CPUPerRescanMS float64 `json:"cpu_per_rescan_ms"`      // daemon CPU over the window / rescans
	IdleCPUMS      float64 `json:"idle_cpu_per_period_ms"` // the same daemon with an empty inbox
	NetMS          float64 `json:"net_cpu_per_rescan_ms"`
	TargetMS       float64 `json:"target_ms"`
	PeakRSS        int64   `json:"peak_rss_bytes"`
}

// rescan measures the daemon's CPU per full rescan of an inbox of n
// folders that are not drops (yet): the steady state of a busy share.
func (b *bench) rescan(ctx context.Context, n int) (*rescanResult, error) {
	poll := time.Second
	window := 10 * time.Second
	r := &rescanResult{Folders: n, PollInterval: poll.Seconds(), WindowS: window.Seconds(), TargetMS: 100}
	measure := func(watch string) (time.Duration, int64, error) {
		d, err := b.daemonFor(watch, "poll", poll, time.Second, "")
		if err != nil {
			return 0, 0, err
		}
		defer d.stop()
		// Past the first scans and the "young folder" rechecks.
		select {
		case <-time.After(3 * poll):
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
		c0, _ := cpuTime(d.pid())
		time.Sleep(window)
		c1, _ := cpuTime(d.pid())
		return c1 - c0, d.peak(), nil
	}
	idle := filepath.Join(b.tmp, "watch-idle")
	defer os.RemoveAll(idle)
	b.logf("rescan: idle daemon")
	idleCPU, _, err := measure(idle)
	if err != nil {
		return nil, err
	}
	busy := filepath.Join(b.tmp, "watch-rescan")
	defer os.RemoveAll(busy)
	b.logf("rescan: writing %d folders", n)
	for i := range n {
		dir := filepath.Join(busy, "inbox", fmt.Sprintf("job-%05d", i))
		if err := os.MkdirAll(filepath.Join(dir, "raw"), 0o755); err != nil {
			return nil, err
		}
		os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("waiting for the scans\n"), 0o644)
	}
	b.logf("rescan: daemon over %d folders", n)
	busyCPU, peak, err := measure(busy)
	if err != nil {
		return nil, err
	}
	r.Rescans = int(window / poll)
	r.CPUPerRescanMS = float64(busyCPU.Microseconds()) / 1000 / float64(r.Rescans)
	r.IdleCPUMS = float64(idleCPU.Microseconds()) / 1000 / float64(r.Rescans)
	r.NetMS = r.CPUPerRescanMS - r.IdleCPUMS
	r.PeakRSS = peak
	return r, nil
}
