package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scandrop/scandrop/vendors"
)

// bindVendor is an acctVendor whose upload can be made to stop the daemon.
type bindVendor struct {
	*acctVendor
	upload func(ctx context.Context) error
}

func (v *bindVendor) Open(context.Context, string) (vendors.Job, error) { return v, nil }
func (v *bindVendor) Upload(ctx context.Context, _ vendors.Journal, _ vendors.Progress) error {
	if v.upload != nil {
		return v.upload(ctx)
	}
	return nil
}

// A job is its watch's account's from its first claim: stopped after its
// upload to beta, before any submit, and resumed after the watch was
// moved to another account, it submits with beta's client, never the new
// one's (which would hand beta's upload to another customer).
func TestAccountsBoundFromTheFirstClaim(t *testing.T) {
	root := filepath.Join(t.TempDir(), "wB")
	ctx, stop := context.WithCancel(context.Background())
	beta := &bindVendor{acctVendor: &acctVendor{}, upload: func(context.Context) error { stop(); return context.Canceled }}
	alpha := &bindVendor{acctVendor: &acctVendor{}}
	accounts := func() map[string]Account {
		return map[string]Account{"beta": {Vendors: []vendors.Vendor{beta}}, "alpha": {Vendors: []vendors.Vendor{alpha}}}
	}
	dir := acctJob(t, root, "b1")
	p := acctPipeline(&acctVendor{}, accounts(), map[string]string{root: "beta"})
	if res, err := p.Process(ctx, dir, false); res != nil || err == nil {
		t.Fatalf("the stopped job: %+v %v", res, err)
	}
	beta.upload = nil
	for _, watch := range []string{"alpha", ""} {
		def := &acctVendor{}
		wa := map[string]string{root: watch}
		if watch == "" {
			wa = nil
		}
		p = acctPipeline(def, accounts(), wa)
		res, err := p.Process(context.Background(), dir, false)
		if err != nil || !res.Success() || res.Account != "beta" {
			t.Fatalf("watch now %q: resumed: %+v %v", watch, res, err)
		}
		if def.submits.Load()+alpha.submits.Load() != 0 {
			t.Fatalf("watch now %q: submitted under another account (default %d, alpha %d)", watch, def.submits.Load(), alpha.submits.Load())
		}
	}
	if beta.submits.Load() != 1 {
		t.Errorf("beta submits %d, want 1", beta.submits.Load())
	}
}

// A job whose account is gone from config.yaml fails "config" naming the
// account and how to start it under the watch's account; a plain retry
// fails the same way (the job stays bound), never moving to another
// account.
func TestAccountsGoneFailsConfigAndStaysBound(t *testing.T) {
	root := filepath.Join(t.TempDir(), "wB")
	ctx, stop := context.WithCancel(context.Background())
	beta := &bindVendor{acctVendor: &acctVendor{}, upload: func(context.Context) error { stop(); return context.Canceled }}
	dir := acctJob(t, root, "b1")
	p := acctPipeline(&acctVendor{}, map[string]Account{"beta": {Vendors: []vendors.Vendor{beta}}}, map[string]string{root: "beta"})
	if res, err := p.Process(ctx, dir, false); res != nil || err == nil {
		t.Fatalf("the stopped job: %+v %v", res, err)
	}
	def, alpha := &acctVendor{}, &acctVendor{}
	p = acctPipeline(def, map[string]Account{"alpha": {Vendors: []vendors.Vendor{alpha}}}, map[string]string{root: "alpha"})
	for _, retry := range []bool{false, true} {
		res, err := p.Process(context.Background(), dir, retry)
		if err != nil || res.Success() {
			t.Fatalf("retry %v: %+v %v", retry, res, err)
		}
		if res.Error.Kind != "config" || !strings.Contains(res.Error.Message, `account "beta"`) || !strings.Contains(res.Error.Fix, "retry --fresh b1") || res.Account != "beta" {
			t.Errorf("retry %v: error %+v, account %q", retry, res.Error, res.Account)
		}
	}
	if def.submits.Load()+alpha.submits.Load() != 0 {
		t.Errorf("submitted under another account (default %d, alpha %d)", def.submits.Load(), alpha.submits.Load())
	}
}

// KeepsTask is the one rule: a task the vendor did not end is checked
// again.
func TestKeepsTask(t *testing.T) {
	ids := vendors.IDs{"task": "t"}
	for kind, want := range map[string]bool{
		"auth": true, "transient": true, "timeout": true, KindCrash: true, "config": true, "unknown_outcome": true, "internal": true,
		"vendor_failed": false, "rejected": false, "invalid": false,
	} {
		res := &Result{Status: "failed", Error: &ResultError{Kind: kind}}
		if got := KeepsTask(res, ids); got != want {
			t.Errorf("%s: KeepsTask %v, want %v", kind, got, want)
		}
		if KeepsTask(res, nil) {
			t.Errorf("%s: keeps a task without ids", kind)
		}
	}
	if KeepsTask(&Result{Status: "done"}, ids) {
		t.Error("a done job keeps its task")
	}
}

// A job that failed auth while waiting on its task checks that task again
// when retried, rather than submitting (and paying for) another.
func TestRetryAfterAuthChecksTheSameTask(t *testing.T) {
	root := filepath.Join(t.TempDir(), "w")
	v := &acctVendor{poll: func(context.Context) (vendors.Status, error) {
		return vendors.Status{}, vendors.E(vendors.Auth, "fake: status", nil)
	}}
	p := acctPipeline(v, nil, nil)
	dir := acctJob(t, root, "j")
	res, err := p.Process(context.Background(), dir, false)
	if err != nil || res.Success() || res.Error.Kind != "auth" {
		t.Fatalf("%+v %v", res, err)
	}
	v.poll = nil
	res, err = p.Process(context.Background(), dir, true)
	if err != nil || !res.Success() {
		t.Fatalf("retried: %+v %v", res, err)
	}
	if v.submits.Load() != 1 {
		t.Errorf("submits %d, want 1: the retry submitted a second task", v.submits.Load())
	}
}

// A folder is matched to its watch by what it is on disk: a path through a
// link to the watch, a watch configured through a link, or a link to the
// drop itself all find the watch's account.
func TestAccountsWatchFoundThroughLinks(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "acme")
	dir := acctJob(t, real, "a")
	if err := os.Symlink("acme", filepath.Join(base, "acmelink")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	os.Symlink(dir, filepath.Join(base, "droplink"))
	acme := map[string]Account{"acme": {Vendors: []vendors.Vendor{&acctVendor{}}}}
	for _, c := range []struct{ watch, folder string }{
		{real, filepath.Join(base, "acmelink", Processing, "a")},
		{filepath.Join(base, "acmelink"), dir},
		{real, filepath.Join(base, "droplink")},
	} {
		p := acctPipeline(&acctVendor{}, acme, map[string]string{c.watch: "acme"})
		if got := p.AccountOf(c.folder); got != "acme" {
			t.Errorf("watch %s, folder %s: account %q, want acme", c.watch, c.folder, got)
		}
	}
	p := acctPipeline(&acctVendor{}, acme, map[string]string{real: "acme"})
	if got := p.AccountOf(acctJob(t, filepath.Join(base, "other"), "o")); got != "" {
		t.Errorf("another watch's folder: account %q", got)
	}
}
