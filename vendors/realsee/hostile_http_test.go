package realsee_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/faultproxy"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/realsee"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
	"github.com/scandrop/scandrop/vendors/vendortest"
)

// instantClock is the real time with waits that end at once.
type instantClock struct{}

func (instantClock) Now() time.Time { return time.Now() }
func (instantClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch
}

// TestHTTPFaults: every hostile answer of vendortest.HTTPFaults, on the
// access token, the submit and the poll, gives the outcome the shared table
// says (the Aholo client passes the same table), and a redirect to another
// host never carries app_secret or the access token there.
func TestHTTPFaults(t *testing.T) {
	vendortest.RunHTTPFaults(t, httpHarness)
}

// TestOneAttempt: the client makes one attempt per call; the pipeline's
// pacer does all waiting (internal/backoff).
func TestOneAttempt(t *testing.T) { vendortest.RunOneAttempt(t, httpHarness) }

var httpHarness = vendortest.HTTPHarness{
	Setup: func(t *testing.T) (func() vendors.Vendor, *faultproxy.Proxy, string, func() int) {
		s := realseetest.NewServer(realseetest.Options{AppKey: "k", AppSecret: "s"})
		t.Cleanup(s.Close)
		p := faultproxy.New(s.URL)
		t.Cleanup(p.Close)
		dir := t.TempDir()
		copyTree(t, "../../examples/realsee/nave-2026-11-20", dir)
		return func() vendors.Vendor {
			return realsee.New(realsee.Config{Endpoint: p.URL, AppKey: "k", AppSecret: "s",
				HTTPClient: &http.Client{Timeout: 30 * time.Second}, Clock: instantClock{}})
		}, p, dir, func() int { return len(s.Submits()) }
	},
	TokenPath:  "/auth/access_token",
	SubmitPath: "/open/v1/pano/task/submit",
	PollPath:   "/open/v1/pano/task/status",
}
