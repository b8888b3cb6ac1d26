//go:build linux

package main

// Crash at every step: the daemon SIGKILLs itself (SCANDROP_TEST_CRASH) at
// each point of a job's life, is started again without the variable, and
// the job must finish exactly once.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// crashOutcome is what one crash-and-restart run left behind.
type crashOutcome struct {
	finished  bool
	submits   int
	resent    int64 // bytes the store received beyond one copy of the data
	archive   int64 // bytes of one copy
	crashedAt string
	took      time.Duration
}

// crashTally sums the runs of one point.
type crashTally struct {
	runs, finished, dupSubmits, lost int
	resent, archive                  int64
}

func TestReliabilityCrashMatrixRealsee(t *testing.T) {
	t.Parallel() // with the other long tests, after the timing-sensitive ones
	runs := envInt("SCANDROP_RELIABILITY_CRASH_RUNS", 3)
	// Six panoramas of 4 MiB: a ~24 MiB archive, five 5 MiB parts.
	files := realseeFiles(t, 6, 4<<20)
	points := []string{
		"claimed",
		"packaged",
		"journal:realsee.upload:1", // the multipart upload is created, no part yet
		"journal:realsee.upload:2", // mid-upload: the first part is journaled, others in flight
		"submitted",
		"polled",
		"result",
	}
	tallies := map[string]*crashTally{}
	start := time.Now()
	for run := 1; run <= runs; run++ {
		for _, point := range points {
			name := fmt.Sprintf("crash-%s-%d", strings.NewReplacer(":", "_", ".", "_").Replace(point), run)
			t.Run(name, func(t *testing.T) {
				o := crashRealseeOnce(t, point, name, files)
				tl := tallies[point]
				if tl == nil {
					tl = &crashTally{}
					tallies[point] = tl
				}
				tl.runs++
				if o.finished {
					tl.finished++
				} else {
					tl.lost++
				}
				if o.submits > 1 {
					tl.dupSubmits += o.submits - 1
				}
				tl.resent += o.resent
				tl.archive += o.archive
				t.Logf("%s: finished=%v submits=%d resent=%d of %d bytes, in %s", point, o.finished, o.submits, o.resent, o.archive, o.took.Round(time.Millisecond))
			})
		}
	}
	reportCrashTallies(t, "realsee", points, tallies, runs, time.Since(start))
}

func crashRealseeOnce(t *testing.T, point, name string, files map[string][]byte) crashOutcome {
	began := time.Now()
	r := newRig(t, rigOptions{realsee: &realseetest.Options{MinPartSize: 1 << 20}, partSize: "5MiB", uploadConc: 3})
	d := r.start("SCANDROP_TEST_CRASH=" + point)
	r.drop(name, files)
	d.waitExit(t, 60*time.Second)

	// The job must be where the crash left it: in processing/, not lost.
	if got := r.entries("processing"); !slices.Equal(got, []string{name}) {
		t.Fatalf("after the crash at %s, processing/ holds %v; inbox/ %v, done/ %v, failed/ %v",
			point, got, r.entries("inbox"), r.entries("done"), r.entries("failed"))
	}
	receivedAtCrash := r.gw.Storage().Stats().BytesReceived

	d2 := r.start()
	res, where := r.waitResult(name, 90*time.Second)
	o := crashOutcome{crashedAt: point, submits: len(r.gw.Submits())}
	if where != "done" || !res.Success() {
		t.Fatalf("landed in %s: %+v", where, res.Error)
	}
	o.finished = true
	if o.submits != 1 {
		t.Errorf("%d submits, want exactly 1", o.submits)
	}
	sub := r.gw.Submits()[0]
	if res.VendorIDs["task_code"] != sub.TaskCode {
		t.Errorf("result names task %q, the gateway created %q", res.VendorIDs["task_code"], sub.TaskCode)
	}
	for _, dir := range []string{"inbox", "processing", "failed"} {
		if e := r.entries(dir); len(e) != 0 {
			t.Errorf("%s/ holds %v", dir, e)
		}
	}
	if e := r.entries("done"); !slices.Equal(e, []string{name}) {
		t.Errorf("done/ holds %v, want exactly [%s]", e, name)
	}
	if err := sameTree(r.path("done", name), files); err != nil {
		t.Errorf("the drop is not intact in done/: %v", err)
	}
	rc, size, err := r.gw.Storage().OpenObject(realseetest.DefaultBucket, sub.PrivateCosKey)
	if err != nil {
		t.Fatalf("the submitted archive is not in the store: %v", err)
	}
	rc.Close()
	o.archive = size
	o.resent = r.gw.Storage().Stats().BytesReceived - size
	if o.resent < 0 {
		t.Errorf("the store received %d bytes for a %d-byte archive", r.gw.Storage().Stats().BytesReceived, size)
	}
	if point == "journal:realsee.upload:2" {
		t.Logf("mid-upload: %d bytes were in the store at the crash, %d received after the restart; %d received twice",
			receivedAtCrash, r.gw.Storage().Stats().BytesReceived-receivedAtCrash, o.resent)
	}
	d2.stop()
	o.took = time.Since(began)
	return o
}

func reportCrashTallies(t *testing.T, vendor string, points []string, tallies map[string]*crashTally, runs int, took time.Duration) {
	total, finished, dups, lost := 0, 0, 0, 0
	for _, p := range points {
		tl := tallies[p]
		if tl == nil {
			continue
		}
		total += tl.runs
		finished += tl.finished
		dups += tl.dupSubmits
		lost += tl.lost
		line := fmt.Sprintf("%s crash at %-26s %d/%d finished, %d duplicate submits", vendor, p+":", tl.finished, tl.runs, tl.dupSubmits)
		if tl.archive > 0 && (strings.Contains(p, "upload")) {
			line += fmt.Sprintf(", re-sent %.1f MiB in all (%.0f%% of one archive per run)",
				float64(tl.resent)/(1<<20), 100*float64(tl.resent)/float64(tl.archive))
		}
		report(t, "%s", line)
	}
	report(t, "%s crash matrix: %d points × %d runs: %d/%d finished, %d duplicate submits, %d lost, in %s",
		vendor, len(points), runs, finished, total, dups, lost, took.Round(time.Second))
}

func TestReliabilityCrashMatrixAholo(t *testing.T) {
	t.Parallel()
	runs := envInt("SCANDROP_RELIABILITY_CRASH_RUNS", 3)
	// Six 3 MiB photos, sent in 1 MiB blocks.
	files := aholoFiles(t, 6, 3<<20)
	var total int64
	for n, b := range files {
		if strings.HasPrefix(n, "photos/") {
			total += int64(len(b))
		}
	}
	points := []string{
		"packaged",
		"journal:aholo.uploads:2", // mid-upload: the first file is journaled, others in flight
		"submitted",
		"polled",
	}
	tallies := map[string]*crashTally{}
	start := time.Now()
	for run := 1; run <= runs; run++ {
		for _, point := range points {
			name := fmt.Sprintf("acrash-%s-%d", strings.NewReplacer(":", "_", ".", "_").Replace(point), run)
			t.Run(name, func(t *testing.T) {
				began := time.Now()
				r := newRig(t, rigOptions{aholo: &aholotest.Options{BlockSize: 1 << 20}})
				d := r.start("SCANDROP_TEST_CRASH=" + point)
				r.drop(name, files)
				d.waitExit(t, 60*time.Second)
				if got := r.entries("processing"); !slices.Equal(got, []string{name}) {
					t.Fatalf("after the crash at %s, processing/ holds %v", point, got)
				}
				d2 := r.start()
				res, where := r.waitResult(name, 90*time.Second)
				tl := tallies[point]
				if tl == nil {
					tl = &crashTally{}
					tallies[point] = tl
				}
				tl.runs++
				if where != "done" || !res.Success() {
					tl.lost++
					t.Fatalf("landed in %s: %+v", where, res.Error)
				}
				tl.finished++
				if c := r.ah.Creates(); c != 1 {
					tl.dupSubmits += c - 1
					t.Errorf("%d create-3d-recon calls, want exactly 1", c)
				}
				for _, dir := range []string{"inbox", "processing", "failed"} {
					if e := r.entries(dir); len(e) != 0 {
						t.Errorf("%s/ holds %v", dir, e)
					}
				}
				if e := r.entries("done"); !slices.Equal(e, []string{name}) {
					t.Errorf("done/ holds %v", e)
				}
				if err := sameTree(r.path("done", name), files); err != nil {
					t.Errorf("the drop is not intact in done/: %v", err)
				}
				d2.stop()
				r.ah.Settle()
				resent := r.ah.BytesReceived() - total
				tl.resent += resent
				tl.archive += total
				t.Logf("%s: resent %d of %d bytes, in %s", point, resent, total, time.Since(began).Round(time.Millisecond))
			})
		}
	}
	reportCrashTallies(t, "aholo", points, tallies, runs, time.Since(start))
}
