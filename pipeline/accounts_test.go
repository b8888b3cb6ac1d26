package pipeline

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors"
)

// acctVendor is one account's client of a fake vendor: it counts the
// calls made through it.
type acctVendor struct {
	submits, polls atomic.Int32
	poll           func(ctx context.Context) (vendors.Status, error)
}

func (v *acctVendor) Name() string                                                    { return "fake" }
func (v *acctVendor) Marker() string                                                  { return "fake.marker" }
func (v *acctVendor) Open(context.Context, string) (vendors.Job, error)               { return v, nil }
func (v *acctVendor) Package(context.Context, vendors.Journal) error                  { return nil }
func (v *acctVendor) Upload(context.Context, vendors.Journal, vendors.Progress) error { return nil }
func (v *acctVendor) Submit(context.Context, vendors.Journal) (vendors.IDs, error) {
	v.submits.Add(1)
	return vendors.IDs{"task": "t-1"}, nil
}
func (v *acctVendor) Poll(ctx context.Context, _ vendors.IDs) (vendors.Status, error) {
	v.polls.Add(1)
	if v.poll != nil {
		return v.poll(ctx)
	}
	return vendors.Status{State: vendors.Succeeded}, nil
}

func acctPipeline(def *acctVendor, accounts map[string]Account, watchAccounts map[string]string) *Pipeline {
	fast := map[string]VendorSettings{"fake": {PollInterval: time.Millisecond, Timeout: time.Minute}}
	for name, a := range accounts {
		a.Settings = fast
		accounts[name] = a
	}
	return New(Options{
		Vendors: []vendors.Vendor{def}, Settings: fast,
		Accounts: accounts, WatchAccounts: watchAccounts,
		Markers: map[string]string{"fake.marker": "fake"},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

// acctJob makes <root>/processing/<name> with a marker.
func acctJob(t *testing.T, root, name string) string {
	dir := filepath.Join(root, Processing, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "fake.marker"), nil, 0o644)
	return dir
}

// A job uses the client of its watch's account, and says so in its
// result; a job of a watch without one uses the default's.
func TestAccountsPickTheWatchsClient(t *testing.T) {
	def, acme := &acctVendor{}, &acctVendor{}
	base := t.TempDir()
	acmeRoot, ownRoot := filepath.Join(base, "acme"), filepath.Join(base, "own")
	p := acctPipeline(def, map[string]Account{"acme": {Vendors: []vendors.Vendor{acme}}}, map[string]string{acmeRoot: "acme"})

	res, err := p.Process(context.Background(), acctJob(t, acmeRoot, "a"), false)
	if err != nil || !res.Success() || res.Account != "acme" {
		t.Fatalf("acme's job: %+v %v", res, err)
	}
	if acme.submits.Load() != 1 || def.submits.Load() != 0 {
		t.Fatalf("submits: acme %d, default %d; want 1, 0", acme.submits.Load(), def.submits.Load())
	}
	res, err = p.Process(context.Background(), acctJob(t, ownRoot, "o"), false)
	if err != nil || !res.Success() || res.Account != "" {
		t.Fatalf("the default's job: %+v %v", res, err)
	}
	if acme.submits.Load() != 1 || def.submits.Load() != 1 {
		t.Fatalf("submits: acme %d, default %d; want 1, 1", acme.submits.Load(), def.submits.Load())
	}
	b, _ := os.ReadFile(filepath.Join(ownRoot, Processing, "o", ResultFile))
	if strings.Contains(string(b), `"account"`) {
		t.Errorf("the default's result.json names an account:\n%s", b)
	}
}

// A drop for a vendor the account lacks fails as a configuration error
// naming the account and the section to add.
func TestAccountsMissingVendorFailsTheJob(t *testing.T) {
	root := filepath.Join(t.TempDir(), "bare")
	p := acctPipeline(&acctVendor{}, map[string]Account{"bare": {}}, map[string]string{root: "bare"})
	res, err := p.Process(context.Background(), acctJob(t, root, "x"), false)
	if err != nil || res.Success() {
		t.Fatalf("%+v %v", res, err)
	}
	if res.Error.Kind != "config" || !strings.Contains(res.Error.Message, `fake drops need a fake: section in account "bare"`) || !strings.Contains(res.Error.Fix, "account bare") {
		t.Errorf("error: %+v", res.Error)
	}
}

// Once a task exists, the job keeps the account that has it: a watch moved
// to another account (or none) while the job waited still polls the task
// where it is.
func TestAccountsResumeKeepsTheTasksAccount(t *testing.T) {
	root := filepath.Join(t.TempDir(), "acme")
	ctx, stop := context.WithCancel(context.Background())
	acme := &acctVendor{poll: func(context.Context) (vendors.Status, error) {
		stop() // the daemon stops while the task runs
		return vendors.Status{State: vendors.Running}, nil
	}}
	dir := acctJob(t, root, "a")
	p := acctPipeline(&acctVendor{}, map[string]Account{"acme": {Vendors: []vendors.Vendor{acme}}}, map[string]string{root: "acme"})
	if res, err := p.Process(ctx, dir, false); res != nil || err == nil {
		t.Fatalf("the stopped job: %+v %v", res, err)
	}

	acme.poll = nil
	def := &acctVendor{}
	// Restarted with the watch no longer naming acme.
	p = acctPipeline(def, map[string]Account{"acme": {Vendors: []vendors.Vendor{acme}}}, nil)
	res, err := p.Process(context.Background(), dir, false)
	if err != nil || !res.Success() || res.Account != "acme" {
		t.Fatalf("resumed: %+v %v", res, err)
	}
	if def.polls.Load() != 0 || def.submits.Load() != 0 || acme.submits.Load() != 1 {
		t.Errorf("default polls %d submits %d, acme submits %d: want 0, 0, 1", def.polls.Load(), def.submits.Load(), acme.submits.Load())
	}
}
