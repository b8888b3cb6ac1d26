package vendors

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRedirectDropsReferer: a followed redirect never tells the next host
// where the client came from: the previous URL may be signed (an asset's
// address with its signature in the query).
func TestRedirectDropsReferer(t *testing.T) {
	got := make(chan string, 2)
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Referer")
	}))
	defer cdn.Close()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, cdn.URL+"/asset", http.StatusFound)
	}))
	defer origin.Close()
	req, _ := http.NewRequestWithContext(WithoutCredentials(context.Background()), http.MethodGet, origin.URL+"/a.ply?Signature=SIG", nil)
	resp, err := GuardRedirects(origin.Client(), nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ref := <-got; ref != "" {
		t.Errorf("the redirect's target received Referer %q", ref)
	}
}

func TestCheckLink(t *testing.T) {
	for _, ok := range []string{"https://realsee.cn/abc", "https://cdn.example.com:8443/a.ply?sig=x", "http://127.0.0.1:8080/a", "http://localhost/a", "http://[::1]:9/a"} {
		if err := CheckLink("vr_url", ok); err != nil {
			t.Errorf("CheckLink(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "javascript:alert(1)", "JavaScript://%0aalert(1)", "file:///etc/passwd", "data:text/html,x",
		"http://realsee.cn/a", "http://127.0.0.2.nip.io/a", "//realsee.cn/a", "/relative", "https://u:p@realsee.cn/",
		"https://realsee.cn/a b", "https://realsee.cn/\u202e", "https://realsee.cn/a\n", "ftp://realsee.cn/a",
		"https://realsee.cn/" + strings.Repeat("a", MaxLinkBytes)} {
		err := CheckLink("vr_url", bad)
		if KindOf(err) != Rejected || !strings.Contains(err.Error(), "vr_url") || len(err.Error()) > 512 {
			t.Errorf("CheckLink(%.60q) = %v, want a short Rejected error naming vr_url", bad, err)
		}
	}
}

func TestCheckID(t *testing.T) {
	for _, ok := range []string{"3FO4K2", "pano-abc_DEF.1:2", strings.Repeat("a", MaxIDBytes)} {
		if err := CheckID("task_code", ok); err != nil {
			t.Errorf("CheckID(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "..", "../../etc/passwd", "a/b", `a\b`, "a b", "x\u202egnp.exe", "a\x00", "é", "a..b", strings.Repeat("a", MaxIDBytes+1)} {
		err := CheckID("task_code", bad)
		if KindOf(err) != Rejected || !strings.Contains(err.Error(), "task_code") || strings.ContainsRune(err.Error(), '\u202e') {
			t.Errorf("CheckID(%q) = %v, want Rejected naming task_code, escaped", bad, err)
		}
	}
}

func TestCheckCredentialEndpoint(t *testing.T) {
	for _, c := range []struct {
		scheme, host string
		ok           bool
	}{
		{"https", "bucket.cos.example.com", true},
		{"http", "127.0.0.1:9000", true},
		{"http", "localhost:9000", true},
		{"http", "[::1]:9000", true},
		{"http", "bucket.cos.example.com", false},
		{"http", "10.0.0.5:9000", false},
		{"http", "127.0.0.1.example.com", false},
		{"ftp", "127.0.0.1", false},
	} {
		err := CheckCredentialEndpoint("the upload endpoint", c.scheme, c.host)
		if (err == nil) != c.ok || (err != nil && (KindOf(err) != Rejected || !strings.Contains(err.Error(), c.host))) {
			t.Errorf("%s://%s: %v, want ok=%v (Rejected naming the host)", c.scheme, c.host, err, c.ok)
		}
	}
}

func TestCheckHostPort(t *testing.T) {
	for _, h := range []string{"oss.example.com", "bucket.oss.example.com:8443", "127.0.0.1:9000", "[::1]:9000"} {
		if err := CheckHostPort("host", h); err != nil {
			t.Errorf("%q refused: %v", h, err)
		}
	}
	for _, h := range []string{"", "127.0.0.2:8443/x?y=1#", "a@b", "h/evil", "h?x", "h#f", "h:", "h x", `h\x`} {
		err := CheckHostPort("host", h)
		if err == nil || KindOf(err) != Rejected {
			t.Errorf("%q: %v, want a Rejected error", h, err)
		}
	}
}
