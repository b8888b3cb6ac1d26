package pipeline

import (
	"encoding/json"
	"path/filepath"
	"time"

	"github.com/scandrop/scandrop/vendors"
)

// ResultFile is written into every finished job folder.
const ResultFile = "result.json"

// Stages, in order. They name where a job failed in result.json.
const (
	StageValidate = "validate"
	StagePackage  = "package"
	StageUpload   = "upload"
	StageSubmit   = "submit"
	StageWait     = "wait"
	StageFinish   = "finish"
	stageDone     = "done"
)

// Result is result.json, as the contract defines it.
type Result struct {
	Status     string            `json:"status"` // success | failed
	Vendor     string            `json:"vendor,omitempty"`
	Folder     string            `json:"folder"`
	StartedAt  time.Time         `json:"started_at"`
	FinishedAt time.Time         `json:"finished_at"`
	VRURL      string            `json:"vr_url,omitempty"`
	Assets     map[string]string `json:"assets,omitempty"`
	VendorIDs  vendors.IDs       `json:"vendor_ids,omitempty"`
	Error      *ResultError      `json:"error,omitempty"`
}

// ResultError says where and why a job failed, and whether moving the
// folder back to inbox/ may help.
type ResultError struct {
	Stage     string `json:"stage"`
	Kind      string `json:"kind"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
	// Problems lists each problem of an invalid drop with its file.
	Problems []vendors.Problem `json:"problems,omitempty"`
	// Fix says what the operator should do.
	Fix string `json:"fix,omitempty"`
}

// Success reports whether the job succeeded.
func (r *Result) Success() bool { return r.Status == "success" }

func writeResult(dir string, r *Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, ResultFile), append(b, '\n'))
}
