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

// slowVendor is a vendor whose submit and poll are what a test makes them.
type slowVendor struct {
	submit func(ctx context.Context) error
	poll   func(ctx context.Context) (vendors.Status, error)
}

func (v *slowVendor) Name() string                                                    { return "fake" }
func (v *slowVendor) Marker() string                                                  { return "fake.marker" }
func (v *slowVendor) Open(context.Context, string) (vendors.Job, error)               { return v, nil }
func (v *slowVendor) Package(context.Context, vendors.Journal) error                  { return nil }
func (v *slowVendor) Upload(context.Context, vendors.Journal, vendors.Progress) error { return nil }
func (v *slowVendor) Submit(ctx context.Context, j vendors.Journal) (vendors.IDs, error) {
	if v.submit != nil {
		if err := v.submit(ctx); err != nil {
			return nil, err
		}
	}
	return vendors.IDs{"task": "t-1"}, nil
}
func (v *slowVendor) Poll(ctx context.Context, ids vendors.IDs) (vendors.Status, error) {
	return v.poll(ctx)
}

func runSlow(t *testing.T, v vendors.Vendor, clock vendors.Clock, timeout time.Duration) *Result {
	t.Helper()
	p := New(Options{
		Vendors:  []vendors.Vendor{v},
		Settings: map[string]VendorSettings{"fake": {PollInterval: time.Second, Timeout: timeout}},
		Clock:    clock,
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

// TestHostileSlowRetryAfterBoundedByTimeout: a Retry-After longer than
// what is left of the vendor timeout is not waited out (the red team saw a
// 70 s job still waiting at 150 s): the stage fails at once, on submit and
// on the poll alike.
func TestHostileSlowRetryAfterBoundedByTimeout(t *testing.T) {
	const timeout = 70 * time.Second
	throttled := &vendors.Error{Kind: vendors.Transient, SafeToRetry: true, RetryAfter: vendors.MaxRetryAfter, Err: io.ErrUnexpectedEOF}

	clock := &jumpClock{now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	start := clock.Now()
	res := runSlow(t, &slowVendor{submit: func(context.Context) error { return throttled }}, clock, timeout)
	if res.Success() || res.Error.Stage != StageSubmit || !strings.Contains(res.Error.Message, "retry after") {
		t.Errorf("submit: %+v, want a failed submit naming the Retry-After", res.Error)
	}
	if d := clock.Now().Sub(start); d > timeout {
		t.Errorf("submit: failed after %s of waiting, want within the %s timeout", d, timeout)
	}

	clock = &jumpClock{now: start}
	res = runSlow(t, &slowVendor{poll: func(context.Context) (vendors.Status, error) { return vendors.Status{}, throttled }}, clock, timeout)
	if res.Success() || res.Error.Kind != "timeout" {
		t.Errorf("poll: %+v, want kind timeout", res.Error)
	}
	if d := clock.Now().Sub(start); d > timeout {
		t.Errorf("poll: failed after %s of waiting, want within the %s timeout", d, timeout)
	}
}

// TestHostileSlowPollBoundedByTimeout: a poll that never returns by itself
// (an answer trickling in) is cut off at the vendor timeout, and the job
// fails as timeout within seconds of it.
func TestHostileSlowPollBoundedByTimeout(t *testing.T) {
	const timeout = time.Second
	v := &slowVendor{poll: func(ctx context.Context) (vendors.Status, error) {
		<-ctx.Done() // as an HTTP call does: the error is the context's
		return vendors.Status{}, ctx.Err()
	}}
	start := time.Now()
	res := runSlow(t, v, vendors.SystemClock{}, timeout)
	if res.Success() || res.Error.Kind != "timeout" || !strings.Contains(res.Error.Message, "fake timeout in config.yaml") {
		t.Errorf("%+v, want kind timeout naming the fake vendor's timeout", res.Error)
	}
	if d := time.Since(start); d > timeout+8*time.Second {
		t.Errorf("failed after %s, want within %s", d, timeout+8*time.Second)
	}
}
