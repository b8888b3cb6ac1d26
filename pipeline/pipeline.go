// Package pipeline carries one claimed drop folder through its stages —
// validate, package, upload, submit, wait, finish — keeping a journal inside
// the folder so that a crash or restart resumes the job instead of
// repeating it, and never repeats a vendor submit whose outcome is unknown.
//
// It decides retry versus failure from the kind of each error: outages are
// retried with backoff until the vendor's timeout; a drop that is wrong, or
// a task the vendor failed, fails the job.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/scandrop/scandrop/internal/backoff"
	"github.com/scandrop/scandrop/internal/dropmark"
	"github.com/scandrop/scandrop/vendors"
)

// VendorSettings are the per-vendor waiting rules.
type VendorSettings struct {
	PollInterval time.Duration // between status polls; default DefaultPollInterval
	Timeout      time.Duration // give up on the vendor after this; default DefaultTimeout
}

// Defaults of the pipeline's settings: the one home of each (internal/config
// applies them; a vendor with longer tasks has its own DefaultTimeout).
const (
	DefaultPollInterval = 5 * time.Second
	DefaultTimeout      = 2 * time.Hour
	DefaultCrashLimit   = 3
)

// Account is a named set of vendor clients, each with its own
// credentials and caches.
type Account struct {
	Vendors  []vendors.Vendor
	Settings map[string]VendorSettings // by vendor name
}

// Options configure a Pipeline.
type Options struct {
	// Vendors that are configured for the default account. A drop whose
	// marker names a vendor that is not here fails with a configuration
	// error.
	Vendors  []vendors.Vendor
	Settings map[string]VendorSettings // by vendor name
	// Accounts are the named accounts, by name. A job uses the account
	// its watch names in WatchAccounts (by watch root: the folder holding
	// inbox/ and processing/), the default one otherwise.
	Accounts      map[string]Account
	WatchAccounts map[string]string
	// Markers of every vendor scandrop knows, configured or not, by marker
	// file name → vendor name, to tell an unconfigured vendor from no marker.
	Markers map[string]string
	Clock   vendors.Clock
	Logger  *slog.Logger
	// Backoff paces the retries of a stage after an outage, and the polls
	// after a failed one; the zero Policy means backoff.PipelinePolicy.
	// Its MaxHint is always vendors.MaxRetryAfter.
	Backoff backoff.Policy
	// Observer, if set, is told what jobs do.
	Observer Observer
	// Crash, if set, is called at named points of a job's life ("claimed",
	// "packaged", "journal:<key>", "submitted", "polled", "result"). Tests
	// of crash safety kill the process there; see cmd/scandrop.
	Crash func(point string)
	// CrashLimit is how many starts of a job may end abruptly at one stage
	// without the job getting further before it is quarantined in failed/
	// (kind "crash"); default DefaultCrashLimit.
	CrashLimit int
	// ClaimKey signs every journal this Pipeline writes, so that a journal
	// arriving in inbox/ is resumed only if this installation wrote it;
	// see LoadClaimKey. Default: a random key held in memory.
	ClaimKey []byte
}

// Pipeline runs jobs. It is safe for concurrent use.
type Pipeline struct {
	o Options
}

// New returns a Pipeline.
func New(o Options) *Pipeline {
	if o.Clock == nil {
		o.Clock = vendors.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Backoff == (backoff.Policy{}) {
		o.Backoff = backoff.PipelinePolicy
	}
	o.Backoff.MaxHint = vendors.MaxRetryAfter
	if o.Observer == nil {
		o.Observer = NopObserver{}
	}
	if o.Crash == nil {
		o.Crash = func(string) {}
	}
	if o.Markers == nil {
		o.Markers = map[string]string{}
	}
	if o.CrashLimit <= 0 {
		o.CrashLimit = DefaultCrashLimit
	}
	if len(o.ClaimKey) == 0 {
		o.ClaimKey = newClaimKey()
	}
	for _, v := range o.Vendors {
		o.Markers[v.Marker()] = v.Name()
	}
	return &Pipeline{o: o}
}

// openJournal opens the journal of dir, signing what it saves.
func (p *Pipeline) openJournal(dir string) (*Journal, error) {
	j, err := OpenJournal(dir)
	if err != nil {
		return nil, err
	}
	j.crash, j.key = p.o.Crash, p.o.ClaimKey
	return j, nil
}

// Process runs the job folder dir to its end and writes dir/result.json.
// It returns the result, or an error if it could not finish (the context
// ended, or the journal could not be written): the job then stays where it
// is and a later Process resumes it. A finished job (its result already
// written) is not run again unless retry is set: then a new attempt starts,
// keeping what is safe to keep (package checksums; the task ids of a task
// that timed out, which may still finish).
func (p *Pipeline) Process(ctx context.Context, dir string, retry bool) (*Result, error) {
	j, err := p.openJournal(dir)
	if err != nil {
		return nil, err
	}
	return p.process(ctx, j, dir, retry)
}

// process is Process with the job's journal already open (Handle opens it
// when it verifies a journal that arrived, so that what runs is what was
// verified, not what the folder holds a moment later).
func (p *Pipeline) process(ctx context.Context, j *Journal, dir string, retry bool) (*Result, error) {
	name := filepath.Base(dir)
	log := p.o.Logger.With("folder", name)
	rec := j.Record()
	if rec.Result != nil {
		if !retry {
			return rec.Result, nil
		}
		if err := j.Update(func(r *Record) { newAttempt(r) }); err != nil {
			return nil, err
		}
		log.Info("retrying a job that finished before", "attempt", j.Record().Attempt)
	}
	if rec.StartedAt.IsZero() || rec.Result != nil {
		now := p.o.Clock.Now().UTC()
		first := rec.StartedAt.IsZero()
		if err := j.Update(func(r *Record) {
			if first {
				// The job belongs to its watch's account from its first
				// claim on, for good: what it uploads and submits is that
				// customer's (see accountOf).
				r.Account = p.AccountOf(dir)
			}
			r.Folder, r.StartedAt, r.Claim = name, now, newClaim(dir, now)
			if r.Attempt == 0 {
				r.Attempt = 1
			}
		}); err != nil {
			return nil, err
		}
	} else {
		log.Info("resuming job", "stage", rec.Stage, "vendor", rec.Vendor, "tries", rec.Tries)
	}

	// Count this start before anything can go wrong: a job that makes the
	// daemon die at the same place every time must not stop all the others.
	if err := j.Update(func(r *Record) {
		r.Tries++
		if r.Claim == nil { // written before claims were recorded
			r.Claim = newClaim(dir, p.o.Clock.Now().UTC())
		}
	}); err != nil {
		return nil, err
	}
	var res *Result
	if rec = j.Record(); rec.Tries > p.o.CrashLimit {
		res = p.quarantine(rec)
	} else {
		acct := p.accountOf(dir, rec)
		if acct != "" {
			log = log.With("account", acct)
		}
		r := &run{p: p, j: j, dir: dir, name: name, log: log, vendorName: rec.Vendor, account: acct}
		res = r.run(ctx)
		r.endStage(res != nil && res.Success())
	}
	if res == nil { // stopped: leave it for a resume; a clean stop is no crash
		j.Update(func(r *Record) { r.Tries-- })
		return nil, ctx.Err()
	}
	rec = j.Record()
	res.Folder, res.Vendor, res.Account, res.StartedAt = name, rec.Vendor, rec.Account, rec.StartedAt
	res.FinishedAt = p.o.Clock.Now().UTC()
	if len(rec.IDs) > 0 {
		res.VendorIDs = rec.IDs
	}
	if err := writeResult(dir, res); err != nil {
		return nil, err
	}
	if err := j.Update(func(r *Record) { r.Result, r.Stage, r.StageAt = res, stageDone, res.FinishedAt }); err != nil {
		return nil, err
	}
	if err := adoptJob(dir); err != nil {
		log.Warn("could not give the job's files the drop folder's owner", "error", err)
	}
	if res.Success() {
		log.Info("job succeeded", "vendor", res.Vendor, "vr_url", res.VRURL, "assets", len(res.Assets))
	} else {
		log.Warn("job failed", "vendor", res.Vendor, "stage", res.Error.Stage, "kind", res.Error.Kind, "error", res.Error.Message)
	}
	p.o.Crash("result")
	return res, nil
}

// quarantine fails a job whose starts kept ending abruptly at one stage.
func (p *Pipeline) quarantine(rec Record) *Result {
	stage := rec.Reached
	if stage == "" {
		stage = StageValidate
	}
	p.o.Logger.Error("job quarantined: scandrop stopped abruptly again and again during it", "folder", rec.Folder, "stage", stage, "starts", rec.Tries-1)
	return &Result{Status: "failed", Error: &ResultError{
		Stage: stage, Kind: KindCrash, Retryable: true,
		Message: fmt.Sprintf("scandrop stopped abruptly %d times while this job was at stage %s, without the job getting any further (crash_limit: %d); the job was set aside so that the other jobs go on",
			rec.Tries-1, stage, p.o.CrashLimit),
		Fix: "look in scandrop's log and the system's (out of memory, a crash report) for what stopped it during this job; once dealt with, move the folder back to inbox/ to try again",
	}}
}

// KindCrash is the result kind of a quarantined job.
const KindCrash = "crash"

// stageOrder ranks the stages, to tell when a job got further.
var stageOrder = map[string]int{StageValidate: 1, StagePackage: 2, StageUpload: 3, StageSubmit: 4, StageWait: 5, StageFinish: 6}

// newAttempt resets a finished record for another try.
func newAttempt(r *Record) {
	// A task that may still exist is checked again rather than submitted
	// anew (KeepsTask).
	keepIDs := KeepsTask(r.Result, r.IDs)
	// Package checksums stay valid while the files are unchanged, and the
	// vendors check that themselves.
	for k := range r.VendorState {
		if !strings.HasSuffix(k, ".package") {
			delete(r.VendorState, k)
		}
	}
	if !keepIDs {
		r.IDs, r.Submit, r.SubmittedAt = nil, "", time.Time{}
	}
	r.Result, r.Stage, r.UploadedBytes, r.TotalBytes, r.WaitSince = nil, "", 0, 0, time.Time{}
	r.Tries, r.Reached, r.ReachedBytes, r.MoveRefused = 0, "", 0, ""
	r.Attempt++
}

// run is one Process call.
type run struct {
	p          *Pipeline
	j          *Journal
	dir        string
	name       string
	vendorName string
	account    string // "" for the default
	log        *slog.Logger
	cur        string // stage in progress, for its duration
	curAt      time.Time
}

// fail builds a failed result from err at stage.
func fail(stage string, err error) *Result {
	kind := vendors.KindOf(err)
	re := &ResultError{Stage: stage, Kind: kind.String(), Message: err.Error()}
	var ps vendors.Problems
	if errors.As(err, &ps) {
		re.Problems = ps
		re.Message = ps.Error()
		re.Retryable = true // once fixed, as README documents
		re.Fix = "fix the files named above, then move the folder back to inbox/"
	}
	if f, ok := fixes[kind]; ok {
		re.Retryable, re.Fix = true, f
	}
	return &Result{Status: "failed", Error: re}
}

// fixes tells the operator what to do about a failure of each kind that
// moving the folder back to inbox/ can cure, once the cause is dealt with.
var fixes = map[vendors.Kind]string{
	vendors.Timeout:      "the vendor may still finish: move the folder back to inbox/ to check again with the same task",
	vendors.Unknown:      "a submit was sent but its answer was lost, so the task may exist: check the vendor's console; to submit again, move the folder back to inbox/",
	vendors.Transient:    "the vendor or the network failed for longer than the timeout: move the folder back to inbox/ to retry",
	vendors.Auth:         "check the vendor credentials in config.yaml, then move the folder back to inbox/",
	vendors.VendorFailed: "the vendor gives no reason; check the drop and the vendor's console, then move the folder back to inbox/ to try again",
	vendors.Rejected:     "the vendor refused the request; see the message, then move the folder back to inbox/",
}

// errConfig marks a drop for a vendor that is not configured.
var errConfig = errors.New("not configured")

// run walks the stages from wherever the journal says the job stands. It
// returns nil when ctx ended before the job did.
func (r *run) run(ctx context.Context) *Result {
	rec := r.j.Record()

	// validate: every time, also on resume, to rebuild the job.
	r.stage(StageValidate)
	v, err := r.vendor()
	if err != nil {
		res := fail(StageValidate, err)
		if errors.Is(err, errConfig) {
			res.Error.Kind, res.Error.Retryable = "config", true
			res.Error.Fix = "add the vendor's section to config.yaml, restart scandrop, and move the folder back to inbox/"
			if r.account != "" {
				res.Error.Fix = "the job belongs to account " + r.account + " (its files went to that account): give account " + r.account + " the vendor's section in config.yaml, restart scandrop, and move the folder back to inbox/; to run it under its watch's account of today instead, start it anew with `scandrop retry --fresh " + r.name + "`"
			}
		}
		return res
	}
	r.vendorName = v.Name()
	if rec.Vendor == "" || rec.Account != r.account {
		if err := r.j.Update(func(rc *Record) { rc.Vendor, rc.Account = v.Name(), r.account }); err != nil {
			return r.failOrStop(ctx, StageValidate, err)
		}
	}
	job, err := v.Open(ctx, r.dir)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fail(StageValidate, err)
	}
	settings := r.p.settings(r.account, v.Name())

	if rec.Submit == "" || rec.Submit == "refused" {
		// package
		r.stage(StagePackage)
		if err := r.retry(ctx, StagePackage, settings, func(ctx context.Context) error { return job.Package(ctx, r.j) }); err != nil {
			return r.failOrStop(ctx, StagePackage, err)
		}
		r.p.o.Crash("packaged")
		// upload
		r.stage(StageUpload)
		prog := &progress{j: r.j, clock: r.p.o.Clock, observe: func(done, total int64) {
			r.p.o.Observer.Uploaded(r.name, r.vendorName, done, total)
		}}
		if err := r.retry(ctx, StageUpload, settings, func(ctx context.Context) error { return job.Upload(ctx, r.j, prog) }); err != nil {
			return r.failOrStop(ctx, StageUpload, err)
		}
		prog.flush()
	}

	// submit: at most one request whose outcome is unknown, ever.
	rec = r.j.Record()
	if len(rec.IDs) == 0 {
		if rec.Submit == "sent" {
			return fail(StageSubmit, vendors.E(vendors.Unknown, v.Name()+": submit",
				fmt.Sprintf("a submit was sent at %s and its answer never arrived (scandrop stopped or the connection broke); not sending another, which could create a duplicate task", rec.SubmittedAt.Format(time.RFC3339))))
		}
		r.stage(StageSubmit)
		ids, err := r.submit(ctx, job, settings)
		if err != nil {
			return r.failOrStop(ctx, StageSubmit, err)
		}
		// One attribute per id, in a stable order: "project_id=… task_code=…".
		attrs := []any{}
		for _, k := range slices.Sorted(maps.Keys(ids)) {
			attrs = append(attrs, k, ids[k])
		}
		r.log.Info("task created", attrs...)
		r.p.o.Crash("submitted")
	}

	// wait
	r.stage(StageWait)
	st, err := r.wait(ctx, job, settings)
	if err != nil {
		return r.failOrStop(ctx, StageWait, err)
	}
	if st.State == vendors.Failed {
		detail := st.Detail
		if detail == "" {
			detail = "failed"
		}
		return fail(StageWait, vendors.E(vendors.VendorFailed, v.Name(), fmt.Sprintf("the vendor ended the task with status %q", detail)))
	}

	// finish
	if f, ok := job.(vendors.Finisher); ok {
		r.stage(StageFinish)
		if err := r.retry(ctx, StageFinish, settings, func(ctx context.Context) error { return f.Finish(ctx, r.j, &st) }); err != nil {
			return r.failOrStop(ctx, StageFinish, err)
		}
	}
	return &Result{Status: "success", VRURL: st.VRURL, Assets: st.Assets}
}

// vendor picks the vendor from the drop's marker.
func (r *run) vendor() (vendors.Vendor, error) {
	found := dropmark.At(r.dir, slices.Collect(maps.Keys(r.p.o.Markers)))
	switch len(found) {
	case 0:
		return nil, vendors.E(vendors.Invalid, "", vendors.Problems{{Message: "no drop marker (" + r.p.markerList() + ") at the folder's root"}})
	case 1:
	default:
		return nil, vendors.E(vendors.Invalid, "", vendors.Problems{{File: strings.Join(found, ", "),
			Message: "ambiguous drop: more than one marker; keep only the one for the vendor you mean"}})
	}
	vs, acct := r.p.o.Vendors, r.account
	if acct != "" {
		a, ok := r.p.o.Accounts[acct]
		if !ok {
			return nil, fmt.Errorf("the job uses account %q, which config.yaml no longer has: %w", acct, errConfig)
		}
		vs = a.Vendors
	}
	for _, v := range vs {
		if v.Marker() == found[0] {
			return v, nil
		}
	}
	vendor := r.p.o.Markers[found[0]]
	if acct != "" {
		return nil, fmt.Errorf("%s: %s drops need a %s: section in account %q (accounts: in config.yaml): %w", found[0], vendor, vendor, acct, errConfig)
	}
	return nil, fmt.Errorf("%s: %s drops need the %s: section in config.yaml: %w", found[0], vendor, vendor, errConfig)
}

// accountOf names the account of the job in dir: the one its journal
// recorded at the job's first claim ("" is the default, as for every job
// journalled before accounts existed), never another. A config change
// (the watch's account renamed or removed, the watch moved to another
// account) must not carry one customer's uploads and task to another
// customer's credentials: a job whose account is gone fails "config", and
// `scandrop retry --fresh` starts it anew under the watch's account of
// the day.
func (p *Pipeline) accountOf(dir string, rec Record) string {
	if rec.StartedAt.IsZero() { // not claimed yet (process binds it first)
		return p.AccountOf(dir)
	}
	return rec.Account
}

// JobAccount names the account a drop runs under: for a job claimed
// into processing/, the one its journal records (accountOf); for a drop
// still in inbox/, its watch's. The daemon's credential hold asks it, so
// that a resumed job waits on its own account's credentials.
func (p *Pipeline) JobAccount(dir string) string {
	if filepath.Base(filepath.Dir(dir)) == "processing" {
		if rec, err := ReadRecord(dir); err == nil {
			return p.accountOf(dir, *rec)
		}
	}
	return p.AccountOf(dir)
}

// timeoutKey names the job's vendor timeout for messages: "realsee", or
// "account acme's realsee".
func (r *run) timeoutKey() string {
	if r.account != "" {
		return "account " + r.account + "'s " + r.vendorName
	}
	return r.vendorName
}

// markerList names every marker with its vendor, for messages:
// "manifest.json for realsee, recon.yaml for aholo".
func (p *Pipeline) markerList() string {
	var out []string
	for _, m := range slices.Sorted(maps.Keys(p.o.Markers)) {
		out = append(out, m+" for "+p.o.Markers[m])
	}
	return strings.Join(out, ", ")
}

func (p *Pipeline) settings(account, vendor string) VendorSettings {
	s := p.o.Settings[vendor]
	if account != "" {
		s = p.o.Accounts[account].Settings[vendor]
	}
	if s.PollInterval <= 0 {
		s.PollInterval = DefaultPollInterval
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	return s
}

// stage records that the job entered stage, and tells the observer how
// long the previous one took.
func (r *run) stage(stage string) {
	r.endStage(true)
	rec := r.j.Record()
	now := r.p.o.Clock.Now()
	r.cur, r.curAt = stage, now
	further := stageOrder[stage] > stageOrder[rec.Reached]
	if rec.Stage != stage || further {
		if err := r.j.Update(func(rc *Record) {
			rc.Stage, rc.StageAt = stage, now.UTC()
			if further { // progress: this start is the first try of the new stage
				rc.Reached, rc.Tries = stage, 1
			}
		}); err != nil {
			r.log.Warn("cannot write journal", "error", err)
		}
		r.log.Info("stage", "stage", stage)
	}
	r.p.o.Observer.Stage(r.name, r.vendorName, stage)
}

func (r *run) endStage(ok bool) {
	if r.cur != "" {
		r.p.o.Observer.StageDone(r.name, r.vendorName, r.cur, r.p.o.Clock.Now().Sub(r.curAt), ok)
		r.cur = ""
	}
}

// submit sends the one submit, journalling the attempt first.
func (r *run) submit(ctx context.Context, job vendors.Job, s VendorSettings) (vendors.IDs, error) {
	var ids vendors.IDs
	err := r.retry(ctx, StageSubmit, s, func(ctx context.Context) error {
		now := r.p.o.Clock.Now().UTC()
		if err := r.j.Update(func(rc *Record) { rc.Submit, rc.SubmittedAt = "sent", now }); err != nil {
			return err
		}
		got, err := r.submitOnce(ctx, job)
		if err != nil {
			if vendors.SafeToRetry(err) {
				if uerr := r.j.Update(func(rc *Record) { rc.Submit = "refused" }); uerr != nil {
					return uerr
				}
				return err
			}
			// The request may have created a task: never retried.
			if vendors.KindOf(err) == vendors.Transient {
				return &vendors.Error{Kind: vendors.Unknown, Op: "submit", Err: err}
			}
			return err
		}
		ids = got
		return r.j.Update(func(rc *Record) { rc.Submit, rc.IDs = "created", got })
	})
	return ids, err
}

// submitGrace is how long a submit under way may go on after the daemon
// was told to stop.
const submitGrace = 30 * time.Second

// submitOnce calls job.Submit, which a stop (SIGTERM, a service stop) does
// not cut short at once: the answer is what tells whether a task exists,
// and without it the job could only fail as unknown_outcome on the next
// start. It gets submitGrace to finish; the job then stops after
// journalling the task, and the next start polls it.
func (r *run) submitOnce(ctx context.Context, job vendors.Job) (vendors.IDs, error) {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		select {
		case <-sctx.Done():
		case <-r.p.o.Clock.After(submitGrace):
			cancel()
		}
	})
	defer stop()
	return job.Submit(sctx, r.j)
}

// wait polls the task until it ends or the vendor timeout, counted from
// the submit, passes.
func (r *run) wait(ctx context.Context, job vendors.Job, s VendorSettings) (vendors.Status, error) {
	rec := r.j.Record()
	if rec.WaitSince.IsZero() {
		now := r.p.o.Clock.Now().UTC()
		if err := r.j.Update(func(rc *Record) { rc.WaitSince = now }); err != nil {
			return vendors.Status{}, err
		}
		rec.WaitSince = now
	}
	deadline := rec.WaitSince.Add(s.Timeout)
	defer r.clearRetry()
	out := outage{log: r.log, clock: r.p.o.Clock}
	pace := r.p.pacer().Until(deadline)
	last := ""
	for {
		st, err := r.pollBefore(ctx, job, rec.IDs, deadline)
		if err == nil {
			out.recovered()
			r.clearRetry()
			pace.Reset()
			if st.State != vendors.Running {
				return st, nil
			}
			if st.Detail != last {
				r.log.Info("vendor status", "status", st.Detail)
				r.p.o.Observer.VendorStatus(r.name, r.vendorName, st.Detail)
				last = st.Detail
			}
			r.p.o.Crash("polled")
		} else if ctx.Err() != nil {
			return st, ctx.Err()
		} else if !vendors.Retryable(err) {
			return st, err
		} else {
			out.failed(err)
			r.p.o.Observer.Retrying(r.name, r.vendorName, StageWait, vendors.KindOf(err).String(), err)
		}
		// A wait past the deadline is cut to end at it (a last poll
		// there); past the deadline, or when the vendor asked for a wait
		// that would end after it, the job times out now rather than sit
		// out the wait.
		var werr error
		if err != nil {
			var wait time.Duration
			if wait, werr = pace.Plan(ctx, vendors.RetryAfterOf(err)); werr == nil {
				r.noteRetry(StageWait, err, wait)
				werr = pace.Sleep(ctx, wait)
			}
		} else {
			werr = pace.Sleep(ctx, s.PollInterval)
		}
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		if werr != nil && !errors.Is(werr, backoff.ErrDeadline) {
			return st, werr // ctx's own deadline comes first
		}
		if werr != nil {
			msg := fmt.Sprintf("the vendor did not finish within %s (%s timeout in config.yaml); the task may still finish", s.Timeout, r.timeoutKey())
			if err != nil {
				msg += "; last error: " + err.Error()
			}
			return st, vendors.E(vendors.Timeout, "wait", msg)
		}
	}
}

// pollGrace is the least time a poll gets, so that a job resumed after its
// deadline still asks once whether its task finished.
const pollGrace = 5 * time.Second

// pollBefore is job.Poll bounded by the wait's deadline (at least
// pollGrace): a poll whose answer trickles in must not hold the job past
// it. A poll cut off by the deadline is a Transient error.
func (r *run) pollBefore(ctx context.Context, job vendors.Job, ids vendors.IDs, deadline time.Time) (vendors.Status, error) {
	pctx, cancel := context.WithTimeout(ctx, max(deadline.Sub(r.p.o.Clock.Now()), pollGrace))
	defer cancel()
	st, err := job.Poll(pctx, ids)
	if err != nil && ctx.Err() == nil && pctx.Err() != nil && !vendors.Retryable(err) {
		err = &vendors.Error{Kind: vendors.Transient, Op: "poll", Err: fmt.Errorf("cut off at the vendor timeout: %w", err)}
	}
	return st, err
}

// retry calls fn until it succeeds, fails for good, or transient errors
// have gone on longer than the vendor timeout, counted from the first. It
// waits under one backoff.Pacer (fn itself never waits to retry: see
// internal/backoff for who waits). A wait before a retry that
// would end past the vendor timeout is cut short, and a Retry-After that
// would is not waited at all: the stage fails at once. fn's own context
// is not bounded by the vendor timeout (an upload may rightly take
// longer); its calls are bounded by vendors.CallTimeout and the stall
// guard's minimum rate.
func (r *run) retry(ctx context.Context, stage string, s VendorSettings, fn func(context.Context) error) error {
	// The timeout counts from the first failure, not from the stage's
	// start: an upload that ran for hours and then met a blip is not an
	// outage of hours.
	var deadline time.Time
	var pace *backoff.Pacer
	out := outage{log: r.log.With("stage", stage), clock: r.p.o.Clock}
	defer r.clearRetry()
	for {
		err := fn(ctx)
		if err == nil {
			out.recovered()
			return nil
		}
		if ctx.Err() != nil || !vendors.Retryable(err) {
			return err
		}
		if pace == nil {
			deadline = r.p.o.Clock.Now().Add(s.Timeout)
			pace = r.p.pacer().Until(deadline)
		}
		out.failed(err)
		r.p.o.Observer.Retrying(r.name, r.vendorName, stage, vendors.KindOf(err).String(), err)
		passed := !r.p.o.Clock.Now().Before(deadline)
		wait, werr := pace.Plan(ctx, vendors.RetryAfterOf(err))
		if werr == nil {
			r.noteRetry(stage, err, wait)
			werr = pace.Sleep(ctx, wait)
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case werr == nil:
		case !errors.Is(werr, backoff.ErrDeadline):
			return werr // ctx's own deadline comes first
		// No stage prefix: err names its operation already ("realsee:
		// upload: put: ..."), and the stage is result.json's own field.
		case !passed:
			return vendors.E(vendors.Transient, "", fmt.Errorf("the vendor asks to retry after %s, past the %s timeout in config.yaml: %w", vendors.RetryAfterOf(err), r.timeoutKey(), err))
		default:
			return vendors.E(vendors.Transient, "", fmt.Errorf("still failing after %s: %w", s.Timeout, err))
		}
	}
}

// pacer is a new backoff.Pacer for one stage run, or one wait.
func (p *Pipeline) pacer() *backoff.Pacer {
	return backoff.New(p.o.Backoff, p.o.Clock)
}

// failOrStop turns a stage error into a failed result, or nil when the
// daemon is stopping (the job resumes later).
func (r *run) failOrStop(ctx context.Context, stage string, err error) *Result {
	if ctx.Err() != nil {
		return nil
	}
	return fail(stage, err)
}

// outage logs a run of transient errors once when it starts, then once a
// minute, then once when it ends — not once per request. "Once a minute"
// is once per minute of the outage (at the first failure after each
// minute mark), so that jittered waits neither skip nor double a line.
type outage struct {
	log   *slog.Logger
	clock vendors.Clock
	since time.Time
	next  time.Time // the next minute mark
	count int
}

const outageReport = time.Minute

func (o *outage) failed(err error) {
	now := o.clock.Now()
	o.count++
	if o.count == 1 {
		o.since, o.next = now, now.Add(outageReport)
		o.log.Warn("vendor unreachable or failing; retrying with backoff", "error", err)
		return
	}
	if !now.Before(o.next) {
		o.next = o.since.Add(outageReport * (now.Sub(o.since)/outageReport + 1))
		o.log.Warn("still retrying", "for", now.Sub(o.since).Round(time.Second).String(), "attempts", o.count, "error", err)
	}
}

func (o *outage) recovered() {
	if o.count > 0 {
		o.log.Info("vendor reachable again", "after", o.clock.Now().Sub(o.since).Round(time.Second).String(), "attempts", o.count)
		o.count = 0
	}
}

// progress records upload progress in the journal, at most every few
// seconds, for status.
type progress struct {
	observe func(done, total int64)
	j       *Journal
	clock   vendors.Clock
	last    time.Time
	done    int64
	total   int64
}

func (p *progress) Uploaded(done, total int64) {
	p.observe(done, total)
	p.j.mu.Lock()
	p.done, p.total = done, total
	due := p.clock.Now().Sub(p.last) >= 2*time.Second
	if due {
		p.last = p.clock.Now()
	}
	p.j.mu.Unlock()
	if due {
		p.flush()
	}
}

func (p *progress) flush() {
	p.j.mu.Lock()
	d, t := p.done, p.total
	p.j.mu.Unlock()
	p.j.Update(func(r *Record) {
		r.UploadedBytes, r.TotalBytes = d, t
		if d > r.ReachedBytes { // progress
			r.ReachedBytes, r.Tries = d, 1
		}
	})
}

// Check validates a drop offline with the vendor its marker names. It
// returns the vendor's name, and the problems as an error.
func Check(ctx context.Context, dir string, vs []vendors.Vendor) (string, error) {
	p := New(Options{Vendors: vs, Logger: slog.New(slog.DiscardHandler)})
	r := &run{p: p, dir: dir}
	v, err := r.vendor()
	if err != nil {
		return "", err
	}
	_, err = v.Open(ctx, dir)
	return v.Name(), err
}
