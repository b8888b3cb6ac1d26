package aholo

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/faultproxy"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/vendortest"
)

// shortCalls makes vendors.CallTimeout d for the test.
func shortCalls(t *testing.T, d time.Duration) {
	old := vendors.CallTimeout
	vendors.CallTimeout = d
	t.Cleanup(func() { vendors.CallTimeout = old })
}

// TestHostileSlowPoll: a task poll whose answer trickles in a byte at a
// time — never idle long enough for the stall guard, never finishing — is
// cut off at vendors.CallTimeout (a Transient error naming it), so the
// pipeline's deadline can act; it no longer holds the job for ever.
func TestHostileSlowPoll(t *testing.T) {
	shortCalls(t, time.Second)
	srv := newServer(t, aholotest.Options{BlockSize: 64 << 10})
	p := faultproxy.New(strings.TrimSuffix(srv.URL, "/v2/aholo"))
	t.Cleanup(p.Close)
	p.Add(faultproxy.Rule{Match: faultproxy.Path("/v2/aholo/project/task/list/by-ids"), Fault: faultproxy.Trickle, For: 50 * time.Millisecond})
	job, err := newVendor(srv, func(c *Config) { c.Endpoint = p.URL + "/v2/aholo" }).Open(context.Background(), chairDrop(t))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = job.Poll(context.Background(), vendors.IDs{"project_id": "p-1"})
	if vendors.KindOf(err) != vendors.Transient || !strings.Contains(fmt.Sprint(err), "no complete answer within 1s") {
		t.Errorf("trickled poll: %v, want a Transient error naming the 1s call bound", err)
	}
	// One attempt: the client never repeats a call (internal/backoff).
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("trickled poll returned after %s, want within one try of 1s", d)
	}
}

// recClock is the real time whose waits end at once and are recorded.
type recClock struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (c *recClock) Now() time.Time { return time.Now() }
func (c *recClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch
}

// TestHostileSlowStatusNoData: an upload-status answer without data
// (d: null) is "not done yet": said once at WARN, and asked again at
// least a second later, less often each time — not five times a second
// with nothing in the log.
func TestHostileSlowStatusNoData(t *testing.T) {
	var polls atomic.Int32
	ousSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if polls.Add(1) <= 6 {
			w.Write([]byte(`{"c":"0","m":"","d":null}`))
			return
		}
		w.Write([]byte(`{"c":"0","d":{"status":5,"url":"https://cdn.example/x.jpg"}}`))
	}))
	defer ousSrv.Close()
	srv := newServer(t, aholotest.Options{})
	clock := &recClock{}
	var logs bytes.Buffer
	v := newVendor(srv, func(c *Config) {
		c.Clock, c.HTTPClient = clock, ousSrv.Client()
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	job, err := v.Open(context.Background(), chairDrop(t))
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(ousSrv.URL)
	u := &uploader{job: job.(*Job)}
	got, err := u.wait(context.Background(), "aholo: upload", &ous{base: base, token: "t"})
	if err != nil || got != "https://cdn.example/x.jpg" {
		t.Fatalf("wait: %q, %v", got, err)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "no data") {
		t.Errorf("%d WARN lines, want 1 naming the missing data:\n%s", n, logs.String())
	}
	clock.mu.Lock()
	defer clock.mu.Unlock()
	if len(clock.waits) != 6 {
		t.Fatalf("waits %v, want 6", clock.waits)
	}
	for i, w := range clock.waits {
		if w < time.Second || (i > 0 && w < clock.waits[i-1]) || w > statusMax {
			t.Errorf("waits %v: want each at least 1s, none shorter than the one before, at most %s", clock.waits, statusMax)
			break
		}
	}
	if clock.waits[len(clock.waits)-1] <= clock.waits[0] {
		t.Errorf("waits %v do not grow", clock.waits)
	}
}

// TestHostileSlowAssetScheme: a result URL that is not http or https
// (file:///etc/passwd) is Rejected at once, naming the scheme and not the
// URL — not retried as a network failure until the timeout.
func TestHostileSlowAssetScheme(t *testing.T) {
	srv := newServer(t, aholotest.Options{BlockSize: 64 << 10, AssetSize: 3000})
	ctx := context.Background()
	job, err := newVendor(srv, func(c *Config) { c.DownloadAssets = true }).Open(ctx, chairDrop(t))
	if err != nil {
		t.Fatal(err)
	}
	j := vendortest.NewMemJournal()
	st := runAll(t, ctx, job, j)
	for _, u := range []string{"file:///etc/passwd?sig=SECRET", "ftp://cdn.example/x.ply?sig=SECRET", "//cdn.example/x.ply?sig=SECRET", "http://[::1/x?sig=SECRET"} {
		bad := st
		bad.Assets = map[string]string{"ply": u}
		err := job.(vendors.Finisher).Finish(ctx, j, &bad)
		if vendors.KindOf(err) != vendors.Rejected || strings.Contains(fmt.Sprint(err), "SECRET") {
			t.Errorf("%s: %v, want Rejected without the URL's query", u, err)
		}
		if strings.HasPrefix(u, "file") && !strings.Contains(fmt.Sprint(err), `"file"`) {
			t.Errorf("%s: %v, want the scheme named", u, err)
		}
	}
}
