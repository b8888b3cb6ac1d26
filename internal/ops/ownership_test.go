package ops

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/pipeline"
)

// jobWithRetry makes root/processing/name whose journal records a retry,
// and an owner file for pid with the heartbeat at beat (none if pid is 0).
func jobWithRetry(t *testing.T, root, name string, pid int, beat, next time.Time) {
	t.Helper()
	dir := filepath.Join(root, pipeline.Processing, name)
	j, err := pipeline.OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = j.Update(func(r *pipeline.Record) {
		r.Vendor, r.Stage, r.StageAt, r.StartedAt = "realsee", pipeline.StageWait, beat, beat
		r.Retrying = &pipeline.RetryState{Stage: pipeline.StageWait, Kind: "transient", Error: "HTTP 503 Service Unavailable",
			Since: beat.Add(-time.Minute), Count: 3, Next: next}
	})
	if err != nil {
		t.Fatal(err)
	}
	if pid != 0 {
		host, _ := os.Hostname()
		b, _ := json.Marshal(map[string]any{"host": host, "pid": pid, "heartbeat": beat})
		if err := os.WriteFile(filepath.Join(dir, pipeline.StateDir, "owner"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// deadPID returns the pid of a process that has ended.
func deadPID(t *testing.T) int {
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("/bin/true missing (coreutils)")
	}
	if err != nil {
		t.Fatal(err)
	}
	p.Wait()
	return p.Pid
}

// The report says, from the folders alone, which jobs a live scandrop runs
// and which are orphaned, and what a retrying job waits for and until
// when; the HTML page says the same.
func TestReportOwnershipAndRetries(t *testing.T) {
	root := t.TempDir()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	jobWithRetry(t, root, "live", os.Getpid(), now.Add(-5*time.Second), now.Add(25*time.Second))
	jobWithRetry(t, root, "killed", deadPID(t), now.Add(-5*time.Second), now.Add(25*time.Second))
	jobWithRetry(t, root, "stale", os.Getpid(), now.Add(-10*time.Minute), now.Add(-9*time.Minute))
	jobWithRetry(t, root, "stopped", 0, now.Add(-5*time.Second), now.Add(25*time.Second))

	r := &Reporter{Now: func() time.Time { return now }}
	rep := r.Report(context.Background(), []Source{{Dir: root}})
	jobs := map[string]Job{}
	for _, j := range rep.Watches[0].Processing {
		jobs[j.Folder] = j
	}
	live := jobs["live"]
	if live.Orphaned || live.Owner == nil || !live.Owner.Live || live.NextAttemptIn != "in 25s" ||
		live.Retrying != "transient: HTTP 503 Service Unavailable" || live.RetryStage != "wait" || live.Retries != 3 {
		t.Errorf("live: %+v", live)
	}
	for name, want := range map[string]string{"killed": "is gone", "stale": "last heartbeat 10m00s ago", "stopped": "no scandrop runs it"} {
		j := jobs[name]
		if !j.Orphaned || !strings.Contains(j.Orphan, want) || j.NextAttemptIn != "when resumed" {
			t.Errorf("%s: orphaned %v, %q, next %q; want %q", name, j.Orphaned, j.Orphan, j.NextAttemptIn, want)
		}
	}

	var text strings.Builder
	WriteText(&text, rep)
	for _, want := range []string{"retrying: wait failed 3 times since ", "; next attempt in 25s (", "next attempt when a scandrop resumes it", "orphaned: no scandrop runs it"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}

	// A live report keeps the journal's retry when the monitor knows of none.
	m := NewMonitor(nil, func() time.Time { return now })
	m.Stage("live", "realsee", pipeline.StageWait)
	rep = r.Report(context.Background(), []Source{{Dir: root, Live: m}})
	for _, j := range rep.Watches[0].Processing {
		if j.Folder == "live" && j.Retrying == "" {
			t.Error("the monitor's overlay erased the journal's retry")
		}
	}
	rec := httptest.NewRecorder()
	(&Server{Report: func(context.Context) Report { return rep }}).Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	page := rec.Body.String()
	if !strings.Contains(page, "(next attempt in 25s)") || !strings.Contains(page, "orphaned: its scandrop") {
		t.Errorf("page lacks the next attempt or the orphan:\n%s", page)
	}
}
