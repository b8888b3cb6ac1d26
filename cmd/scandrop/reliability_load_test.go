//go:build linux

package main

// Load: many drops at once with max_jobs bounding the work, the daemon's
// memory and CPU; and what rescanning an inbox of ten thousand folders
// costs. These tests log numbers; they assert only bounds that do not
// depend on the machine's speed.

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

func TestReliabilityLoad(t *testing.T) {
	n := envInt("SCANDROP_RELIABILITY_LOAD_DROPS", 1000)
	const maxJobs = 8
	r := newRig(t, rigOptions{realsee: &realseetest.Options{ProcessingPolls: -1}, maxJobs: maxJobs, logLevel: "info",
		realseePoll: 50 * time.Millisecond, realseeTimeout: 30 * time.Minute})
	d := r.start()
	eventually(t, "the daemon to run", 15*time.Second, func() bool { return strings.Contains(d.log.String(), "scandrop running") })

	files := realseeFiles(t, 2, 0)
	staging := filepath.Join(r.watchDir, ".staging-load")
	for i := 0; i < n; i++ {
		writeTree(t, filepath.Join(staging, fmt.Sprintf("load-%04d", i)), files)
	}
	os.MkdirAll(r.path("inbox"), 0o755)

	// Sample processing/ while the drops go through.
	var (
		mu      sync.Mutex
		peak    int
		samples int
	)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			k := len(r.entries("processing"))
			mu.Lock()
			peak = max(peak, k)
			samples++
			mu.Unlock()
		}
	}()
	cpu0 := procCPU(d.cmd.Process.Pid)
	start := time.Now()
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("load-%04d", i)
		if err := os.Rename(filepath.Join(staging, name), r.path("inbox", name)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every drop to land", time.Duration(n)*200*time.Millisecond+time.Minute, func() bool {
		return len(r.entries("done"))+len(r.entries("failed")) >= n
	})
	took := time.Since(start)
	close(stop)
	<-sampled
	hwm := procStatus(d.cmd.Process.Pid, "VmHWM")
	cpu := procCPU(d.cmd.Process.Pid) - cpu0

	if got := len(r.entries("done")); got != n {
		t.Errorf("%d in done/, want %d (failed/: %d)", got, n, len(r.entries("failed")))
	}
	if subs := len(r.gw.Submits()); subs != n {
		t.Errorf("%d submits for %d drops", subs, n)
	}
	if peak > maxJobs {
		t.Errorf("%d jobs in processing/ at once, max_jobs is %d", peak, maxJobs)
	}
	if !d.alive() {
		t.Error("the daemon died")
	}
	report(t, "load: %d drops at once, max_jobs %d: %d/%d done, %d submits, at most %d in processing/ (%d samples), %.1f jobs/s (%s), daemon peak RSS %.1f MiB, CPU %.1f s",
		n, maxJobs, len(r.entries("done")), n, len(r.gw.Submits()), peak, samples, float64(n)/took.Seconds(), took.Round(100*time.Millisecond),
		float64(hwm)/1024, cpu.Seconds())
}

// scanMetrics reads the full-rescan histogram of the daemon's /metrics.
func scanMetrics(t *testing.T, addr string) (count int64, sum float64) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `kind="full"`) {
			continue
		}
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "scandrop_scan_duration_seconds_count"):
			count, _ = strconv.ParseInt(f[len(f)-1], 10, 64)
		case strings.HasPrefix(line, "scandrop_scan_duration_seconds_sum"):
			sum, _ = strconv.ParseFloat(f[len(f)-1], 64)
		}
	}
	return count, sum
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestReliabilityRescanCost(t *testing.T) {
	n := envInt("SCANDROP_RELIABILITY_RESCAN_DIRS", 10000)
	const poll = time.Second
	for _, withMarker := range []bool{false, true} {
		label := "no marker"
		if withMarker {
			label = "with marker, waiting for a job slot"
		}
		t.Run(strings.ReplaceAll(label, " ", "-"), func(t *testing.T) {
			addr := freeAddr(t)
			r := newRig(t, rigOptions{realsee: &realseetest.Options{}, maxJobs: 1, logLevel: "info", mode: "poll",
				pollInterval: poll, settle: 500 * time.Millisecond, realseeTimeout: time.Hour,
				extraConfig: "http:\n  listen: " + addr + "\n"})
			// One job holds the only slot for the whole test, so that folders
			// with a marker stay in inbox/, ready, and are looked at on every
			// rescan.
			r.gw.HoldTasks(true)
			d := r.start()
			r.drop("blocker", realseeFiles(t, 1, 0))
			waitTask(t, r, "blocker")

			inbox := r.path("inbox")
			marker := realseeFiles(t, 1, 0)
			made := time.Now()
			for i := 0; i < n; i++ {
				dir := filepath.Join(inbox, fmt.Sprintf("f%05d", i))
				if withMarker {
					writeTree(t, dir, marker)
				} else {
					writeTree(t, dir, map[string][]byte{"readme.txt": []byte("copying, no marker yet")})
				}
			}
			t.Logf("%d folders made in %s", n, time.Since(made).Round(time.Millisecond))
			// Let every folder be seen (and settle), then measure a window.
			time.Sleep(2 * poll)
			// Measure over at least four full rescans, however long they take.
			c0, s0 := scanMetrics(t, addr)
			cpu0, t0 := procCPU(d.cmd.Process.Pid), time.Now()
			c1, s1 := c0, s0
			for c1-c0 < 4 && time.Since(t0) < 45*time.Second {
				time.Sleep(250 * time.Millisecond)
				c1, s1 = scanMetrics(t, addr)
			}
			cpu, window := procCPU(d.cmd.Process.Pid)-cpu0, time.Since(t0)
			scans := c1 - c0
			if scans < 1 {
				t.Fatalf("no full rescan in %s with poll_interval %s", window, poll)
			}
			if got := len(r.entries("inbox")); got != n {
				t.Errorf("inbox/ holds %d folders, want %d", got, n)
			}
			report(t, "rescan of an inbox of %d folders (%s): %.1f ms per full rescan (%d rescans), daemon CPU %.0f ms/s (%.1f%% of a core) at poll_interval %s, RSS %.1f MiB",
				n, label, 1000*(s1-s0)/float64(scans), scans, float64(cpu.Milliseconds())/window.Seconds(),
				100*cpu.Seconds()/window.Seconds(), poll, float64(procStatus(d.cmd.Process.Pid, "VmRSS"))/1024)
		})
	}
}
