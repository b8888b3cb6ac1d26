//go:build linux

package main

// Hostile networks at the daemon level (issue 12, classes 2 and 11, and the
// shared HTTP outcome table): the real binary against the vendor fakes
// behind internal/testkit/faultproxy. A vendor endpoint that redirects an
// authenticated call to another host (another loopback server here) must
// not send it anything — no app_secret, no token, no signature — and the job
// must fail loudly; a 429 with Retry-After is waited out and creates one
// task; a lost answer to a create is an unknown outcome.

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/faultproxy"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// decoy is another loopback server that records whatever reaches it.
type decoy struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newDecoy(t *testing.T) *decoy {
	d := &decoy{}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		d.mu.Lock()
		d.seen = append(d.seen, r.Method+" "+r.URL.String()+" auth="+r.Header.Get("Authorization")+" ous="+r.Header.Get("ous-token-v2")+" body="+string(b))
		d.mu.Unlock()
		w.Write([]byte(`{"code":0,"c":"0","data":{"access_token":"x","expire_at":9999999999},"d":{}}`))
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *decoy) received() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.seen...)
}

func TestHostileHTTP(t *testing.T) {
	pano := smallJPEG(t, 64, 32, 1)
	photo := smallJPEG(t, 64, 48, 2)
	realseeDrop := withPano2("hall", pano)
	aholoDrop := withPhoto("name: chair\n", photo)

	const (
		rsToken  = "/auth/access_token"
		rsFile   = "/open/v1/pano/file/token"
		rsSubmit = "/open/v1/pano/task/submit"
		ahToken  = "/v2/aholo/upload/token"
		ahCreate = "/v2/aholo/project/create-3d-recon"
		ahPoll   = "/v2/aholo/project/task/list/by-ids"
	)
	type tcase struct {
		name   string
		vendor string // realsee | aholo
		path   string
		rule   faultproxy.Rule // Location "{decoy}" is replaced by the decoy's URL + path
		// want: "done", or the failed result's kind; msg must be in its message.
		want, msg string
		creates   int           // tasks the fake must hold at the end
		minWait   time.Duration // least time from the submit stage to the task (a Retry-After)
	}
	redirect := func(status int) faultproxy.Rule {
		return faultproxy.Rule{Fault: faultproxy.Status, Status: status, Header: http.Header{"Location": {"{decoy}"}}}
	}
	cases := []tcase{
		{name: "realsee token 301", vendor: "realsee", path: rsToken, rule: redirect(301), want: "rejected", msg: "redirect"},
		{name: "realsee token 302", vendor: "realsee", path: rsToken, rule: redirect(302), want: "rejected", msg: "redirect"},
		{name: "realsee token 307", vendor: "realsee", path: rsToken, rule: redirect(307), want: "rejected", msg: "redirect"},
		{name: "realsee token 308", vendor: "realsee", path: rsToken, rule: redirect(308), want: "rejected", msg: "redirect"},
		{name: "realsee file token 308", vendor: "realsee", path: rsFile, rule: redirect(308), want: "rejected", msg: "redirect"},
		{name: "realsee submit 307", vendor: "realsee", path: rsSubmit, rule: redirect(307), want: "rejected", msg: "redirect"},
		{name: "aholo token 307", vendor: "aholo", path: ahToken, rule: redirect(307), want: "rejected", msg: "redirect"},
		{name: "aholo create 308", vendor: "aholo", path: ahCreate, rule: redirect(308), want: "rejected", msg: "redirect"},
		{name: "aholo poll 302", vendor: "aholo", path: ahPoll, rule: redirect(302), want: "rejected", msg: "redirect", creates: 1},
		{name: "realsee submit 429 Retry-After", vendor: "realsee", path: rsSubmit, want: "done", creates: 1, minWait: 3 * time.Second,
			rule: faultproxy.Rule{Fault: faultproxy.Status, Status: 429, Times: 1, Header: http.Header{"Retry-After": {"3"}}}},
		{name: "aholo create 429 Retry-After", vendor: "aholo", path: ahCreate, want: "done", creates: 1, minWait: 3 * time.Second,
			rule: faultproxy.Rule{Fault: faultproxy.Status, Status: 429, Times: 1, Header: http.Header{"Retry-After": {"3"}}}},
		{name: "aholo poll 503", vendor: "aholo", path: ahPoll, want: "done", creates: 1,
			rule: faultproxy.Rule{Fault: faultproxy.Status, Status: 503, Times: 2}},
		{name: "realsee submit 502", vendor: "realsee", path: rsSubmit, want: "unknown_outcome", msg: "502",
			rule: faultproxy.Rule{Fault: faultproxy.Status, Status: 502, Times: 1}},
		{name: "aholo create reset mid-answer", vendor: "aholo", path: ahCreate, want: "unknown_outcome", creates: 1,
			rule: faultproxy.Rule{Fault: faultproxy.ResetAnswer, After: 3, Times: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := rigOptions{}
			drop := realseeDrop
			if tc.vendor == "realsee" {
				o.realsee, o.gatewayProxy = &realseetest.Options{}, true
			} else {
				o.aholo, o.aholoProxy = &aholotest.Options{}, true
				drop = aholoDrop
			}
			r := newRig(t, o)
			d := newDecoy(t)
			rule := tc.rule
			if rule.Header.Get("Location") == "{decoy}" {
				rule.Header = http.Header{"Location": {d.URL + tc.path}}
			}
			rule.Match = faultproxy.Path(tc.path)
			proxy, creates := r.gwProxy, func() int { return 0 }
			if tc.vendor == "realsee" {
				creates = func() int { return len(r.gw.Submits()) }
			} else {
				proxy, creates = r.ahProxy, r.ah.Creates
			}
			proxy.Add(rule)
			r.start()
			r.drop("job", drop)
			res, where := r.waitResult("job", 45*time.Second)

			if got := d.received(); len(got) > 0 {
				t.Errorf("the redirect's target received %d requests: %q", len(got), got)
			}
			if tc.want == "done" {
				if where != "done" || !res.Success() {
					t.Fatalf("landed in %s: %+v", where, res.Error)
				}
			} else {
				if where != "failed" || res.Error == nil || res.Error.Kind != tc.want || !strings.Contains(res.Error.Message, tc.msg) {
					t.Fatalf("landed in %s with %+v; want failed, kind %s, message with %q", where, res.Error, tc.want, tc.msg)
				}
			}
			if n := creates(); n != tc.creates {
				t.Errorf("%d tasks in the fake, want %d", n, tc.creates)
			}
			seen := r.logText()
			if res.Error != nil {
				seen += res.Error.Message
			}
			for _, secret := range []string{relRealseeSecret, relAholoSecret, "sign="} {
				if strings.Contains(seen, secret) {
					t.Errorf("%q appears in the log or result", secret)
				}
			}
			if tc.msg == "redirect" {
				if !hasLine(r, "ERROR", "redirect refused") {
					t.Errorf("no ERROR line names the refused redirect")
				}
			}
			if tc.minWait > 0 {
				var submitAt, createdAt time.Time
				for _, l := range r.logLines() {
					if l.Msg == "stage" && l.Stage == "submit" && submitAt.IsZero() {
						submitAt = l.Time
					}
					if l.Msg == "task created" {
						createdAt = l.Time
					}
				}
				if submitAt.IsZero() || createdAt.IsZero() || createdAt.Sub(submitAt) < tc.minWait-100*time.Millisecond {
					t.Errorf("submit at %v, task at %v: want at least %v between (Retry-After)", submitAt, createdAt, tc.minWait)
				}
			}
		})
	}
}

func hasLine(r *rig, level, text string) bool {
	for _, l := range r.logLines() {
		if l.Level == level && strings.Contains(l.Raw, text) {
			return true
		}
	}
	return false
}
