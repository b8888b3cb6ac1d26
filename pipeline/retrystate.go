package pipeline

import (
	"time"

	"github.com/scandrop/scandrop/vendors"
)

// RetryState is what the journal says of a job waiting out a transient
// error (an outage, a 503, an expired token) before it tries again: enough
// for "scandrop status", run beside the daemon, to show why the job is
// stuck and when it tries next.
type RetryState struct {
	Stage string `json:"stage"`
	// Kind is the error's vendors.Kind ("transient", …).
	Kind string `json:"kind"`
	// Error is the last error, bounded (maxRetryError bytes).
	Error string `json:"error"`
	// Since is when this run of failures began; Count how many in a row.
	Since time.Time `json:"since"`
	Count int       `json:"count"`
	// Next is when the next attempt is due.
	Next time.Time `json:"next"`
}

// maxRetryError bounds the error kept in the journal: it may quote a
// vendor's answer.
const maxRetryError = 1 << 10

// noteRetry records in the journal that stage failed with err and is tried
// again after wait. The journal is written once per failed attempt, which
// the backoff spaces out. A journal that cannot be written only costs the
// status its detail, so the error is logged and not returned.
func (r *run) noteRetry(stage string, err error, wait time.Duration) {
	now := r.p.o.Clock.Now().UTC()
	msg := err.Error()
	if len(msg) > maxRetryError {
		msg = msg[:maxRetryError] + "…"
	}
	uerr := r.j.Update(func(rc *Record) {
		st := &RetryState{Stage: stage, Kind: vendors.KindOf(err).String(), Error: msg, Since: now, Count: 1, Next: now.Add(wait)}
		if prev := rc.Retrying; prev != nil && prev.Stage == stage {
			st.Since, st.Count = prev.Since, prev.Count+1
		}
		rc.Retrying = st
	})
	if uerr != nil {
		r.log.Debug("cannot record the retry in the journal", "error", uerr)
	}
}

// clearRetry forgets a recorded retry, once the stage got through or gave
// up.
func (r *run) clearRetry() {
	if r.j.Record().Retrying == nil {
		return
	}
	if err := r.j.Update(func(rc *Record) { rc.Retrying = nil }); err != nil {
		r.log.Debug("cannot clear the retry in the journal", "error", err)
	}
}
