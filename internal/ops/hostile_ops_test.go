package ops

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Issue 12 class 7: the listener's token.

func TestServerToken(t *testing.T) {
	const token = "ops-listener-token-1234"
	s := &Server{Monitor: NewMonitor(nil, nil), Token: token,
		Report: func(context.Context) Report { return Report{} }}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	cases := []struct {
		name, path string
		auth       func(*http.Request)
		want       int
	}{
		{"healthz open", "/healthz", nil, 200},
		{"status without", "/status", nil, 401},
		{"page without", "/", nil, 401},
		{"metrics without", "/metrics", nil, 401},
		{"unknown route without", "/nope", nil, 401},
		{"wrong token", "/status", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token+"x") }, 401},
		{"prefix of the token", "/status", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token[:10]) }, 401},
		{"empty bearer", "/status", func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }, 401},
		{"token without scheme", "/status", func(r *http.Request) { r.Header.Set("Authorization", token) }, 401},
		{"basic, wrong password", "/", func(r *http.Request) { r.SetBasicAuth(token, "x") }, 401},
		{"bearer status", "/status", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }, 200},
		{"bearer, scheme in lower case", "/metrics", func(r *http.Request) { r.Header.Set("Authorization", "bearer "+token) }, 200},
		{"bearer page", "/", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }, 200},
		{"basic page (browsers)", "/", func(r *http.Request) { r.SetBasicAuth("anyone", token) }, 200},
		{"bearer unknown route", "/nope", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }, 404},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
		if tc.auth != nil {
			tc.auth(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: GET %s = %d, want %d", tc.name, tc.path, resp.StatusCode, tc.want)
		}
		if resp.StatusCode == 401 {
			if ch := resp.Header.Values("WWW-Authenticate"); len(ch) != 2 || !strings.HasPrefix(ch[0], "Bearer") {
				t.Errorf("%s: WWW-Authenticate %q", tc.name, ch)
			}
			if strings.Contains(string(body), token) {
				t.Errorf("%s: the 401 shows the token", tc.name)
			}
		}
	}

	// Without a token, as before: everything open.
	open := httptest.NewServer((&Server{Report: func(context.Context) Report { return Report{} }}).Handler())
	defer open.Close()
	if resp, err := http.Get(open.URL + "/status"); err != nil || resp.StatusCode != 200 {
		t.Errorf("no token: /status %v %v", resp.StatusCode, err)
	}
}
