package pipeline

import (
	"time"
)

// Observer is told what jobs do: for the demo's story, metrics, the status
// page and notifications. Calls come from the jobs' goroutines, possibly
// at once; they must be quick and must not block.
type Observer interface {
	// Stage: a job entered stage (validate, package, upload, submit, wait, finish).
	Stage(folder, vendor, stage string)
	// StageDone: a stage ended after d, with ok false when it failed.
	StageDone(folder, vendor, stage string, d time.Duration, ok bool)
	// VendorStatus: the vendor's task moved to a new status ("processing").
	VendorStatus(folder, vendor, status string)
	// Uploaded: upload progress of the job, in bytes.
	Uploaded(folder, vendor string, done, total int64)
	// Retrying: a transient error at stage; the job waits and tries again.
	Retrying(folder, vendor, stage, kind string, err error)
	// Finished: the job's result is written and the folder moved to path
	// (in done/ or failed/).
	Finished(folder string, res *Result, path string)
}

// NopObserver ignores everything; embed it to implement only some methods.
type NopObserver struct{}

func (NopObserver) Stage(folder, vendor, stage string)                               {}
func (NopObserver) StageDone(folder, vendor, stage string, d time.Duration, ok bool) {}
func (NopObserver) VendorStatus(folder, vendor, status string)                       {}
func (NopObserver) Uploaded(folder, vendor string, done, total int64)                {}
func (NopObserver) Retrying(folder, vendor, stage, kind string, err error)           {}
func (NopObserver) Finished(folder string, res *Result, path string)                 {}

// Observers fans out to several observers.
type Observers []Observer

func (os Observers) Stage(folder, vendor, stage string) {
	for _, o := range os {
		o.Stage(folder, vendor, stage)
	}
}

func (os Observers) StageDone(folder, vendor, stage string, d time.Duration, ok bool) {
	for _, o := range os {
		o.StageDone(folder, vendor, stage, d, ok)
	}
}

func (os Observers) VendorStatus(folder, vendor, status string) {
	for _, o := range os {
		o.VendorStatus(folder, vendor, status)
	}
}

func (os Observers) Uploaded(folder, vendor string, done, total int64) {
	for _, o := range os {
		o.Uploaded(folder, vendor, done, total)
	}
}

func (os Observers) Retrying(folder, vendor, stage, kind string, err error) {
	for _, o := range os {
		o.Retrying(folder, vendor, stage, kind, err)
	}
}

func (os Observers) Finished(folder string, res *Result, path string) {
	for _, o := range os {
		o.Finished(folder, res, path)
	}
}
