package aholo

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
)

// CheckCredentials answers nil for accepted credentials, Auth for each way
// the open platform refuses them, Transient for an outage; SetSecret makes
// a refused secret good without a new Vendor.
func TestCheckCredentials(t *testing.T) {
	ctx := context.Background()
	srv := newServer(t, aholotest.Options{})
	if err := newVendor(srv).CheckCredentials(ctx); err != nil {
		t.Fatalf("good credentials: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"wrong secret": func(c *Config) { c.AppSecret = "nope" },
		"wrong key":    func(c *Config) { c.AppKey = "nope" },
		"wrong appuid": func(c *Config) { c.AppUID = "nope" },
		"clock 20 minutes late": func(c *Config) {
			c.Clock = offsetClock{-20 * time.Minute}
		},
	} {
		err := newVendor(srv, mod).CheckCredentials(ctx)
		if vendors.KindOf(err) != vendors.Auth {
			t.Errorf("%s: got %v (kind %v), want kind auth", name, err, vendors.KindOf(err))
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "test-secret") || !strings.Contains(msg, "appuid") {
			t.Errorf("%s: message %q should name the keys and not the secret", name, msg)
		}
	}

	v := newVendor(srv, func(c *Config) { c.AppSecret = "old-wrong" })
	if err := v.CheckCredentials(ctx); vendors.KindOf(err) != vendors.Auth {
		t.Fatalf("wrong secret: %v", err)
	}
	v.SetSecret("test-secret")
	if err := v.CheckCredentials(ctx); err != nil {
		t.Fatalf("after SetSecret: %v", err)
	}

	srv.FailNext(10, http.StatusServiceUnavailable)
	if err := newVendor(srv).CheckCredentials(ctx); vendors.KindOf(err) != vendors.Transient {
		t.Errorf("outage: got %v, want kind transient", err)
	}
	srv.FailNext(0, 0)

	wrong := newVendor(srv, func(c *Config) { c.Endpoint = strings.TrimSuffix(srv.URL, "/v2/aholo") })
	if err := wrong.CheckCredentials(ctx); vendors.KindOf(err) != vendors.Rejected || !strings.Contains(err.Error(), "aholo.endpoint") {
		t.Errorf("endpoint without /v2/aholo: got %v, want kind rejected naming aholo.endpoint", err)
	}
}

type offsetClock struct{ d time.Duration }

func (c offsetClock) Now() time.Time                         { return time.Now().Add(c.d) }
func (c offsetClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
