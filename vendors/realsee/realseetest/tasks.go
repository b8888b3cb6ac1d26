package realseetest

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/scandrop/scandrop/internal/testkit/minis3"
)

type submitRequest struct {
	ProjectName   string `json:"project_name"`
	ZipCosURL     string `json:"zip_cos_url"`
	PrivateCosKey string `json:"private_cos_key"`
}

type submitData struct {
	TaskCode  string `json:"task_code"`
	ProjectID string `json:"project_id"`
}

type statusData struct {
	ProjectID string `json:"project_id"`
	Status    string `json:"status"`
	VRURL     string `json:"vr_url"`
}

func (s *Server) submit(r *http.Request) reply {
	var req submitRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		return failed("invalid request body: " + err.Error())
	}
	switch {
	case req.ZipCosURL == "" && req.PrivateCosKey == "":
		return reply{code: codeFailed, status: "zip_cos_url or private_cos_key is required", businessCode: "50"}
	case req.ZipCosURL != "" && req.PrivateCosKey != "":
		return failed("zip_cos_url and private_cos_key are mutually exclusive: send one")
	case strings.TrimSpace(req.ProjectName) == "":
		return failed("project_name is required")
	}

	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Minute)
	defer cancel()
	var open func() (readerAt, int64, error)
	if req.PrivateCosKey != "" {
		if rep, bad := s.checkPrivateKey(ctx, req.PrivateCosKey); bad {
			return rep
		}
		open = func() (readerAt, int64, error) { return s.store.open(ctx, req.PrivateCosKey) }
	} else {
		if s.opts.DownloadHost == "" {
			return failed("download_host is empty (private bucket): submit private_cos_key, not zip_cos_url")
		}
		u, err := url.Parse(req.ZipCosURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return failed("zip_cos_url must be an http(s) URL")
		}
		open = func() (readerAt, int64, error) { return s.download(ctx, req.ZipCosURL) }
	}

	// The real service fetches and unpacks asynchronously and reports any
	// problem only as a failed task; the fake does the work now, so that the
	// outcome is known by the time the client polls.
	failure := ""
	if ra, size, err := open(); err != nil {
		failure = "cannot read the package: " + err.Error()
	} else {
		failure = checkPackage(ra, size)
		ra.Close()
	}

	t := &task{projectID: "pano-" + randomCode(20), failure: failure, vrURL: "https://realsee.cn/" + randomCode(16)}
	code := randomCode(20)
	t.projectID, t.vrURL, code = cmp.Or(s.opts.ProjectID, t.projectID), cmp.Or(s.opts.VRURL, t.vrURL), cmp.Or(s.opts.TaskCode, code)
	s.mu.Lock()
	if s.failTasks {
		t.failure = strings.TrimPrefix(t.failure+"; forced by FailTasks", "; ")
	}
	s.tasks[code] = t
	s.submits = append(s.submits, Submit{
		ProjectName:   req.ProjectName,
		PrivateCosKey: req.PrivateCosKey,
		ZipCosURL:     req.ZipCosURL,
		TaskCode:      code,
		ProjectID:     t.projectID,
		At:            s.opts.Now(),
		Failure:       t.failure,
	})
	s.mu.Unlock()
	return ok(submitData{TaskCode: code, ProjectID: t.projectID})
}

func (s *Server) checkPrivateKey(ctx context.Context, key string) (reply, bool) {
	if s.opts.DownloadHost != "" {
		return failed("download_host is set (public bucket): submit zip_cos_url, not private_cos_key"), true
	}
	s.mu.Lock()
	issued := false
	for p := range s.prefixes {
		if strings.HasPrefix(key, p) && len(key) > len(p) {
			issued = true
		}
	}
	s.mu.Unlock()
	if !issued {
		return failed("private_cos_key " + strconv.Quote(key) + " is not under a prefix issued by /open/v1/pano/file/token"), true
	}
	found, err := s.store.exists(ctx, key)
	if err != nil {
		return failed("private_cos_key " + strconv.Quote(key) + ": " + err.Error()), true
	}
	if !found {
		return failed("private_cos_key " + strconv.Quote(key) + ": no such object in bucket " + s.opts.Bucket), true
	}
	return reply{}, false
}

func (s *Server) status(r *http.Request) reply {
	code := r.URL.Query().Get("task_code")
	if code == "" {
		return failed("task_code is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[code]
	if t == nil {
		return failed("task not found: " + code)
	}
	d := statusData{ProjectID: t.projectID}
	final := t.polls >= s.opts.ProcessingPolls
	switch {
	case final:
		// Final states stick, whatever HoldTasks says now.
	case s.holdTasks:
		d.Status = "processing"
		return ok(d)
	default:
		t.polls++
		if t.polls == 1 {
			d.Status = "pending"
		} else {
			d.Status = "processing"
		}
		return ok(d)
	}
	if t.failure != "" {
		d.Status = "failed"
	} else {
		d.Status, d.VRURL = "success", t.vrURL
	}
	return ok(d)
}

// checkPackage checks a submitted zip as the service does before it builds
// anything, and returns every problem found, or "".
func checkPackage(ra io.ReaderAt, size int64) string {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return "not a valid zip: " + err.Error()
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		files[f.Name] = f
		if f.FileInfo().IsDir() {
			continue
		}
		// Reading every entry to the end verifies its CRC, as unpacking does.
		rc, err := f.Open()
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		if err != nil {
			add("%s: corrupt zip entry: %v", f.Name, err)
		}
	}

	mf := files["manifest.json"]
	if mf == nil {
		for name := range files {
			if path.Base(name) == "manifest.json" {
				add("manifest.json is at %s, not at the root of the zip", name)
				return strings.Join(problems, "; ")
			}
		}
		add("manifest.json is missing from the root of the zip")
		return strings.Join(problems, "; ")
	}
	var m struct {
		Version     json.RawMessage            `json:"version"`
		FloorMap    map[string]json.RawMessage `json:"floor_map"`
		ProjectName string                     `json:"project_name"`
		ScanList    []struct {
			ID    string      `json:"id"`
			Floor json.Number `json:"floor"`
		} `json:"scan_list"`
	}
	b, err := readEntry(mf, 10<<20)
	if err == nil {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		err = d.Decode(&m)
	}
	if err != nil {
		add("manifest.json: %v", err)
		return strings.Join(problems, "; ")
	}
	if string(m.Version) != `"1.0"` {
		add(`manifest.json: version is %s, must be the string "1.0"`, orNone(m.Version))
	}
	if len(m.ScanList) == 0 {
		add("manifest.json: scan_list is empty")
	}
	seen := map[string]bool{}
	for i, sc := range m.ScanList {
		if sc.ID == "" {
			add("manifest.json: scan_list[%d] has no id", i)
			continue
		}
		if seen[sc.ID] {
			add("manifest.json: scan_list id %q appears twice", sc.ID)
		}
		seen[sc.ID] = true
		if sc.Floor == "" {
			add("manifest.json: scan %q has no floor", sc.ID)
		} else if _, ok := m.FloorMap[sc.Floor.String()]; !ok {
			add("manifest.json: scan %q is on floor %s, which floor_map does not list", sc.ID, sc.Floor)
		}
		name := "images/" + sc.ID + ".jpg"
		f := files[name]
		if f == nil {
			add("%s: missing (scan_list id %q)", name, sc.ID)
			continue
		}
		head, err := readEntry(f, 3)
		if err != nil || len(head) < 3 || head[0] != 0xFF || head[1] != 0xD8 || head[2] != 0xFF {
			add("%s: not a JPEG", name)
		}
	}
	return strings.Join(problems, "; ")
}

func readEntry(f *zip.File, limit int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, limit))
}

func orNone(b json.RawMessage) string {
	if len(b) == 0 {
		return "missing"
	}
	return string(b)
}

// readerAt is an opened package.
type readerAt interface {
	io.ReaderAt
	io.Closer
}

// store is where the fake reads submitted packages from.
type store interface {
	exists(ctx context.Context, key string) (bool, error)
	open(ctx context.Context, key string) (readerAt, int64, error)
}

type builtinStore struct {
	s      *minis3.Server
	bucket string
}

func (b builtinStore) exists(_ context.Context, key string) (bool, error) {
	rc, _, err := b.s.OpenObject(b.bucket, key)
	if errors.Is(err, minis3.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	rc.Close()
	return true, nil
}

func (b builtinStore) open(_ context.Context, key string) (readerAt, int64, error) {
	rc, size, err := b.s.OpenObject(b.bucket, key)
	if err != nil {
		return nil, 0, err
	}
	// minis3 readers are ReaderAts; anything else would be a minis3 bug.
	ra, ok := rc.(readerAt)
	if !ok {
		rc.Close()
		return nil, 0, fmt.Errorf("minis3 reader %T is not an io.ReaderAt", rc)
	}
	return ra, size, nil
}

// externalStore reads from an S3 endpoint with the credentials the fake
// hands out, path-style, without the checksums some stores refuse.
type externalStore struct {
	client *s3.Client
	bucket string
}

func newExternalStore(o Options) externalStore {
	return externalStore{
		bucket: o.Bucket,
		client: s3.New(s3.Options{
			Region:                     o.Region,
			BaseEndpoint:               aws.String(o.S3Endpoint),
			UsePathStyle:               true,
			Credentials:                credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, o.SessionToken),
			RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
			ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		}),
	}
}

func (e externalStore) exists(ctx context.Context, key string) (bool, error) {
	_, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)})
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NoSuchKey") {
		return false, nil
	}
	return err == nil, err
}

func (e externalStore) open(ctx context.Context, key string) (readerAt, int64, error) {
	out, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, 0, err
	}
	defer out.Body.Close()
	return spool(out.Body)
}

// download fetches a zip_cos_url: from the store when it names an object
// under DownloadHost, else over HTTP (a presigned URL, say).
func (s *Server) download(ctx context.Context, rawURL string) (readerAt, int64, error) {
	if rest, ok := strings.CutPrefix(rawURL, s.opts.DownloadHost+"/"); ok {
		rest, _, _ = strings.Cut(rest, "?")
		key, err := url.PathUnescape(rest)
		if err != nil {
			return nil, 0, err
		}
		return s.store.open(ctx, key)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, 0, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("GET zip_cos_url: %s", res.Status)
	}
	return spool(res.Body)
}

// spool copies a download to a temporary file, which zip needs to seek in
// and which may be too big for memory.
func spool(r io.Reader) (readerAt, int64, error) {
	f, err := os.CreateTemp("", "realseetest-*.zip")
	if err != nil {
		return nil, 0, err
	}
	n, err := io.Copy(f, r)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, err
	}
	return tempFile{f}, n, nil
}

type tempFile struct{ *os.File }

func (t tempFile) Close() error {
	err := t.File.Close()
	os.Remove(t.Name())
	return err
}

func itoa(n int) string { return strconv.Itoa(n) }

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
