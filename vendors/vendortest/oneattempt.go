package vendortest

import (
	"context"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/faultproxy"
	"github.com/scandrop/scandrop/vendors"
)

// RunOneAttempt checks the layering of retries (internal/backoff): a
// vendor client makes one attempt per call and hands a blip back to the
// pipeline, whose pacer alone waits. One 502 on the credentials call or
// on the poll is a Transient error from Upload or Poll — not a success
// after a quiet retry of the client's own — and the next call, made by
// the pipeline, goes through.
func RunOneAttempt(t *testing.T, h HTTPHarness) {
	for _, call := range []string{"token", "poll"} {
		t.Run(call, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			newVendor, p, dir, _ := h.Setup(t)
			job, err := newVendor().Open(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			j := NewMemJournal()
			if err := job.Package(ctx, j); err != nil {
				t.Fatal(err)
			}
			blip := faultproxy.Rule{Fault: faultproxy.Status, Status: 502, Times: 1}
			attempt := func() error { return job.Upload(ctx, j, nil) }
			if call == "poll" {
				if err := job.Upload(ctx, j, nil); err != nil {
					t.Fatal(err)
				}
				ids, err := job.Submit(ctx, j)
				if err != nil {
					t.Fatal(err)
				}
				attempt = func() error { _, err := job.Poll(ctx, ids); return err }
				blip.Match = faultproxy.Path(h.PollPath)
			} else {
				blip.Match = faultproxy.Path(h.TokenPath)
			}
			p.Add(blip)
			if err := attempt(); vendors.KindOf(err) != vendors.Transient {
				t.Fatalf("one 502 on the %s call: %v, want a Transient error handed back (the client made more than one attempt?)", call, err)
			}
			if n := p.Stats().Faults[faultproxy.Status]; n != 1 {
				t.Errorf("the blip was served %d times, want 1", n)
			}
			if err := attempt(); err != nil {
				t.Errorf("the next attempt: %v", err)
			}
		})
	}
}
