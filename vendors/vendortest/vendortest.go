// Package vendortest is the conformance suite every vendor passes against
// its fake server, in the manner of testing/fstest.TestFS: one set of
// checks of the contracts written on vendors.Vendor and vendors.Job —
// happy path, transparent auth renewal, transient failures, vendor-side task
// failure, and resuming at every stage with a fresh Job after a restart
// without creating a second task or re-sending uploaded bytes.
package vendortest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors"
)

// Fake is what the suite needs of a vendor's fake server.
type Fake interface {
	// ExpireAuth makes every auth token the vendor holds now (access
	// tokens, upload tokens) expired, so that its next use is refused the
	// way the real service refuses it.
	ExpireAuth()
	// FailNext makes the next n API requests answer HTTP 503 with the
	// vendor's error envelope, before doing anything.
	FailNext(n int)
	// FailTasks makes tasks created from now on end Failed.
	FailTasks(fail bool)
	// Creates is the number of tasks created (successful submits) so far.
	Creates() int
}

// ByteCounter is an optional Fake capability: the number of upload bytes the
// fake received. With it the suite checks that a finished Upload, repeated,
// sends nothing.
type ByteCounter interface {
	BytesReceived() int64
}

// Harness sets up one vendor against a fresh fake.
type Harness struct {
	// Setup starts a fake and returns a vendor pointed at it and a folder
	// holding a valid drop. It registers its own cleanup with t.
	Setup func(t *testing.T) (v vendors.Vendor, f Fake, dropDir string)
	// Timeout bounds each subtest. Default 2 minutes.
	Timeout time.Duration
	// MaxPolls bounds the polls waiting for a task to end. Default 200.
	MaxPolls int
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	if h.Timeout <= 0 {
		h.Timeout = 2 * time.Minute
	}
	if h.MaxPolls <= 0 {
		h.MaxPolls = 200
	}
	t.Run("HappyPath", func(t *testing.T) { happyPath(t, h) })
	t.Run("AuthExpiry", func(t *testing.T) { authExpiry(t, h) })
	t.Run("Transient", func(t *testing.T) { transient(t, h) })
	t.Run("VendorFailure", func(t *testing.T) { vendorFailure(t, h) })
	for _, stage := range []Stage{AfterPackage, AfterUpload, AfterSubmit} {
		t.Run("ResumeAfter"+stage.String(), func(t *testing.T) { resume(t, h, stage) })
	}
}

// Stage is a point of a job's life where the pipeline journals and may
// restart.
type Stage int

const (
	Opened Stage = iota
	AfterPackage
	AfterUpload
	AfterSubmit
)

func (s Stage) String() string {
	return [...]string{"Open", "Package", "Upload", "Submit"}[s]
}

// Driver is one job being driven as the pipeline drives it.
type Driver struct {
	T     testing.TB
	Ctx   context.Context
	V     vendors.Vendor
	Dir   string
	J     *MemJournal
	Job   vendors.Job
	IDs   vendors.IDs
	Prog  *ProgressRecorder
	Polls int
}

// NewDriver opens dir with v and a fresh journal.
func NewDriver(ctx context.Context, t testing.TB, v vendors.Vendor, dir string) *Driver {
	r := &Driver{T: t, Ctx: ctx, V: v, Dir: dir, J: NewMemJournal(), Prog: &ProgressRecorder{}}
	r.Reopen()
	return r
}

// Reopen replaces the Job by a new one from Open on the same folder, as
// after a restart; the journal and the recorded IDs are kept.
func (r *Driver) Reopen() {
	r.T.Helper()
	job, err := r.V.Open(r.Ctx, r.Dir)
	if err != nil {
		r.T.Fatalf("Open(%s): %v", r.Dir, err)
	}
	r.Job = job
}

// To drives the job from where it is through stage to. Each step must
// succeed at the first try.
func (r *Driver) To(from, to Stage) {
	r.T.Helper()
	if from < AfterPackage && to >= AfterPackage {
		if err := r.Job.Package(r.Ctx, r.J); err != nil {
			r.T.Fatalf("Package: %v", err)
		}
	}
	if from < AfterUpload && to >= AfterUpload {
		if err := r.Job.Upload(r.Ctx, r.J, r.Prog); err != nil {
			r.T.Fatalf("Upload: %v", err)
		}
		r.Prog.Check(r.T)
	}
	if from < AfterSubmit && to >= AfterSubmit {
		ids, err := r.Job.Submit(r.Ctx, r.J)
		if err != nil {
			r.T.Fatalf("Submit: %v (kind %v, safe to retry %v)", err, vendors.KindOf(err), vendors.SafeToRetry(err))
		}
		if len(ids) == 0 {
			r.T.Fatal("Submit returned no ids")
		}
		r.IDs = ids
	}
}

// Wait polls until the task ends, at most maxPolls times, failing the test
// on an error or when the context ends first. Fakes progress per poll, so no
// time passes between polls.
func (r *Driver) Wait(maxPolls int) vendors.Status {
	r.T.Helper()
	for range maxPolls {
		if err := r.Ctx.Err(); err != nil {
			r.T.Fatalf("waiting for the task: %v after %d polls", err, r.Polls)
		}
		st, err := r.Job.Poll(r.Ctx, r.IDs)
		r.Polls++
		if err != nil {
			r.T.Fatalf("Poll: %v (kind %v)", err, vendors.KindOf(err))
		}
		if st.State != vendors.Running {
			return st
		}
	}
	r.T.Fatalf("task still running after %d polls", maxPolls)
	return vendors.Status{}
}

func setup(t *testing.T, h Harness) (vendors.Vendor, Fake, string, context.Context) {
	t.Helper()
	v, f, dir := h.Setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	t.Cleanup(cancel)
	return v, f, dir, ctx
}

func checkSuccess(t *testing.T, r *Driver, st vendors.Status) {
	t.Helper()
	if st.State != vendors.Succeeded {
		t.Fatalf("task ended %v (%s), want success", st.State, st.Detail)
	}
	if st.VRURL == "" && len(st.Assets) == 0 {
		t.Errorf("a successful task has neither a VR URL nor assets: %+v", st)
	}
	for k, u := range st.Assets {
		if u == "" {
			t.Errorf("asset %q has an empty link", k)
		}
	}
	if fin, ok := r.Job.(vendors.Finisher); ok {
		for i := range 2 { // Finish must be idempotent
			if err := fin.Finish(r.Ctx, r.J, &st); err != nil {
				t.Fatalf("Finish #%d: %v", i+1, err)
			}
		}
	}
}

func checkCreates(t *testing.T, f Fake, want int) {
	t.Helper()
	if got := f.Creates(); got != want {
		t.Errorf("the fake created %d tasks, want %d", got, want)
	}
}

func happyPath(t *testing.T, h Harness) {
	v, f, dir, ctx := setup(t, h)
	if v.Name() == "" || v.Marker() == "" {
		t.Errorf("Name %q, Marker %q: both must be set", v.Name(), v.Marker())
	}
	r := NewDriver(ctx, t, v, dir)
	r.To(Opened, AfterSubmit)
	checkSuccess(t, r, r.Wait(h.MaxPolls))
	checkCreates(t, f, 1)
	if r.Prog.Calls() > 0 && !r.Prog.Complete() {
		done, total := r.Prog.Last()
		t.Errorf("progress ended at %d of %d bytes", done, total)
	}
}

func authExpiry(t *testing.T, h Harness) {
	v, f, dir, ctx := setup(t, h)
	r := NewDriver(ctx, t, v, dir)
	r.To(Opened, AfterPackage)
	f.ExpireAuth()
	r.To(AfterPackage, AfterUpload)
	r.To(AfterUpload, AfterSubmit)
	f.ExpireAuth()
	st, err := r.Job.Poll(ctx, r.IDs)
	if err != nil {
		t.Fatalf("Poll after the auth expired: %v", err)
	}
	if st.State == vendors.Running {
		f.ExpireAuth()
		st = r.Wait(h.MaxPolls)
	}
	checkSuccess(t, r, st)
	checkCreates(t, f, 1)
}

// retry calls op until it succeeds; every failure must be Transient.
func retry(t *testing.T, what string, op func() error) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil {
			return
		}
		if k := vendors.KindOf(err); k != vendors.Transient {
			t.Fatalf("%s after injected 503s: %v: kind %v, want transient", what, err, k)
		}
		if attempt == 5 {
			t.Fatalf("%s still failing after %d attempts: %v", what, attempt, err)
		}
	}
}

func transient(t *testing.T, h Harness) {
	v, f, dir, ctx := setup(t, h)
	r := NewDriver(ctx, t, v, dir)
	r.To(Opened, AfterPackage)

	f.FailNext(2)
	retry(t, "Upload", func() error { return r.Job.Upload(ctx, r.J, r.Prog) })

	f.FailNext(2)
	for attempt := 1; ; attempt++ {
		ids, err := r.Job.Submit(ctx, r.J)
		if err == nil {
			r.IDs = ids
			break
		}
		if k := vendors.KindOf(err); k != vendors.Transient || !vendors.SafeToRetry(err) {
			t.Fatalf("Submit answered 503: %v: kind %v, safe to retry %v; want transient and safe to retry (the service refused before doing anything)",
				err, k, vendors.SafeToRetry(err))
		}
		if attempt == 5 {
			t.Fatalf("Submit still failing after %d attempts: %v", attempt, err)
		}
	}

	f.FailNext(2)
	var st vendors.Status
	retry(t, "Poll", func() error {
		var err error
		st, err = r.Job.Poll(ctx, r.IDs)
		return err
	})
	if st.State == vendors.Running {
		st = r.Wait(h.MaxPolls)
	}
	checkSuccess(t, r, st)
	checkCreates(t, f, 1)
}

func vendorFailure(t *testing.T, h Harness) {
	v, f, dir, ctx := setup(t, h)
	f.FailTasks(true)
	r := NewDriver(ctx, t, v, dir)
	r.To(Opened, AfterSubmit)
	st := r.Wait(h.MaxPolls)
	if st.State != vendors.Failed {
		t.Fatalf("task ended %v (%s), want failed", st.State, st.Detail)
	}
	checkCreates(t, f, 1)
}

func resume(t *testing.T, h Harness, stage Stage) {
	v, f, dir, ctx := setup(t, h)
	r := NewDriver(ctx, t, v, dir)
	r.To(Opened, stage)
	r.J.RoundTrip(t) // what a restart reads back is what was written
	r.Reopen()

	bc, counts := f.(ByteCounter)
	var before int64
	if counts {
		before = bc.BytesReceived()
	}
	// The pipeline re-runs the stage it has not journaled as done; running
	// the finished ones again must be harmless, so do that too.
	if stage <= AfterUpload {
		if err := r.Job.Package(ctx, r.J); err != nil {
			t.Fatalf("Package after restart: %v", err)
		}
		if err := r.Job.Upload(ctx, r.J, r.Prog); err != nil {
			t.Fatalf("Upload after restart: %v", err)
		}
		if stage == AfterUpload && counts {
			if d := bc.BytesReceived() - before; d != 0 {
				t.Errorf("Upload after a finished Upload re-sent %d bytes, want 0", d)
			}
		}
		r.To(AfterUpload, AfterSubmit)
	}
	st := r.Wait(h.MaxPolls)
	checkSuccess(t, r, st)
	checkCreates(t, f, 1)
}

// MemJournal is an in-memory vendors.Journal that stores values as JSON, so
// that what a vendor reads back has the types it would have from disk.
type MemJournal struct {
	mu     sync.Mutex
	m      map[string]json.RawMessage
	stores int
}

var _ vendors.Journal = (*MemJournal)(nil)

// NewMemJournal returns an empty journal.
func NewMemJournal() *MemJournal { return &MemJournal{m: map[string]json.RawMessage{}} }

// Load decodes the value under key into v.
func (j *MemJournal) Load(key string, v any) (bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	b, ok := j.m[key]
	if !ok {
		return false, nil
	}
	return true, json.Unmarshal(b, v)
}

// Store records v under key.
func (j *MemJournal) Store(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.m[key] = b
	j.stores++
	return nil
}

// Keys lists the keys stored so far.
func (j *MemJournal) Keys() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Sorted(maps.Keys(j.m))
}

// Stores is the number of Store calls so far.
func (j *MemJournal) Stores() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stores
}

// RoundTrip checks that every stored value is valid JSON that re-encodes to
// itself, as a journal file on disk would need.
func (j *MemJournal) RoundTrip(t testing.TB) {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	for k, b := range j.m {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("journal %q: %v", k, err)
		}
	}
}

// ProgressRecorder is a vendors.Progress that checks every report.
type ProgressRecorder struct {
	mu          sync.Mutex
	calls       int
	done, total int64
	bad         []string
}

// Uploaded records a report.
func (p *ProgressRecorder) Uploaded(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	p.done, p.total = done, total
	if done < 0 || done > total {
		p.bad = append(p.bad, fmt.Sprintf("%d of %d", done, total))
	}
}

// Calls is the number of reports.
func (p *ProgressRecorder) Calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// Last is the last report.
func (p *ProgressRecorder) Last() (done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done, p.total
}

// Complete reports whether the last report said done == total.
func (p *ProgressRecorder) Complete() bool {
	d, tot := p.Last()
	return d == tot
}

// Check fails t if a report was out of range.
func (p *ProgressRecorder) Check(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.bad) > 0 {
		t.Errorf("progress out of range: %v", p.bad)
	}
}
