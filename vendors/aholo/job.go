package aholo

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/aholo/internal/media"
	"github.com/scandrop/scandrop/vendors/dropfs"
)

// Journal keys. Values are plain JSON so that a journal written by one
// version can be read by the next.
const (
	// keyPackage holds packageRecord: every resource with its md5 and metadata.
	keyPackage = "aholo.package"
	// keyUploads holds map[name]uploadRecord: md5, size and, once OUS has
	// the whole file, its URL.
	keyUploads = "aholo.uploads"
	// keyAssets holds map[asset]assetRecord for Finish.
	keyAssets = "aholo.assets"
)

type packageRecord struct {
	Files []file `json:"files"`
}

type uploadRecord struct {
	MD5  string `json:"md5"`
	Size int64  `json:"size"`
	URL  string `json:"url,omitempty"`
}

type assetRecord struct {
	File string `json:"file"` // relative to the drop
	Size int64  `json:"size"`
}

// Job is one validated Aholo drop. It also implements vendors.Finisher.
type Job struct {
	v     *Vendor
	dir   string
	recon recon
	files []file
	cover string
	log   *slog.Logger

	// sent counts file bytes handed to OUS by this Job, for logs and tests.
	sent atomic.Int64
}

var (
	_ vendors.Job      = (*Job)(nil)
	_ vendors.Finisher = (*Job)(nil)
)

func (j *Job) index(name string) int {
	return slices.IndexFunc(j.files, func(f file) bool { return f.Name == name })
}

// sameFiles reports whether a recorded package lists the resources Open
// found, same names and stamps in the same order. A record without stamps
// (an older version's) does not match: packaging again gives the same MD5s,
// so uploads already made are kept.
func (j *Job) sameFiles(rec []file) bool {
	return slices.EqualFunc(rec, j.files, func(a, b file) bool {
		return a.Name == b.Name && a.Size == b.Size && a.Stamp == b.Stamp
	})
}

// Package computes every resource's MD5 (OUS identifies files by it, and a
// resumed block upload finds its blocks by it) and records it with the
// metadata. With a journal that already holds the same resources it returns
// at once.
func (j *Job) Package(ctx context.Context, jr vendors.Journal) error {
	const op = "aholo: package"
	var rec packageRecord
	ok, err := jr.Load(keyPackage, &rec)
	if err != nil {
		return vendors.E(vendors.Other, op, fmt.Errorf("journal: %w", err))
	}
	if ok && j.sameFiles(rec.Files) {
		j.files = rec.Files
		return nil
	}
	if ok {
		j.log.Warn("aholo: resources changed since they were packaged; packaging again")
	}
	files := slices.Clone(j.files)
	for i := range files {
		sum, err := fileMD5(ctx, j.dir, files[i])
		if err != nil {
			if ctx.Err() != nil {
				return vendors.E(vendors.Transient, op, ctx.Err())
			}
			return err
		}
		files[i].MD5 = sum
	}
	if err := jr.Store(keyPackage, packageRecord{Files: files}); err != nil {
		return vendors.E(vendors.Transient, op, fmt.Errorf("journal: %w", err))
	}
	j.files = files
	j.log.Info("aholo: packaged", "files", len(files), "bytes", totalSize(files))
	return nil
}

func kindOfFileErr(ctx context.Context, err error) vendors.Kind {
	if ctx.Err() != nil {
		return vendors.Transient
	}
	return vendors.KindOf(err)
}

// fileMD5 reads a resource once, if it is still the file Open validated and
// was not changed while being read.
func fileMD5(ctx context.Context, dir string, f file) (string, error) {
	const op = "aholo: package"
	fh, err := dropfs.OpenStamped(op, dir, f.Name, f.Stamp)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := md5.New()
	if _, err := io.Copy(h, ctxReader{ctx, fh}); err != nil {
		return "", vendors.E(vendors.Other, op, fmt.Errorf("%s: %w", f.Name, err))
	}
	if err := dropfs.CheckOpen(op, dir, f.Name, fh, f.Stamp); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// verify checks every resource against its stamp (Lstat, no data read),
// once all are uploaded: a file can change after it was sent.
func (j *Job) verify() error {
	for _, f := range j.files {
		if err := dropfs.Verify("aholo: upload", j.dir, f.Name, f.Stamp); err != nil {
			return err
		}
	}
	return nil
}

// ctxReader stops a long read when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

func totalSize(files []file) int64 {
	var n int64
	for _, f := range files {
		n += f.Size
	}
	return n
}

// packaged makes sure every resource has its md5, packaging first if the
// pipeline skipped Package.
func (j *Job) packaged(ctx context.Context, jr vendors.Journal) error {
	if slices.ContainsFunc(j.files, func(f file) bool { return f.MD5 == "" }) {
		return j.Package(ctx, jr)
	}
	return nil
}

// Submit creates the create-3d-recon project from the uploaded resources.
// Every call may create a project: errors carry SafeToRetry only when the
// service answered with an error envelope or no connection was made; an
// outcome that cannot be known is Kind Unknown.
func (j *Job) Submit(ctx context.Context, jr vendors.Journal) (vendors.IDs, error) {
	const op = "aholo: submit"
	if err := j.packaged(ctx, jr); err != nil {
		return nil, err
	}
	uploads := map[string]uploadRecord{}
	if _, err := jr.Load(keyUploads, &uploads); err != nil {
		return nil, &vendors.Error{Kind: vendors.Other, Op: op, SafeToRetry: true, Err: fmt.Errorf("journal: %w", err)}
	}
	body := createRecon{
		ProjectName: j.recon.Name,
		Scene:       j.recon.Scene,
		TaskQuality: j.recon.Quality,
		AccessLevel: 1,
		UploadSog:   j.recon.UploadSog,
		Panorama:    j.recon.Panorama,
		Resources:   []resource{},
	}
	if j.recon.Public {
		body.AccessLevel = 0
	}
	for _, f := range j.files {
		u := uploads[f.Name]
		if u.URL == "" || u.MD5 != f.MD5 {
			return nil, &vendors.Error{Kind: vendors.Other, Op: op, SafeToRetry: true,
				Err: fmt.Errorf("%s is not uploaded yet; Upload must finish before Submit", f.Name)}
		}
		r := resource{Name: f.Name, Type: typeImage, URL: u.URL, Meta: meta{Width: f.Width, Height: f.Height}}
		if f.Kind == media.Video {
			d := f.Duration
			r.Type, r.Meta.Duration = j.v.cfg.VideoType, &d
		}
		body.Resources = append(body.Resources, r)
		if f.Name == j.cover {
			body.Cover = u.URL
		}
	}
	var id projectRef
	// A lost answer is an unknown outcome (vendors.HTTPOutcome): a project
	// may exist, and only a person can tell.
	err := j.v.client.api(ctx, op, http.MethodPost, "/project/create-3d-recon", nil, body, &id, true)
	if err != nil {
		// The pipeline says what happens next (a retry, once per outage,
		// or the job's failure); here only the detail, for debugging.
		j.log.Debug("aholo: submit failed", "err", err, "safe_to_retry", vendors.SafeToRetry(err))
		return nil, err
	}
	if id == "" {
		return nil, vendors.E(vendors.Unknown, op, "the service answered success without a projectId")
	}
	// The id goes to result.json, the journal, logs and every poll.
	if err := vendors.CheckID("projectId", string(id)); err != nil {
		return nil, vendors.E(vendors.Rejected, op, err)
	}
	j.log.Info("aholo: project created", "project_id", string(id), "resources", len(body.Resources))
	return vendors.IDs{"project_id": string(id)}, nil
}

// Poll asks task/list/by-ids once (retrying transient failures a few times).
func (j *Job) Poll(ctx context.Context, ids vendors.IDs) (vendors.Status, error) {
	const op = "aholo: poll"
	id := ids["project_id"]
	if id == "" {
		return vendors.Status{}, vendors.E(vendors.Other, op, "no project_id in the job's ids")
	}
	var tasks []task
	err := j.v.client.api(ctx, op, http.MethodPost, "/project/task/list/by-ids", nil, []string{id}, &tasks, false)
	if err != nil {
		return vendors.Status{}, err
	}
	var t *task
	for i := range tasks {
		if string(tasks[i].ProjectID) == id {
			t = &tasks[i]
			break
		}
	}
	if t == nil && len(tasks) > 0 {
		// Asked for one id, the answer is about it, whatever it calls
		// the project (the quickstart reads tasks[0]).
		t = &tasks[0]
	}
	if t == nil {
		// Seen right after a create; the pipeline's timeout bounds it.
		return vendors.Status{State: vendors.Running, Detail: "not listed yet"}, nil
	}
	code := int(t.Status)
	s, known := taskStatuses[code]
	switch {
	case !known:
		j.log.Warn("aholo: unknown task status", "project_id", id, "status", code)
		return vendors.Status{State: vendors.Running, Detail: fmt.Sprintf("status %d", code)}, nil
	case code == 3:
		st := vendors.Status{State: vendors.Succeeded, Detail: s.word, Assets: map[string]string{}}
		if r := t.Result; r != nil {
			for k, p := range map[string]string{"ply": r.PlyPath, "spz": r.SpzPath, "sog": r.SogPath} {
				if p == "" {
					continue
				}
				// Written to result.json and webhooks, and downloaded.
				u := j.resolve(p)
				if err := vendors.CheckLink(k+"Path", u); err != nil {
					return vendors.Status{}, vendors.E(vendors.Rejected, op, err)
				}
				st.Assets[k] = u
			}
		}
		return st, nil
	case s.terminal:
		return vendors.Status{State: vendors.Failed, Detail: s.word}, nil
	}
	return vendors.Status{State: vendors.Running, Detail: s.word}, nil
}

// resolve makes a result path a URL: paths seen without a scheme are taken
// relative to the endpoint's host. Anything with a scheme (javascript: too)
// is returned as it is, for CheckLink to judge.
func (j *Job) resolve(p string) string {
	if u, err := url.Parse(p); err != nil || u.Scheme != "" {
		return p
	}
	u := *j.v.client.endpoint
	u.Path, u.RawQuery = "/"+strings.TrimPrefix(p, "/"), ""
	return u.String()
}

// Finish downloads the assets into <drop>/assets/<name>.<ext> when enabled
// (Config.DownloadAssets, or download_assets in recon.yaml). Each file is
// written beside its final name and renamed into place once complete and of
// the announced length; one already there with the recorded size is kept.
func (j *Job) Finish(ctx context.Context, jr vendors.Journal, st *vendors.Status) error {
	const op = "aholo: finish"
	want := j.v.cfg.DownloadAssets
	if j.recon.DownloadAssets != nil {
		want = *j.recon.DownloadAssets
	}
	if !want || st == nil || len(st.Assets) == 0 {
		return nil
	}
	done := map[string]assetRecord{}
	if _, err := jr.Load(keyAssets, &done); err != nil {
		return vendors.E(vendors.Other, op, fmt.Errorf("journal: %w", err))
	}
	if err := os.MkdirAll(filepath.Join(j.dir, "assets"), 0o755); err != nil {
		return vendors.E(vendors.Other, op, err)
	}
	if err := dropfs.Adopt(j.dir, filepath.Join(j.dir, "assets")); err != nil { // the drop's owner, the umask's mode
		return vendors.E(vendors.Other, op, err)
	}
	keys := make([]string, 0, len(st.Assets))
	for k := range st.Assets {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		rel := path.Join("assets", safeFileName(j.recon.Name)+"."+safeFileName(k))
		if rec, ok := done[k]; ok && rec.File == rel {
			if fi, err := os.Lstat(filepath.Join(j.dir, filepath.FromSlash(rel))); err == nil && fi.Mode().IsRegular() && fi.Size() == rec.Size {
				continue
			}
		}
		n, err := j.download(ctx, st.Assets[k], filepath.Join(j.dir, filepath.FromSlash(rel)))
		if err != nil {
			return vendors.E(vendors.KindOf(err), op, fmt.Errorf("%s: %w", k, err))
		}
		done[k] = assetRecord{File: rel, Size: n}
		if err := jr.Store(keyAssets, done); err != nil {
			return vendors.E(vendors.Transient, op, fmt.Errorf("journal: %w", err))
		}
		j.log.Info("aholo: asset downloaded", "asset", k, "file", rel, "bytes", n)
	}
	return nil
}

// download streams u into dst through a temporary file, checking the length.
// The request carries no credentials of ours (result URLs may be a CDN's, and
// may redirect to another host); the HTTP outcome is the shared table's.
func (j *Job) download(ctx context.Context, u, dst string) (int64, error) {
	req, err := http.NewRequestWithContext(vendors.WithoutCredentials(ctx), http.MethodGet, u, nil)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry a signature
		}
		return 0, vendors.E(vendors.Rejected, "", fmt.Errorf("bad asset URL: %v", err))
	}
	resp, reached, err := vendors.Send(j.v.client.http, req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry a signature
		}
		return 0, vendors.HTTPOutcome("", vendors.Exchange{Reached: reached, Err: fmt.Errorf("GET %s: %w", req.URL.Path, err)})
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		x := vendors.Exchange{Reached: true, Status: resp.StatusCode, Header: resp.Header, Detail: "GET " + req.URL.Path, Now: j.v.client.clock.Now()}
		if e := vendors.HTTPOutcome("", x); e != nil {
			return 0, e
		}
		return 0, vendors.E(vendors.Rejected, "", fmt.Errorf("GET %s: HTTP %d", req.URL.Path, resp.StatusCode))
	}
	if fi, err := os.Lstat(dst); err == nil && fi.Mode().IsRegular() && resp.ContentLength >= 0 && fi.Size() == resp.ContentLength {
		return fi.Size(), nil // already there, from a run that died before journaling it
	}
	limit, why := j.assetLimit(filepath.Dir(dst))
	if resp.ContentLength > limit {
		return 0, vendors.E(vendors.Rejected, "", fmt.Errorf("GET %s: the vendor announced an asset of %d bytes, more than %s; nothing was written", req.URL.Path, resp.ContentLength, why))
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return 0, vendors.E(vendors.Other, "", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename; removes a partial file
	// One byte past the limit tells a body that does not stop from one
	// that ends exactly there. (A declared length is enforced by net/http:
	// the body ends there whatever else the server sends.)
	n, err := io.Copy(tmp, io.LimitReader(resp.Body, limit+1))
	if err == nil && n > limit {
		tmp.Close()
		return 0, vendors.E(vendors.Rejected, "", fmt.Errorf("GET %s: the vendor sent more than %s; the partial file was removed", req.URL.Path, why))
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, vendors.E(vendors.Transient, "", fmt.Errorf("GET %s: %w", req.URL.Path, err))
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return 0, vendors.E(vendors.Transient, "", fmt.Errorf("GET %s: got %d of %d bytes", req.URL.Path, n, resp.ContentLength))
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return 0, vendors.E(vendors.Other, "", err)
	}
	if err := dropfs.Adopt(j.dir, dst); err != nil { // the drop's owner, the umask's mode
		return 0, vendors.E(vendors.Other, "", err)
	}
	return n, nil
}

// MaxAssetBytes bounds one downloaded asset (Config.MaxAssetBytes): a
// Gaussian-splat result is at most a few GiB; a vendor that sends more is
// wrong, and must not fill the drop's disk.
const MaxAssetBytes = 32 << 30

// freeMargin is left free on the drop's file system by a download.
const freeMargin = 1 << 30

// assetLimit is how many bytes one asset written into dir may have: the
// ceiling, or the free space of dir's file system less freeMargin when
// that is smaller. why says which, for the error.
func (j *Job) assetLimit(dir string) (limit int64, why string) {
	limit = j.v.cfg.MaxAssetBytes
	if limit <= 0 {
		limit = MaxAssetBytes
	}
	why = fmt.Sprintf("the %d-byte limit per asset", limit)
	if free, ok := freeBytes(dir); ok && free-freeMargin < limit {
		limit = max(0, free-freeMargin)
		why = fmt.Sprintf("the drop's disk can take (%d bytes free, %d kept free)", free, int64(freeMargin))
	}
	return limit, why
}

// safeFileName keeps a project name usable as a file name everywhere.
func safeFileName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, strings.TrimSpace(s))
	s = strings.TrimLeft(s, ".~")
	if s == "" {
		s = "asset"
	}
	return s
}
