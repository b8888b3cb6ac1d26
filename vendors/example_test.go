package vendors_test

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/scandrop/scandrop/vendors"
)

// Every vendor client hands the HTTP side of each exchange to
// HTTPOutcome, the one table of what an answer means; the pipeline then
// decides on the error's Kind alone. A 429 is weather, retried after the
// server's Retry-After; a 502 on a call that creates something (a submit)
// is an unknown outcome, which is never repeated blindly.
func ExampleHTTPOutcome() {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	throttled := vendors.HTTPOutcome("realsee: poll", vendors.Exchange{
		Reached: true, Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"30"}}, Now: now,
	})
	fmt.Println(throttled.Kind, vendors.Retryable(throttled), vendors.RetryAfterOf(throttled))

	lost := vendors.HTTPOutcome("realsee: submit", vendors.Exchange{Creates: true, Reached: true, Status: http.StatusBadGateway, Now: now})
	fmt.Println(lost.Kind, vendors.Retryable(lost), vendors.SafeToRetry(lost))

	// A 200 is for the vendor's envelope to decide.
	fmt.Println(vendors.HTTPOutcome("realsee: poll", vendors.Exchange{Reached: true, Status: http.StatusOK}) == nil)
	// Output:
	// transient true 30s
	// unknown_outcome false false
	// true
}

// An error carries its Kind through any wrapping; an error nobody
// classified is Other, which the pipeline treats as permanent.
func ExampleKindOf() {
	err := fmt.Errorf("upload: %w", vendors.E(vendors.Auth, "realsee: access_token", "code 10001: illegal app"))
	fmt.Println(vendors.KindOf(err))
	fmt.Println(err)
	fmt.Println(vendors.KindOf(errors.New("something else")))
	// Output:
	// auth
	// upload: realsee: access_token: code 10001: illegal app
	// internal
}
