package pipeline

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
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
	p := New(Options{
		Vendors:  []vendors.Vendor{v},
		Settings: map[string]VendorSettings{"fake": {PollInterval: time.Second, Timeout: timeout}},
		Clock:    v.clock,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	dir := filepath.Join(t.TempDir(), "job")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "fake.marker"), nil, 0o644)
	res, err := p.Process(context.Background(), dir, false)
	if err != nil || res == nil {
		t.Fatalf("result %+v, err %v", res, err)
	}
	return res
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
