package pipeline

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors"
)

// longUpload is a vendor whose Upload runs for `runs` of the clock and
// then fails with a transient error, `fails` times, before succeeding.
type longUpload struct {
	slowVendor
	clock   *jumpClock
	runs    time.Duration
	fails   int
	uploads int
}

func (v *longUpload) Open(context.Context, string) (vendors.Job, error) { return v, nil }
func (v *longUpload) Upload(context.Context, vendors.Journal, vendors.Progress) error {
	v.uploads++
	v.clock.mu.Lock()
	v.clock.now = v.clock.now.Add(v.runs)
	v.clock.mu.Unlock()
	if v.uploads <= v.fails {
		return vendors.E(vendors.Transient, "fake: upload part 700", "connection reset by peer")
	}
	return nil
}

func runLong(t *testing.T, v *longUpload, timeout time.Duration) *Result {
	t.Helper()
	v.poll = func(context.Context) (vendors.Status, error) { return vendors.Status{State: vendors.Succeeded}, nil }
	return runSlow(t, v, v.clock, timeout)
}

// TestStageTimeoutCountsFromFirstFailure: the vendor timeout bounds an
// outage, not a stage: an upload that ran for longer than the timeout and
// then met one blip is retried (and resumes), not failed as "still failing
// after" — now that the clients no longer hide blips with retries of their
// own, every blip reaches the pipeline.
func TestStageTimeoutCountsFromFirstFailure(t *testing.T) {
	clock := &jumpClock{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	v := &longUpload{clock: clock, runs: 2 * time.Minute, fails: 1}
	if res := runLong(t, v, time.Minute); !res.Success() || v.uploads != 2 {
		t.Errorf("%d uploads, result %+v; want the blip retried and the job done", v.uploads, res.Error)
	}

	// An outage that does last longer than the timeout still fails the
	// stage, counted from its first failure.
	clock = &jumpClock{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	v = &longUpload{clock: clock, fails: 1 << 30}
	res := runLong(t, v, time.Minute)
	if res.Success() || res.Error.Stage != StageUpload || !strings.Contains(res.Error.Message, "still failing after 1m0s") {
		t.Errorf("endless outage: %+v, want the upload failed, still failing after the timeout", res.Error)
	}
	if v.uploads < 5 || v.uploads > 20 {
		t.Errorf("%d uploads in a minute of outage, want the backoff's handful", v.uploads)
	}
}

// TestOutageOncePerMinuteMark: with jittered waits the failures fall
// anywhere; the log still says "still retrying" once per minute of the
// outage — at the first failure after each minute mark — not skipping a
// minute because the previous line came late in the one before.
func TestOutageOncePerMinuteMark(t *testing.T) {
	var logs strings.Builder
	clock := &jumpClock{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	start := clock.now
	o := outage{log: slog.New(slog.NewTextHandler(&logs, nil)), clock: clock}
	for _, at := range []time.Duration{0, 50 * time.Second, 105 * time.Second, 130 * time.Second, 160 * time.Second, 200 * time.Second, 235 * time.Second} {
		clock.now = start.Add(at)
		o.failed(vendors.E(vendors.Transient, "poll", "502"))
	}
	o.recovered()
	// Marks at 1m, 2m and 3m: failures at 1m45s, 2m10s and 3m20s (a
	// minute since the last line would say only 1m45s and 3m20s).
	if n := strings.Count(logs.String(), "still retrying"); n != 3 {
		t.Errorf("%d still-retrying lines over 3m55s of outage, want 3:\n%s", n, logs.String())
	}
	if strings.Count(logs.String(), "unreachable") != 1 || strings.Count(logs.String(), "reachable again") != 1 {
		t.Errorf("want one start and one end line:\n%s", logs.String())
	}
}
