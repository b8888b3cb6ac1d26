package vendortest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/faultproxy"
	"github.com/scandrop/scandrop/vendors"
)

// HTTPHarness runs one vendor through the hostile HTTP answers of
// RunHTTPFaults, with a faultproxy between the vendor and its API.
type HTTPHarness struct {
	// Setup starts a fake whose API the vendors reach through the
	// returned proxy, and returns: a function making a fresh vendor (no
	// token held yet), a valid drop, and the fake's count of created
	// tasks. Every vendor's clock must not really wait.
	Setup func(t *testing.T) (newVendor func() vendors.Vendor, p *faultproxy.Proxy, dir string, creates func() int)
	// TokenPath, SubmitPath and PollPath are the paths, as the proxy sees
	// them, of the call that fetches credentials during Upload (Realsee's
	// access token, Aholo's upload token), of the submit and of the poll.
	TokenPath, SubmitPath, PollPath string
}

// HTTPFault is one hostile answer and what every vendor must make of it,
// on a call that creates (submit) and on one that does not.
type HTTPFault struct {
	Name string
	Rule faultproxy.Rule // Match is set per call; Times 0: every attempt
	// Kind on an idempotent call and on a submit; SafeSubmit is the
	// submit's SafeToRetry; Forwarded says whether the fake saw the
	// request (and so whether a submit created a task).
	Kind, SubmitKind vendors.Kind
	SafeSubmit       bool
	Forwarded        bool
	// RetryAfter is the delay the error must carry.
	RetryAfter time.Duration
	// Message must appear in the error.
	Message string
}

// offHost marks a fault whose Location is filled in with the decoy's URL.
const offHost = "{offhost}"

// HTTPFaults is the table both vendors must agree on (vendors.HTTPOutcome).
var HTTPFaults = []HTTPFault{
	{Name: "429 Retry-After", Rule: faultproxy.Rule{Fault: faultproxy.Status, Status: 429, Header: http.Header{"Retry-After": {"1"}}},
		Kind: vendors.Transient, SubmitKind: vendors.Transient, SafeSubmit: true, RetryAfter: time.Second, Message: "429"},
	{Name: "503", Rule: faultproxy.Rule{Fault: faultproxy.Status, Status: 503},
		Kind: vendors.Transient, SubmitKind: vendors.Transient, SafeSubmit: true, Message: "503"},
	{Name: "500", Rule: faultproxy.Rule{Fault: faultproxy.Status, Status: 500},
		Kind: vendors.Transient, SubmitKind: vendors.Unknown, Message: "500"},
	{Name: "502", Rule: faultproxy.Rule{Fault: faultproxy.Status, Status: 502},
		Kind: vendors.Transient, SubmitKind: vendors.Unknown, Message: "502"},
	{Name: "504", Rule: faultproxy.Rule{Fault: faultproxy.Status, Status: 504},
		Kind: vendors.Transient, SubmitKind: vendors.Unknown, Message: "504"},
	{Name: "307 off-host", Rule: faultproxy.Rule{Fault: faultproxy.Status, Status: 307, Header: http.Header{"Location": {offHost}}},
		Kind: vendors.Rejected, SubmitKind: vendors.Rejected, SafeSubmit: true, Message: "redirect"},
	{Name: "303 off-host", Rule: faultproxy.Rule{Fault: faultproxy.Status, Status: 303, Header: http.Header{"Location": {offHost}}},
		Kind: vendors.Rejected, SubmitKind: vendors.Unknown, Message: "redirect"},
	{Name: "reset mid-body", Rule: faultproxy.Rule{Fault: faultproxy.ResetAnswer, After: 5},
		Kind: vendors.Transient, SubmitKind: vendors.Unknown, Forwarded: true, Message: "reading"},
}

// RunHTTPFaults checks every HTTPFault on the credentials call, the submit
// and the poll. A redirect's target (another loopback server) must never
// see a request.
func RunHTTPFaults(t *testing.T, h HTTPHarness) {
	for _, f := range HTTPFaults {
		for _, call := range []string{"token", "submit", "poll"} {
			t.Run(f.Name+"/"+call, func(t *testing.T) { httpFault(t, h, f, call) })
		}
	}
}

func httpFault(t *testing.T, h HTTPHarness, f HTTPFault, call string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	newVendor, p, dir, creates := h.Setup(t)

	var decoyMu sync.Mutex
	var decoySaw []string
	decoy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		decoyMu.Lock()
		decoySaw = append(decoySaw, r.Method+" "+r.URL.String()+" "+r.Header.Get("Authorization")+" "+string(b))
		decoyMu.Unlock()
		w.Write([]byte(`{"code":0,"c":"0","data":{},"d":{}}`))
	}))
	defer decoy.Close()

	rule := f.Rule
	if loc := rule.Header.Get("Location"); loc == offHost {
		rule.Header = http.Header{"Location": {decoy.URL + "/elsewhere"}}
	}
	path := map[string]string{"token": h.TokenPath, "submit": h.SubmitPath, "poll": h.PollPath}[call]
	rule.Match = faultproxy.Path(path)

	v := newVendor()
	job, err := v.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	j := NewMemJournal()
	if err := job.Package(ctx, j); err != nil {
		t.Fatal(err)
	}
	var got error
	wantKind := f.Kind
	before := creates()
	if call == "token" {
		p.Add(rule)
		got = job.Upload(ctx, j, nil)
	} else {
		if err := job.Upload(ctx, j, nil); err != nil {
			t.Fatal(err)
		}
		if call == "submit" {
			p.Add(rule)
			_, got = job.Submit(ctx, j)
			wantKind = f.SubmitKind
			if !f.Forwarded && creates() != before {
				t.Errorf("%d tasks created by a submit the fake never saw", creates()-before)
			}
			if vendors.SafeToRetry(got) != f.SafeSubmit {
				t.Errorf("SafeToRetry %v, want %v", vendors.SafeToRetry(got), f.SafeSubmit)
			}
		} else {
			ids, err := job.Submit(ctx, j)
			if err != nil {
				t.Fatal(err)
			}
			p.Add(rule)
			_, got = job.Poll(ctx, ids)
		}
	}
	if got == nil {
		t.Fatalf("no error through %s", f.Name)
	}
	if k := vendors.KindOf(got); k != wantKind {
		t.Errorf("kind %v, want %v: %v", k, wantKind, got)
	}
	if !strings.Contains(got.Error(), f.Message) {
		t.Errorf("error %q does not say %q", got, f.Message)
	}
	if ra := vendors.RetryAfterOf(got); ra != f.RetryAfter {
		t.Errorf("RetryAfter %v, want %v", ra, f.RetryAfter)
	}
	decoyMu.Lock()
	defer decoyMu.Unlock()
	if len(decoySaw) > 0 {
		t.Errorf("the redirect's target received %d requests: %q", len(decoySaw), decoySaw)
	}
}
