package aholo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// This file holds every type that crosses the wire, as the quickstart and
// the public clients show them. Fields whose JSON type varies between
// sightings decode through flexString / flexInt.

// envelope is the answer of every Aholo and OUS call: c == "0" is success,
// m the message otherwise, d the data.
type envelope struct {
	C flexString      `json:"c"`
	D json.RawMessage `json:"d"`
	M *string         `json:"m"`
	F flexString      `json:"f"`
}

func (e *envelope) ok() bool { return string(e.C) == "0" }

func (e *envelope) message() string {
	if e.M != nil && *e.M != "" {
		return *e.M
	}
	return "code " + string(e.C)
}

// uploadToken is d of GET /upload/token. The token is good for one file and
// ten minutes.
type uploadToken struct {
	OUSToken     string  `json:"ousToken"`
	GlobalDomain string  `json:"globalDomain"`
	BlockSize    flexInt `json:"blockSize"`
}

// uploadTask is d of single/upload and block/upload/init.
type uploadTask struct {
	TaskID flexString `json:"taskId"`
	// LackBlocks lists the 1-based blocks the server still needs ("1,3",
	// "72-423", or a list of such); null means all of them.
	LackBlocks json.RawMessage `json:"lackBlocks,omitempty"`
	// URL is set when the server already holds the whole file.
	URL string `json:"url,omitempty"`
}

// uploadStatus is d of GET /ous/api/v2/upload/status.
type uploadStatus struct {
	Status flexInt `json:"status"`
	URL    string  `json:"url"`
}

// OUS upload statuses; the ones before done are not documented and are only
// waited through.
const (
	ousDone    = 5
	ousFailed  = 6
	ousFailed2 = 8
)

// createRecon is the body of POST /project/create-3d-recon.
type createRecon struct {
	ProjectName string     `json:"projectName"`
	Cover       string     `json:"cover"`
	Scene       string     `json:"scene"`
	TaskQuality string     `json:"taskQuality"`
	AccessLevel int        `json:"accessLevel"`
	Resources   []resource `json:"resources"`
	UploadSog   bool       `json:"uploadSog"`
	Panorama    bool       `json:"panorama"`
}

type resource struct {
	Name string `json:"name"`
	Type int    `json:"type"`
	URL  string `json:"url"`
	Meta meta   `json:"meta"`
}

// meta carries the real pixel size; duration (seconds) is null for images.
type meta struct {
	Width    int      `json:"width"`
	Height   int      `json:"height"`
	Duration *float64 `json:"duration"`
}

// Resource types. Video's code is not documented (Config.VideoType).
const typeImage = 0

// task is one element of d of POST /project/task/list/by-ids.
type task struct {
	ProjectID flexString  `json:"projectId,omitempty"`
	TaskID    flexString  `json:"taskId,omitempty"`
	Status    flexInt     `json:"status"`
	Result    *taskResult `json:"result"`
}

type taskResult struct {
	PlyPath string `json:"plyPath"`
	SpzPath string `json:"spzPath"`
	SogPath string `json:"sogPath"`
}

// Task statuses, all documented.
var taskStatuses = map[int]struct {
	word     string
	terminal bool
}{
	0: {"queued", false},
	1: {"waiting", false},
	2: {"running", false},
	3: {"success", true},
	4: {"failed", true},
	5: {"cancelled", true},
	6: {"timeout", true},
	7: {"rejected", true},
	8: {"preprocessing", false},
}

// flexString accepts a JSON string, number or null.
type flexString string

// projectRef is d of create-3d-recon: the quickstart returns the projectId
// itself; an object holding it is accepted too.
type projectRef string

func (p *projectRef) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var o struct {
			ProjectID flexString `json:"projectId"`
			ID        flexString `json:"id"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		*p = projectRef(o.ProjectID)
		if *p == "" {
			*p = projectRef(o.ID)
		}
		return nil
	}
	var s flexString
	err := s.UnmarshalJSON(b)
	*p = projectRef(s)
	return err
}

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*s = ""
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want a string or number, got %s", b)
		}
		*s = flexString(n.String())
	}
	return nil
}

// flexInt accepts a JSON number, a numeric string or null (0).
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	if s == "null" || s == "" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return fmt.Errorf("want an integer, got %s", b)
		}
		v = int64(f)
	}
	*n = flexInt(v)
	return nil
}
