package pipeline

import "github.com/scandrop/scandrop/vendors"

// KeepsTask is the one rule for what another attempt of a finished job
// does with the vendor task its journal names (ids): it checks that same
// task again, rather than submit another (billed again), unless the vendor
// itself ended the task: it failed it (vendor_failed) or refused the job
// (rejected, invalid). Every other failure (auth, transient, timeout,
// crash, config, unknown_outcome, internal) leaves a task that may still
// run or be done. A job that succeeded starts over: retrying a done job
// asks for a new task. `scandrop retry --fresh` sets the journal aside and
// so always starts over.
func KeepsTask(res *Result, ids vendors.IDs) bool {
	if len(ids) == 0 || res == nil || res.Error == nil {
		return false
	}
	switch res.Error.Kind {
	case vendors.VendorFailed.String(), vendors.Rejected.String(), vendors.Invalid.String():
		return false
	}
	return true
}
