package vendors

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHTTPOutcome(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	reset := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	redirect := func(status int) error {
		return &Error{Kind: Rejected, Err: &RedirectError{Status: status, From: "https://a:443", To: "https://b:443"}}
	}
	hdr := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	type want struct {
		kind  Kind // Other: nil, the envelope decides
		safe  bool
		after time.Duration
	}
	for _, tt := range []struct {
		name          string
		x             Exchange
		idem, creates want
	}{
		{"dial refused", Exchange{Err: refused}, want{Transient, true, 0}, want{Transient, true, 0}},
		{"no connection made", Exchange{Err: errors.New("tls: handshake failure")}, want{Transient, true, 0}, want{Transient, true, 0}},
		{"dns", Exchange{Reached: true, Err: &net.DNSError{Err: "no such host", Name: "x"}}, want{Transient, true, 0}, want{Transient, true, 0}},
		{"reset after sending", Exchange{Reached: true, Err: reset}, want{Transient, false, 0}, want{Unknown, false, 0}},
		{"timeout after sending", Exchange{Reached: true, Err: context.DeadlineExceeded}, want{Transient, false, 0}, want{Unknown, false, 0}},
		{"429 seconds", Exchange{Reached: true, Status: 429, Header: hdr("7")}, want{Transient, true, 7 * time.Second}, want{Transient, true, 7 * time.Second}},
		{"429 date", Exchange{Reached: true, Status: 429, Header: hdr(now.Add(90 * time.Second).Format(http.TimeFormat))}, want{Transient, true, 90 * time.Second}, want{Transient, true, 90 * time.Second}},
		{"503 huge", Exchange{Reached: true, Status: 503, Header: hdr("999999999")}, want{Transient, true, MaxRetryAfter}, want{Transient, true, MaxRetryAfter}},
		{"503 past date", Exchange{Reached: true, Status: 503, Header: hdr(now.Add(-time.Hour).Format(http.TimeFormat))}, want{Transient, true, 0}, want{Transient, true, 0}},
		{"503 garbage", Exchange{Reached: true, Status: 503, Header: hdr("soon")}, want{Transient, true, 0}, want{Transient, true, 0}},
		{"503 body cut", Exchange{Reached: true, Status: 503, Err: reset}, want{Transient, true, 0}, want{Transient, true, 0}},
		{"408", Exchange{Reached: true, Status: 408}, want{Transient, true, 0}, want{Transient, true, 0}},
		{"500", Exchange{Reached: true, Status: 500}, want{Transient, false, 0}, want{Unknown, false, 0}},
		{"502", Exchange{Reached: true, Status: 502}, want{Transient, false, 0}, want{Unknown, false, 0}},
		{"504", Exchange{Reached: true, Status: 504}, want{Transient, false, 0}, want{Unknown, false, 0}},
		{"300", Exchange{Reached: true, Status: 300}, want{Transient, false, 0}, want{Unknown, false, 0}},
		{"304", Exchange{Reached: true, Status: 304}, want{Transient, false, 0}, want{Unknown, false, 0}},
		{"305", Exchange{Reached: true, Status: 305}, want{Transient, false, 0}, want{Unknown, false, 0}},
		{"200 body cut", Exchange{Reached: true, Status: 200, Err: reset}, want{Transient, false, 0}, want{Unknown, false, 0}},
		{"307 off-host", Exchange{Reached: true, Err: redirect(307)}, want{Rejected, true, 0}, want{Rejected, true, 0}},
		{"308 off-host", Exchange{Reached: true, Err: redirect(308)}, want{Rejected, true, 0}, want{Rejected, true, 0}},
		{"302 off-host", Exchange{Reached: true, Err: redirect(302)}, want{Rejected, false, 0}, want{Unknown, false, 0}},
		{"303 off-host", Exchange{Reached: true, Err: redirect(303)}, want{Rejected, false, 0}, want{Unknown, false, 0}},
		{"200", Exchange{Reached: true, Status: 200}, want{}, want{}},
		{"400", Exchange{Reached: true, Status: 400}, want{}, want{}},
		{"401", Exchange{Reached: true, Status: 401}, want{}, want{}},
		{"501", Exchange{Reached: true, Status: 501}, want{}, want{}},
	} {
		for _, c := range []struct {
			creates bool
			want    want
		}{{false, tt.idem}, {true, tt.creates}} {
			x := tt.x
			x.Creates, x.Now = c.creates, now
			e := HTTPOutcome("op", x)
			if c.want.kind == Other {
				if e != nil {
					t.Errorf("%s (creates %v): %v, want nil (the envelope decides)", tt.name, c.creates, e)
				}
				continue
			}
			if e == nil {
				t.Errorf("%s (creates %v): nil, want %v", tt.name, c.creates, c.want.kind)
				continue
			}
			if e.Kind != c.want.kind || e.SafeToRetry != c.want.safe || e.RetryAfter != c.want.after {
				t.Errorf("%s (creates %v): %v safe %v after %v; want %v safe %v after %v (%v)", tt.name, c.creates,
					e.Kind, e.SafeToRetry, e.RetryAfter, c.want.kind, c.want.safe, c.want.after, e)
			}
		}
	}
}

// TestGuardRedirects: a redirect to another port of the same host (which Go
// would send Authorization to), to another host, or from https to http
// carries nothing there; one within the origin is followed; a credential-
// free download may follow a CDN's redirect elsewhere.
func TestGuardRedirects(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.URL.String()+"|"+r.Header.Get("Authorization")+"|"+r.Header.Get("ous-token-v2")+"|"+string(b))
		mu.Unlock()
	}))
	defer other.Close()
	var home *httptest.Server
	home = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/stolen?"+r.URL.RawQuery, http.StatusTemporaryRedirect)
		case "/here":
			http.Redirect(w, r, home.URL+"/ok", http.StatusTemporaryRedirect)
		case "/ok":
			io.WriteString(w, "ok")
		}
	}))
	defer home.Close()
	tlsHome := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, home.URL+"/ok", http.StatusFound)
	}))
	defer tlsHome.Close()
	hc := GuardRedirects(tlsHome.Client(), nil)

	post := func(ctx context.Context, u string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader("app_secret=S3CRET"))
		req.Header.Set("Authorization", "TOKEN")
		req.Header.Set("ous-token-v2", "OUS")
		return hc.Do(req)
	}
	_, err := post(context.Background(), home.URL+"/away?sign=SIG")
	var re *RedirectError
	if !errors.As(err, &re) || re.Status != 307 || KindOf(err) != Rejected || strings.Contains(re.Error(), "SIG") {
		t.Errorf("off-host redirect: %v", err)
	}
	resp, err := post(context.Background(), home.URL+"/here")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("same-origin redirect: %v %v", resp, err)
	}
	if _, err := post(WithoutCredentials(context.Background()), tlsHome.URL); !errors.As(err, &re) || !strings.Contains(err.Error(), "HTTPS") {
		t.Errorf("https→http: %v", err)
	}
	mu.Lock()
	if len(seen) != 0 {
		t.Errorf("the other host received %q", seen)
	}
	mu.Unlock()
	req, _ := http.NewRequestWithContext(WithoutCredentials(context.Background()), http.MethodGet, home.URL+"/away", nil)
	if resp, err := hc.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("credential-free download not redirected: %v %v", resp, err)
	}
}

// TestHostileSlowCertificate: an untrusted certificate is retried (an
// operator may fix the CA bundle) but the message says what it is.
func TestHostileSlowCertificate(t *testing.T) {
	err := fmt.Errorf("Post /x: %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}})
	e := HTTPOutcome("op", Exchange{Err: err, Reached: true})
	if e == nil || e.Kind != Transient || !strings.Contains(e.Error(), "TLS certificate problem") {
		t.Errorf("untrusted certificate: %v, want Transient naming the certificate", e)
	}
	e = HTTPOutcome("op", Exchange{Err: &SchemeError{Scheme: "file"}})
	if e == nil || e.Kind != Rejected || !strings.Contains(e.Error(), `"file"`) {
		t.Errorf("file:// URL: %v, want Rejected naming the scheme", e)
	}
}
