//go:build linux

package main

// Two daemons on one watch folder (two processes, one config), as two
// hosts on one share would be: every drop is processed exactly once.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

func TestReliabilityTwoDaemons(t *testing.T) {
	const n = 200
	r := newRig(t, rigOptions{realsee: &realseetest.Options{ProcessingPolls: -1}, maxJobs: 4, logLevel: "info",
		realseePoll: 50 * time.Millisecond})
	a, b := r.start(), r.start()
	eventually(t, "both daemons to run", 15*time.Second, func() bool {
		return strings.Contains(a.log.String(), "scandrop running") && strings.Contains(b.log.String(), "scandrop running")
	})

	// Build every drop beside inbox/, then rename them all in at once.
	files := realseeFiles(t, 1, 0)
	staging := filepath.Join(r.watchDir, ".staging-many")
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("job-%03d", i)
		writeTree(t, filepath.Join(staging, names[i]), files)
	}
	os.MkdirAll(r.path("inbox"), 0o755)
	start := time.Now()
	for _, name := range names {
		if err := os.Rename(filepath.Join(staging, name), r.path("inbox", name)); err != nil {
			t.Fatal(err)
		}
	}
	maxProcessing := 0
	eventually(t, "every drop to land", 3*time.Minute, func() bool {
		maxProcessing = max(maxProcessing, len(r.entries("processing")))
		return len(r.entries("done"))+len(r.entries("failed")) >= n && len(r.entries("processing")) == 0
	})
	took := time.Since(start)

	done := r.entries("done")
	if len(done) != n || len(r.entries("failed")) != 0 {
		t.Fatalf("done/ holds %d, failed/ %v; want all %d in done/", len(done), r.entries("failed"), n)
	}
	for i, name := range done {
		if name != names[i] { // ReadDir sorts; a suffix (job-007-2) would show here
			t.Fatalf("done/ holds %q where %q was expected: a job ran twice or was renamed", name, names[i])
		}
	}
	subs := r.gw.Submits()
	if len(subs) != n {
		t.Errorf("%d submits for %d drops", len(subs), n)
	}
	keys := map[string]int{}
	for _, s := range subs {
		keys[s.PrivateCosKey]++
	}
	for k, c := range keys {
		if c > 1 {
			t.Errorf("%s submitted %d times", k, c)
		}
	}
	// Who did what: both must have taken part, and every claim is logged
	// by exactly one of them.
	claims := map[string]int{}
	per := []int{0, 0}
	for i, d := range []*daemonProc{a, b} {
		for _, l := range parseLog(d.log.String()) {
			switch {
			case l.Msg == "claimed folder":
				claims[l.Folder]++
				per[i]++
			case l.Level == "ERROR":
				t.Errorf("daemon %d: %s", i, l.Raw)
			}
		}
	}
	for _, name := range names {
		if claims[name] != 1 {
			t.Errorf("%s claimed %d times", name, claims[name])
		}
	}
	if !a.alive() || !b.alive() {
		t.Error("a daemon died")
	}
	if per[0] == 0 || per[1] == 0 {
		t.Logf("one daemon took every job (%d/%d): the race was not exercised", per[0], per[1])
	}
	report(t, "two daemons, one watch folder: %d drops → %d submits, %d in done/ (names unique, no suffix), 0 in failed/; claims %d + %d; at most %d in processing/ (max_jobs 4 each); in %s",
		n, len(subs), len(done), per[0], per[1], maxProcessing, took.Round(100*time.Millisecond))
}

// A power cut between a claim and the job's first journal write leaves
// folders in processing/ with no owner; two daemons starting at once must
// still run each of them once.
func TestReliabilityTwoDaemonsResumeOrphans(t *testing.T) {
	const n = 40
	r := newRig(t, rigOptions{realsee: &realseetest.Options{ProcessingPolls: -1}, maxJobs: n, logLevel: "info",
		realseePoll: 50 * time.Millisecond})
	files := realseeFiles(t, 1, 0)
	for i := 0; i < n; i++ {
		writeTree(t, r.path("processing", fmt.Sprintf("orphan-%02d", i)), files)
	}
	for _, sub := range []string{"inbox", "done", "failed"} {
		os.MkdirAll(r.path(sub), 0o755)
	}
	a, b := r.start(), r.start()
	eventually(t, "every orphan to land", 2*time.Minute, func() bool {
		return len(r.entries("done"))+len(r.entries("failed")) >= n && len(r.entries("processing")) == 0
	})
	time.Sleep(500 * time.Millisecond) // a second run of a job would show by now
	subs := r.gw.Submits()
	done, failed := r.entries("done"), r.entries("failed")
	resumed := map[string]int{}
	for _, d := range []*daemonProc{a, b} {
		for _, l := range parseLog(d.log.String()) {
			if l.Msg == "resuming job" || (l.Msg == "stage" && l.Stage == "validate") {
				resumed[l.Folder]++
			}
		}
	}
	twice := 0
	for _, c := range resumed {
		if c > 1 {
			twice++
		}
	}
	report(t, "two daemons starting at once over %d ownerless jobs in processing/: %d submits, %d in done/, %d in failed/, %d jobs run by both",
		n, len(subs), len(done), len(failed), twice)
	if len(subs) != n || len(done) != n || len(failed) != 0 || twice != 0 {
		t.Errorf("want %d submits, %d in done/, none failed, none run twice; failed/: %v", n, n, failed)
	}
}
