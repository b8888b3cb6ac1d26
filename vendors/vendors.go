// Package vendors defines what scandrop asks of a vendor API: the small
// interface every vendor package (vendors/realsee, vendors/aholo) implements,
// the error kinds the pipeline decides on, and the journal through which a
// vendor records what it must remember across a crash.
//
// Data flows one way: the pipeline calls a vendor; a vendor never imports the
// pipeline or the watcher.
package vendors

import (
	"context"

	"github.com/scandrop/scandrop/internal/backoff"
)

// Vendor speaks one vendor's API for one kind of drop.
type Vendor interface {
	// Name is the vendor's short name as it appears in result.json
	// ("realsee", "aholo").
	Name() string

	// Marker is the file at a drop folder's root that selects this vendor
	// ("manifest.json", "recon.yaml").
	Marker() string

	// Open validates the drop in dir offline and returns the job that will
	// carry it. It reads only files inside dir and makes no network call.
	// An invalid drop yields an error of kind Invalid whose message names
	// every problem with its file; Open is cheap enough to be called again
	// when a job resumes after a restart.
	Open(ctx context.Context, dir string) (Job, error)
}

// Job is one validated drop on its way through a vendor. The pipeline calls
// its methods in order — Package, Upload, Submit, then Poll until the task
// ends — and records each step in the journal before the next one, so that
// a restart can call them again on a fresh Job opened from the same folder.
type Job interface {
	// Package prepares what Upload sends (checksums, sizes, archive
	// layout) and records it in j. Idempotent; with a journal that already
	// holds the result it returns at once.
	Package(ctx context.Context, j Journal) error

	// Upload sends the drop's data to the vendor's storage. It may be
	// retried after any error, and after a restart it continues from what
	// j records instead of sending everything again. p, if not nil, is told
	// of progress.
	Upload(ctx context.Context, j Journal, p Progress) error

	// Submit creates the vendor task. It is NOT idempotent: every call may
	// create (and bill) a new task, so the pipeline records the attempt
	// before the call and never calls it twice for one journal unless the
	// previous call's error says (with SafeToRetry) that nothing was
	// created. On success it returns the task's ids, which the pipeline
	// records and hands to Poll.
	Submit(ctx context.Context, j Journal) (IDs, error)

	// Poll asks once for the state of the task with the given ids. It is
	// idempotent and safe after a restart. A task the vendor failed is a
	// Status with State Failed, not an error; errors are for the asking.
	Poll(ctx context.Context, ids IDs) (Status, error)
}

// Finisher is an optional step after a successful task: downloading the
// vendor's assets into the job folder, for instance. It must be idempotent.
type Finisher interface {
	Finish(ctx context.Context, j Journal, st *Status) error
}

// CredentialChecker is implemented by a vendor client that can tell
// whether the vendor accepts its credentials; `scandrop doctor` and the
// daemon's start-up probe use it.
type CredentialChecker interface {
	// CheckCredentials makes ONE authenticated call that changes nothing
	// the operator would see on the account, and returns:
	//   - nil when the vendor accepted the credentials;
	//   - an error of kind Auth when it refused them: the message names
	//     the configuration keys to fix;
	//   - an error of kind Transient when the vendor could not be asked
	//     (network, 5xx, throttling): an outage says nothing about the
	//     credentials;
	//   - an error of another kind (Rejected) when the vendor answered in
	//     a way that says neither, such as a wrong endpoint.
	// It never returns a secret in the error.
	CheckCredentials(ctx context.Context) error
}

// SecretSetter is implemented by a vendor client whose secret can be
// replaced while it runs, so that a fixed secret file takes effect
// without a restart. Calls already under way keep the old secret; every
// later call, CheckCredentials included, uses the new one.
type SecretSetter interface {
	SetSecret(secret string)
}

// IDs are the vendor's identifiers of a task (task_code, project_id, ...),
// written to the journal and to result.json as vendor_ids.
type IDs map[string]string

// State is where a vendor task stands.
type State int

const (
	Running State = iota // queued, preprocessing, processing: ask again later
	Succeeded
	Failed
)

func (s State) String() string {
	switch s {
	case Succeeded:
		return "success"
	case Failed:
		return "failed"
	}
	return "running"
}

// Status is the answer to one Poll.
type Status struct {
	State State
	// Detail is the vendor's own word for the state ("processing",
	// "preprocessing", "rejected"), for logs and error messages.
	Detail string
	// VRURL is the VR link of a successful Realsee task.
	VRURL string
	// Assets are the result files of a successful task, keyed by the
	// vendor's lower-cased names ("ply", "spz", "sog").
	Assets map[string]string
}

// Progress receives upload progress. Implementations must be safe for
// concurrent use.
type Progress interface {
	// Uploaded reports done bytes out of total for the whole job.
	Uploaded(done, total int64)
}

// Journal is the job's durable memory, kept inside the job folder. A vendor
// stores under its own keys whatever it needs to resume (upload ids, parts,
// uploaded URLs); Store returns only once the value is on disk.
type Journal interface {
	// Load decodes the value stored under key into v and reports whether
	// there was one.
	Load(key string, v any) (bool, error)
	// Store records v (JSON-encodable) under key durably.
	Store(key string, v any) error
}

// Clock is the time source, injectable so that tests need not sleep; the
// same as the pacer's (internal/backoff).
type Clock = backoff.Clock

// SystemClock is the real clock.
type SystemClock = backoff.SystemClock
