package aholo

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/shaper"
	"github.com/scandrop/scandrop/internal/testkit/testmedia"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/vendortest"
)

func TestSenders(t *testing.T) {
	for _, tt := range []struct {
		ratio         float64
		base, ceiling int
		want          int
	}{
		{1.02, 4, 32, 4},   // loopback: the bytes are the time; the base
		{2.2, 4, 32, 4},    // 100 ms, 200 Mbit/s, 2 MB: 4 is already enough
		{5.5, 4, 32, 7},    // 250 ms, 300 Mbit/s, 2 MB
		{40, 4, 32, 32},    // tiny files far away: the ceiling
		{3, 1, 8, 4},       // one configured, three needed
		{100, 64, 64, 64},  // never past the ceiling
		{1, 4, 32, 4},      // nothing to wait for
		{2.0001, 2, 16, 4}, // a hair over two transfers' worth rounds up
	} {
		if got := senders(tt.ratio, tt.base, tt.ceiling); got != tt.want {
			t.Errorf("senders(%v, %d, %d) = %d, want %d", tt.ratio, tt.base, tt.ceiling, got, tt.want)
		}
	}
}

// wanRig is the fake behind a shaped link: the API and OUS through one
// uplink, OUS over TLS, status polls held to the service's pace.
func wanRig(t *testing.T, link shaper.Link, opts aholotest.Options) (*aholotest.Server, string) {
	t.Helper()
	opts.StatusInterval = aholotest.StatusEvery
	srv := newServer(t, opts)
	l := shaper.NewShared(link)
	api, err := l.Proxy(strings.TrimPrefix(strings.TrimSuffix(srv.URL, "/v2/aholo"), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	ous, err := l.Proxy(srv.OUSDomain)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ous.Close() })
	srv.OUSDomain = ous.Addr() // the tokens send the uploads through the link
	return srv, "http://" + api.Addr() + "/v2/aholo"
}

// inflight counts the requests to one path under way at once, at the
// client.
type inflight struct {
	rt   http.RoundTripper
	path string
	mu   sync.Mutex
	now  int
	peak int
}

func (c *inflight) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path != c.path {
		return c.rt.RoundTrip(r)
	}
	c.mu.Lock()
	c.now++
	c.peak = max(c.peak, c.now)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.now--
		c.mu.Unlock()
	}()
	return c.rt.RoundTrip(r)
}

func photoDrop(t *testing.T, n int) string {
	files := map[string][]byte{Marker: []byte("cover: images/000.jpg\n")}
	for i := range n {
		files[fmt.Sprintf("images/%03d.jpg", i)] = testmedia.JPEG(64, 48, i)
	}
	return writeFiles(t, files)
}

// Over a long round trip, small files are mostly waiting: the number of
// files sending at once grows past upload_concurrency so that they do not
// wait one round trip after another. Status polls keep the service's pace:
// none is refused, and each file is asked about no more often than it
// takes (the fake answers "processing" once, then "done").
func TestUploadOverLongRoundTripSendsMoreAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("real round trips over a shaped link")
	}
	const files = 24
	srv, endpoint := wanRig(t, shaper.Link{RTT: 60 * time.Millisecond, Rate: shaper.MbitPerSec(100)}, aholotest.Options{})
	counter := &inflight{rt: srv.Client().Transport, path: ousSingle}
	dir := photoDrop(t, files)
	ctx := context.Background()
	v := newVendor(srv, func(c *Config) {
		c.Endpoint, c.Clock, c.UploadConcurrency = endpoint, nil, 2
		c.HTTPClient = &http.Client{Transport: counter}
	})
	job, err := v.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	j := vendortest.NewMemJournal()
	if err := job.Package(ctx, j); err != nil {
		t.Fatal(err)
	}
	if err := job.Upload(ctx, j, nil); err != nil {
		t.Fatal(err)
	}
	if counter.peak <= 2 {
		t.Errorf("at most %d files were sent at once over a 60 ms round trip, want more than upload_concurrency 2", counter.peak)
	}
	if n := srv.Throttled(); n != 0 {
		t.Errorf("%d status polls refused as too frequent", n)
	}
	if n := srv.Calls(ousStatus); n != 2*files {
		t.Errorf("%d status polls for %d files, want 2 each (processing, then done)", n, files)
	}
}

// jumpClock is the real time plus an offset a test moves forward; its
// waits end at once.
type jumpClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *jumpClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

func (c *jumpClock) jump(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// A file fetches its token while the one before it sends; when that send
// takes more than half the token's life (a big file ahead on a slow link),
// a new token is fetched before sending rather than risk the old one
// expiring under the file's own upload and status polls.
func TestTokenFetchedAheadIsRenewedWhenStale(t *testing.T) {
	clk := &jumpClock{}
	var once sync.Once
	var srv *aholotest.Server
	srv = newServer(t, aholotest.Options{Now: clk.Now, Hook: func(r *http.Request) {
		if r.URL.Path != ousSingle {
			return
		}
		once.Do(func() {
			// The second file has its token by now (it fetches it as the
			// first takes the sending slot); then this send lasts six
			// minutes: the first file's token is still good.
			deadline := time.Now().Add(10 * time.Second)
			for srv.Calls("/v2/aholo/upload/token") < 2 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			clk.jump(aholotest.TokenLife/2 + time.Minute)
		})
	}})
	dir := photoDrop(t, 2)
	ctx := context.Background()
	job, err := newVendor(srv, func(c *Config) { c.Clock, c.UploadConcurrency = clk, 1 }).Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	j := vendortest.NewMemJournal()
	if err := job.Package(ctx, j); err != nil {
		t.Fatal(err)
	}
	if err := job.Upload(ctx, j, nil); err != nil {
		t.Fatal(err)
	}
	if n := srv.Calls("/v2/aholo/upload/token"); n != 3 {
		t.Errorf("%d tokens fetched for 2 files, want 3 (the second renewed once)", n)
	}
	if n := srv.Calls(ousSingle); n != 2 {
		t.Errorf("%d single uploads for 2 files, want 2: none refused for an expired token", n)
	}
}
