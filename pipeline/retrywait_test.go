package pipeline

import (
	"fmt"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors"
)

// TestRetryWait: the wait before a retry is the backoff, or the vendor's
// Retry-After when longer, never beyond vendors.MaxRetryAfter.
func TestRetryWait(t *testing.T) {
	after := func(d time.Duration) error {
		return fmt.Errorf("wrapped: %w", &vendors.Error{Kind: vendors.Transient, RetryAfter: d})
	}
	for _, tt := range []struct {
		backoff time.Duration
		err     error
		want    time.Duration
	}{
		{2 * time.Second, vendors.E(vendors.Transient, "op", "plain"), 2 * time.Second},
		{2 * time.Second, after(30 * time.Second), 30 * time.Second},
		{time.Minute, after(5 * time.Second), time.Minute},
		{time.Second, after(time.Hour), vendors.MaxRetryAfter},
	} {
		if got := retryWait(tt.backoff, tt.err); got != tt.want {
			t.Errorf("retryWait(%v, %v) = %v, want %v", tt.backoff, tt.err, got, tt.want)
		}
	}
}
