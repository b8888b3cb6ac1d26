package pipeline

import (
	"bytes"
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/scandrop/scandrop/internal/textsafe"
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
	Status string `json:"status"` // success | failed
	Vendor string `json:"vendor,omitempty"`
	// Account is the named account (config.yaml accounts:) the job used;
	// omitted for the default (top-level) one.
	Account    string            `json:"account,omitempty"`
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

// Bounds of result.json. Everything in it about a failure may come from
// the drop (ids, names, paths) or from a vendor's answer, and it is copied
// on into the log, webhooks and status pages: whatever the drop, the file
// stays under maxResultBytes.
const (
	// maxResultMessage bytes of the error message: the problems are listed
	// separately, so the message needs only to say what happened.
	maxResultMessage = 4 << 10
	// maxProblemsJSON bytes of the problems list as JSON. 50 ordinary
	// problems take 5-10 KB; names full of control characters take up to
	// six times their length once JSON-escaped, so the list is also cut by
	// its encoded size.
	maxProblemsJSON = 32 << 10
	// maxResultValue bytes of a link, an asset URL or a vendor id.
	maxResultValue = 2 << 10
	// maxResultAssets assets are kept (the vendors produce three or four).
	maxResultAssets = 16
	// maxPathShown bytes of one path in a message: deeper paths are
	// shortened in the middle, keeping where they start and end.
	maxPathShown = 160
	// maxResultBytes is what the bounds above add up to, with room to spare:
	// no result.json is larger. Readers (status, notify) rely on it.
	maxResultBytes = 64 << 10
)

// MaxResultBytes is the largest result.json scandrop writes; a larger one
// was not written by scandrop and need not be read in full.
const MaxResultBytes = maxResultBytes

// bound cuts what r says to the bounds above, in place, and shows paths in
// its message relative to the job folder dir.
func (r *Result) bound(dir string) {
	r.Folder = textsafe.Cut(r.Folder, maxResultValue)
	r.VRURL = textsafe.Cut(r.VRURL, maxResultValue)
	if len(r.Assets) > 0 {
		keys := slices.Sorted(maps.Keys(r.Assets))
		assets := make(map[string]string, min(len(keys), maxResultAssets))
		for _, k := range keys[:min(len(keys), maxResultAssets)] {
			assets[textsafe.Cut(k, 64)] = textsafe.Cut(r.Assets[k], maxResultValue)
		}
		r.Assets = assets
	}
	for k, v := range r.VendorIDs {
		r.VendorIDs[k] = textsafe.Cut(v, 256)
	}
	e := r.Error
	if e == nil {
		return
	}
	// A vendor's error may echo a secret; this Result goes on to
	// observers, the log and webhooks too.
	e.Message = textsafe.Cut(ShowPaths(textsafe.Redact(e.Message), dir), maxResultMessage)
	e.Fix = textsafe.Redact(e.Fix)
	ps := vendors.Problems(e.Problems).Head(vendors.MaxProblems)
	size := 0
	for i, p := range ps {
		b, _ := json.Marshal(p)
		size += len(b)
		if size > maxProblemsJSON && (i < len(ps)-1 || ps.Omitted() == 0) {
			ps = ps.Head(i)
			break
		}
	}
	e.Problems = ps
}

// ShowPaths makes the paths in a message fit for people: relative to the
// job folder dir, and shortened in the middle when longer than
// maxPathShown (a drop nested 500 folders deep is a 4 KB path).
func ShowPaths(msg, dir string) string {
	if dir != "" {
		msg = strings.ReplaceAll(msg, dir+string(filepath.Separator), "")
	}
	if len(msg) <= maxPathShown {
		return msg
	}
	words := strings.Split(msg, " ")
	for i, w := range words {
		if len(w) > maxPathShown && strings.ContainsRune(w, '/') {
			words[i] = textsafe.ShortPath(w, maxPathShown)
		}
	}
	return strings.Join(words, " ")
}

func writeResult(dir string, r *Result) error {
	r.bound(dir)
	b, err := IndentJSON(r)
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, ResultFile), append(b, '\n'))
}

// IndentJSON is v as JSON for people to read (result.json, status
// --json, the process command's output): indented by two spaces, with no
// final newline, and with <, > and & as themselves. encoding/json writes
// them as \u003c, \u003e and \u0026 by default, for JSON pasted into HTML;
// none of these is, and "Drop <B>" must read as such in an editor. Every
// secret the process knows is masked (textsafe.Redact).
func IndentJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return textsafe.RedactBytes(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}
