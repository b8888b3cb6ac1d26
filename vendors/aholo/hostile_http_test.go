package aholo

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/scandrop/scandrop/internal/testkit/faultproxy"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/vendortest"
)

// TestHTTPFaults: every hostile answer of vendortest.HTTPFaults, on the
// upload token, create-3d-recon and the task poll, gives the outcome the
// shared table says (the Realsee client passes the same table), and a
// redirect to another host never carries the signed query there.
func TestHTTPFaults(t *testing.T) {
	vendortest.RunHTTPFaults(t, httpHarness)
}

// TestOneAttempt: the client makes one attempt per call; the pipeline's
// pacer does all waiting (internal/backoff).
func TestOneAttempt(t *testing.T) { vendortest.RunOneAttempt(t, httpHarness) }

var httpHarness = vendortest.HTTPHarness{
	Setup: func(t *testing.T) (func() vendors.Vendor, *faultproxy.Proxy, string, func() int) {
		srv := newServer(t, aholotest.Options{BlockSize: 64 << 10})
		p := faultproxy.New(strings.TrimSuffix(srv.URL, "/v2/aholo"))
		t.Cleanup(p.Close)
		return func() vendors.Vendor {
			return newVendor(srv, func(c *Config) { c.Endpoint = p.URL + "/v2/aholo" })
		}, p, chairDrop(t), srv.Creates
	},
	TokenPath:  "/v2/aholo/upload/token",
	SubmitPath: "/v2/aholo/project/create-3d-recon",
	PollPath:   "/v2/aholo/project/task/list/by-ids",
}

// TestFinishFollowsCDNRedirects: a result URL is a download that carries no
// credentials of ours, so a CDN's redirect to another host is followed (the
// one call that may leave the configured hosts); a redirect from https to
// http is refused all the same.
func TestFinishFollowsCDNRedirects(t *testing.T) {
	srv := newServer(t, aholotest.Options{BlockSize: 64 << 10, AssetSize: 3000})
	dir := chairDrop(t)
	ctx := context.Background()
	job, err := newVendor(srv, func(c *Config) { c.DownloadAssets = true }).Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	j := vendortest.NewMemJournal()
	st := runAll(t, ctx, job, j)
	var hdrs []http.Header
	var mu sync.Mutex
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hdrs = append(hdrs, r.Header.Clone())
		mu.Unlock()
		http.Redirect(w, r, st.Assets[strings.TrimPrefix(r.URL.Path, "/")], http.StatusFound)
	}))
	defer cdn.Close()
	cdnSt := st
	cdnSt.Assets = map[string]string{"ply": cdn.URL + "/ply", "spz": cdn.URL + "/spz"}
	if err := job.(vendors.Finisher).Finish(ctx, j, &cdnSt); err != nil {
		t.Fatalf("download through a CDN redirect: %v", err)
	}
	for _, ext := range []string{"ply", "spz"} {
		got, err := os.ReadFile(filepath.Join(dir, "assets", "chair-scan."+ext))
		if err != nil || !bytes.Equal(got, aholotest.AssetBytes(filepath.Base(st.Assets[ext]), 3000)) {
			t.Errorf("%s: %v, or content differs", ext, err)
		}
	}
	for _, h := range hdrs {
		if h.Get("Authorization") != "" || h.Get("ous-token-v2") != "" || h.Get("Cookie") != "" {
			t.Errorf("the CDN received credentials: %v", h)
		}
	}

	// https → http: refused, even for a download.
	down := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, st.Assets["ply"], http.StatusFound)
	}))
	defer down.Close()
	os.RemoveAll(filepath.Join(dir, "assets"))
	job2, _ := newVendor(srv, func(c *Config) { c.DownloadAssets = true; c.HTTPClient = down.Client() }).Open(ctx, dir)
	downSt := st
	downSt.Assets = map[string]string{"ply": down.URL + "/ply"}
	err = job2.(vendors.Finisher).Finish(ctx, vendortest.NewMemJournal(), &downSt)
	if vendors.KindOf(err) != vendors.Rejected || !strings.Contains(fmt.Sprint(err), "HTTPS") {
		t.Errorf("https→http download: %v, want a Rejected error naming HTTPS", err)
	}
}
