package aholo

import (
	"strings"
	"testing"

	"github.com/scandrop/scandrop/internal/faultproxy"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/vendortest"
)

// TestHTTPFaults: every hostile answer of vendortest.HTTPFaults, on the
// upload token, create-3d-recon and the task poll, gives the outcome the
// shared table says (the Realsee client passes the same table), and a
// redirect to another host never carries the signed query there.
func TestHTTPFaults(t *testing.T) {
	vendortest.RunHTTPFaults(t, vendortest.HTTPHarness{
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
	})
}
