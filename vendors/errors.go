package vendors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scandrop/scandrop/internal/textsafe"
)

// Kind classifies an error once, near the wire, so that the pipeline can
// decide between retrying and failing without looking at messages.
type Kind int

const (
	// Other is an error nobody classified; the pipeline treats it as
	// permanent.
	Other Kind = iota
	// Invalid: the drop itself is wrong (bad manifest, missing image). The
	// operator must fix the folder.
	Invalid
	// Auth: the vendor rejected our credentials or the account lacks the
	// capability. Retrying will not help until the configuration changes.
	Auth
	// Transient: network errors, 5xx, throttling, expired tokens that could
	// not be refreshed yet. Retried with backoff until the vendor timeout.
	Transient
	// Rejected: the vendor refused this job's request (a business error
	// other than auth). Permanent for this job.
	Rejected
	// VendorFailed: the vendor ran the task and it failed.
	VendorFailed
	// Timeout: the vendor did not finish within the configured time. The
	// task may still finish; its ids are kept so it can be re-checked.
	Timeout
	// Unknown: an irreversible call (submit) may or may not have happened.
	// Never retried automatically.
	Unknown
)

var kindNames = map[Kind]string{
	Other:        "internal",
	Invalid:      "invalid",
	Auth:         "auth",
	Transient:    "transient",
	Rejected:     "rejected",
	VendorFailed: "vendor_failed",
	Timeout:      "timeout",
	Unknown:      "unknown_outcome",
}

func (k Kind) String() string { return kindNames[k] }

// Error is an error with a kind. Op names the operation ("realsee: submit"),
// RequestID the vendor's request or trace id that support will ask for.
type Error struct {
	Kind      Kind
	Op        string
	RequestID string
	// SafeToRetry is set on a failed Submit when the request is known not
	// to have created anything (refused connection, an error answer).
	SafeToRetry bool
	// RetryAfter is how long the vendor asked to be left alone (an HTTP
	// Retry-After, bounded by MaxRetryAfter); 0 when it did not say.
	RetryAfter time.Duration
	Err        error
}

// MaxErrorMessage bounds the text of an *Error: the inner message may echo
// a vendor's HTTP answer or a drop's contents, and is repeated into
// result.json, the log and webhooks. 16 KiB holds any real explanation
// with a path or two of PATH_MAX (4 KiB) in it, which the sinks then show
// shortened (pipeline.ShowPaths).
const MaxErrorMessage = 16 << 10

// Error returns the message, at most about MaxErrorMessage bytes; the rest
// is cut with a marker saying how much.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString(e.Kind.String())
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request %s)", textsafe.Cut(e.RequestID, 128))
	}
	return textsafe.Cut(b.String(), MaxErrorMessage)
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an *Error. Err may be a string or an error.
func E(kind Kind, op string, err any) *Error {
	e := &Error{Kind: kind, Op: op}
	switch v := err.(type) {
	case error:
		e.Err = v
	case string:
		e.Err = errors.New(v)
	case nil:
	default:
		e.Err = fmt.Errorf("%v", v)
	}
	return e
}

// KindOf returns the kind of the first *Error in err's chain. A context
// cancellation is Transient (the daemon is stopping, the job is not wrong);
// an unclassified error is Other.
func KindOf(err error) Kind {
	if err == nil {
		return Other
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, context.Canceled) {
		return Transient
	}
	return Other
}

// SafeToRetry reports whether err says that a failed Submit created nothing.
func SafeToRetry(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.SafeToRetry
}

// Retryable reports whether err is worth retrying automatically.
func Retryable(err error) bool { return KindOf(err) == Transient }

// Bounds of a problem list. A drop is written by someone else and may be
// hostile: 8 MB of duplicate ids are 300,000 problems, and everything
// scandrop writes about a drop (result.json, the log, webhooks, status)
// repeats them. Validation keeps the first MaxProblems and counts the rest,
// so memory is bounded while validating, not only when writing; and each
// problem is bounded too, since 50 problems of 1 MB each are not a bound.
const (
	// MaxProblems problems are kept: enough to fix a drop in one pass (a
	// person fixes the first screenful and runs check again), few enough
	// that the list fits a result.json of tens of KB.
	MaxProblems = 50
	// MaxProblemMessage bytes of one message: a sentence with an id or a
	// name in it; a 100 KB id is cut, with a marker.
	MaxProblemMessage = 512
	// MaxProblemFile bytes of one file name: long paths are shortened in
	// the middle, keeping the first and last elements.
	MaxProblemFile = 200
)

// Problems is a list of validation problems, each naming its file. Add
// keeps at most MaxProblems of them; beyond that it only counts, and the
// list ends with one summary problem ("and 289412 more problems").
type Problems []Problem

// Problem is one thing wrong with a drop.
type Problem struct {
	File    string `json:"file,omitempty"` // relative to the drop folder, slash-separated; "" for the folder itself
	Message string `json:"message"`        // what is wrong and, where it helps, the fix

	// omitted is set on the summary problem that ends a full list: how
	// many problems were counted and not kept.
	omitted int
}

func (p Problem) String() string {
	if p.File == "" {
		return p.Message
	}
	return p.File + ": " + p.Message
}

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "; ")
}

// Add appends a problem; once MaxProblems are kept, it counts it instead.
// The file and the message are bounded (MaxProblemFile, MaxProblemMessage).
func (ps *Problems) Add(file, format string, args ...any) {
	if ps.full() {
		ps.countMore(1)
		return
	}
	*ps = append(*ps, Problem{
		File:    textsafe.ShortPath(file, MaxProblemFile),
		Message: textsafe.Cut(fmt.Sprintf(format, args...), MaxProblemMessage),
	})
}

// Merge adds the problems of other, keeping the bound.
func (ps *Problems) Merge(other Problems) {
	for _, p := range other {
		if p.omitted > 0 {
			ps.countMore(p.omitted)
			continue
		}
		if ps.full() {
			ps.countMore(1)
			continue
		}
		ps.Add(p.File, "%s", p.Message)
	}
}

// Count is how many problems were found, kept or not.
func (ps Problems) Count() int {
	if n := len(ps); n > 0 && ps[n-1].omitted > 0 {
		return n - 1 + ps[n-1].omitted
	}
	return len(ps)
}

// Omitted is how many problems were counted but not kept.
func (ps Problems) Omitted() int {
	if n := len(ps); n > 0 {
		return ps[n-1].omitted
	}
	return 0
}

// Head returns the first n problems kept, counting the others (and those
// already counted) in a summary problem at the end. ps is not changed.
func (ps Problems) Head(n int) Problems {
	if len(ps) <= n || n >= len(ps)-1 && ps.Omitted() > 0 {
		return ps
	}
	out := append(Problems(nil), ps[:n]...)
	out.countMore(ps.Count() - n)
	return out
}

func (ps Problems) full() bool { return len(ps) >= MaxProblems }

// countMore counts n problems that are not kept, in the summary problem
// that ends the list.
func (ps *Problems) countMore(n int) {
	l := *ps
	if len(l) == 0 || l[len(l)-1].omitted == 0 {
		l = append(l, Problem{})
	}
	last := &l[len(l)-1]
	last.omitted += n
	last.Message = fmt.Sprintf("and %d more problems, not listed (only the first %d are); fix these and run scandrop check again", last.omitted, MaxProblems)
	*ps = l
}

// Err returns nil when there are no problems, else an Invalid *Error
// wrapping them.
func (ps Problems) Err(op string) error {
	if len(ps) == 0 {
		return nil
	}
	return &Error{Kind: Invalid, Op: op, Err: ps}
}
