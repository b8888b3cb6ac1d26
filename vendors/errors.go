package vendors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
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
		fmt.Fprintf(&b, " (request %s)", e.RequestID)
	}
	return b.String()
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

// Problems is a list of validation problems, each naming its file.
type Problems []Problem

// Problem is one thing wrong with a drop.
type Problem struct {
	File    string `json:"file,omitempty"` // relative to the drop folder, slash-separated; "" for the folder itself
	Message string `json:"message"`        // what is wrong and, where it helps, the fix
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

// Add appends a problem.
func (ps *Problems) Add(file, format string, args ...any) {
	*ps = append(*ps, Problem{File: file, Message: fmt.Sprintf(format, args...)})
}

// Err returns nil when there are no problems, else an Invalid *Error
// wrapping them.
func (ps Problems) Err(op string) error {
	if len(ps) == 0 {
		return nil
	}
	return &Error{Kind: Invalid, Op: op, Err: ps}
}
