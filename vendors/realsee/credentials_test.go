package realsee_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/realsee"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// CheckCredentials answers nil for accepted credentials, Auth for an
// "illegal app", Transient for an outage; SetSecret makes a refused secret
// good without a new Vendor.
func TestCheckCredentials(t *testing.T) {
	ctx := context.Background()
	s := realseetest.NewServer(realseetest.Options{AppKey: "k", AppSecret: "s"})
	defer s.Close()
	newVendor := func(key, secret string) *realsee.Vendor {
		return realsee.New(realsee.Config{Endpoint: s.URL, AppKey: key, AppSecret: secret})
	}
	if err := newVendor("k", "s").CheckCredentials(ctx); err != nil {
		t.Fatalf("good credentials: %v", err)
	}
	for _, c := range [][2]string{{"k", "wrong"}, {"wrong", "s"}, {"", ""}} {
		err := newVendor(c[0], c[1]).CheckCredentials(ctx)
		if vendors.KindOf(err) != vendors.Auth {
			t.Errorf("%q/%q: got %v, want kind auth", c[0], c[1], err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "illegal app") || !strings.Contains(msg, "app_secret") {
			t.Errorf("%q/%q: message %q should carry the vendor's word and name the keys", c[0], c[1], msg)
		}
	}
	if n := s.Requests()["/auth/access_token"]; n != 4 {
		t.Errorf("%d access_token calls, want one per check (4)", n)
	}

	v := newVendor("k", "wrong")
	if err := v.CheckCredentials(ctx); vendors.KindOf(err) != vendors.Auth {
		t.Fatalf("wrong secret: %v", err)
	}
	v.SetSecret("s")
	if err := v.CheckCredentials(ctx); err != nil {
		t.Fatalf("after SetSecret: %v", err)
	}

	s.FailNext(10, http.StatusBadGateway)
	if err := newVendor("k", "s").CheckCredentials(ctx); vendors.KindOf(err) != vendors.Transient {
		t.Errorf("outage: got %v, want kind transient", err)
	}
}

// A token answer with a code other than the document's -1 ("illegal
// app") is the gateway's trouble, not the credentials': Transient, so the
// credential gate never holds an account's drops on it.
func TestAccessTokenOtherCodesAreTransient(t *testing.T) {
	for _, c := range []struct {
		body string
		want vendors.Kind
	}{
		{`{"code":-1,"status":"illegal app"}`, vendors.Auth},
		{`{"code":500,"status":"internal error"}`, vendors.Transient},
		{`{"code":10001,"status":"rate limited"}`, vendors.Transient},
		{`{"code":-3,"status":"access_token expired"}`, vendors.Transient},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, c.body)
		}))
		err := realsee.New(realsee.Config{Endpoint: srv.URL, AppKey: "k", AppSecret: "s"}).CheckCredentials(context.Background())
		srv.Close()
		if got := vendors.KindOf(err); got != c.want {
			t.Errorf("%s: kind %v (%v), want %v", c.body, got, err, c.want)
		}
	}
}
