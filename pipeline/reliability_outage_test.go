package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/backoff"
	"github.com/scandrop/scandrop/vendors"
)

// jumpClock moves its time forward by the wait whenever a wait starts, so
// that minutes of backoff pass at once.
type jumpClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *jumpClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// outageVendor's task polls fail (transiently) until a moment, then succeed.
type outageVendor struct {
	clock *jumpClock
	until time.Time
	polls int
}

func (v *outageVendor) Name() string   { return "fake" }
func (v *outageVendor) Marker() string { return "fake.marker" }
func (v *outageVendor) Open(ctx context.Context, dir string) (vendors.Job, error) {
	return v, nil
}
func (v *outageVendor) Package(ctx context.Context, j vendors.Journal) error { return nil }
func (v *outageVendor) Upload(ctx context.Context, j vendors.Journal, p vendors.Progress) error {
	return nil
}
func (v *outageVendor) Submit(ctx context.Context, j vendors.Journal) (vendors.IDs, error) {
	return vendors.IDs{"task": "t-1"}, nil
}
func (v *outageVendor) Poll(ctx context.Context, ids vendors.IDs) (vendors.Status, error) {
	v.polls++
	if v.clock.Now().Before(v.until) {
		return vendors.Status{}, vendors.E(vendors.Transient, "fake: status", "HTTP 502 Bad Gateway")
	}
	return vendors.Status{State: vendors.Succeeded, Detail: "success"}, nil
}

// A long outage is logged once when it starts, once a minute while it
// lasts and once when it ends — not once per failed request.
func TestOutageLoggedOncePerMinute(t *testing.T) {
	clock := &jumpClock{now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	const outage = 5*time.Minute + 30*time.Second
	v := &outageVendor{clock: clock, until: clock.now.Add(outage)}
	var logs bytes.Buffer
	p := New(Options{
		Vendors:  []vendors.Vendor{v},
		Settings: map[string]VendorSettings{"fake": {PollInterval: 5 * time.Second, Timeout: time.Hour}},
		Clock:    clock,
		// No jitter: whether a failure falls in the last half minute
		// of the outage, and so the line count, would be a draw.
		Backoff: backoff.Policy{First: backoff.PipelinePolicy.First, Ceiling: backoff.PipelinePolicy.Ceiling},
		Logger:  slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	dir := filepath.Join(t.TempDir(), "job")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "fake.marker"), nil, 0o644)
	res, err := p.Process(context.Background(), dir, false)
	if err != nil || !res.Success() {
		t.Fatalf("result %+v, err %v", res, err)
	}
	var started, still, recovered, warns int
	for _, line := range bytes.Split(logs.Bytes(), []byte("\n")) {
		var l struct{ Level, Msg string }
		if json.Unmarshal(line, &l) != nil {
			continue
		}
		if l.Level == "WARN" {
			warns++
		}
		switch l.Msg {
		case "vendor unreachable or failing; retrying with backoff":
			started++
		case "still retrying":
			still++
		case "vendor reachable again":
			recovered++
		}
	}
	failed := v.polls - 1
	if started != 1 || still != int(outage/time.Minute) || recovered != 1 || warns != started+still {
		t.Errorf("an outage of %s (%d failed polls) logged %d start, %d still-retrying, %d recovery lines (%d WARN in all); want 1, %d, 1",
			outage, failed, started, still, recovered, warns, int(outage/time.Minute))
	}
	t.Logf("outage of %s: %d failed polls, %d WARN lines, 1 recovery line", outage, failed, warns)
}
