// Package realsee speaks the Realsee (如视) open platform's "全景图生成VR"
// API: a drop of equirectangular panoramas with a manifest.json becomes a
// zip in the vendor's bucket, a task, and finally a VR link.
//
// Regions: mainland https://app-gateway.realsee.cn (the document's base) and
// global https://app-gateway.realsee.ai; the endpoint is configuration,
// never a guess.
package realsee

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/dropfs"
	"github.com/scandrop/scandrop/vendors/internal/stall"
)

// DefaultEndpoint is the mainland gateway.
const DefaultEndpoint = "https://app-gateway.realsee.cn"

// Defaults of the vendor's settings, and the object store's part size
// limits: the one home of each (internal/config applies them to its
// realsee: section).
const (
	DefaultPartSize          = 16 << 20
	DefaultUploadConcurrency = 4
	// DefaultTimeout is how long a task may take, from its submit, before
	// the job fails as timeout: Realsee's pano tasks take minutes.
	DefaultTimeout = 2 * time.Hour
	// MinPartSize and MaxPartSize bound a multipart part (S3 and COS
	// alike; only the last part may be smaller than MinPartSize).
	MinPartSize = 5 << 20
	MaxPartSize = 5 << 30
)

// Config configures the vendor.
type Config struct {
	Endpoint  string // gateway base URL; default DefaultEndpoint
	AppKey    string
	AppSecret string
	// PartSize is the multipart part size; default DefaultPartSize. The archive's
	// parts are read straight from the files, so memory does not grow
	// with it. An archive that would need more than S3's 10,000 parts of
	// it is sent in larger parts (planPartSize).
	PartSize int64
	// UploadConcurrency is how many parts are in flight; default
	// DefaultUploadConcurrency.
	UploadConcurrency int
	HTTPClient        *http.Client // for the gateway and the store; default http.DefaultClient
	// StallTimeout is how long a connection to the gateway or the store
	// may move no byte, either way, before the request fails as stalled
	// (a transient error, retried). Default DefaultStallTimeout; negative
	// turns the guard off. It applies when HTTPClient's transport is an
	// *http.Transport (or nil); another transport is the caller's to bound.
	StallTimeout time.Duration
	Clock        vendors.Clock
	Logger       *slog.Logger
}

// Vendor is the Realsee vendor. It is safe for concurrent use; jobs share
// its access token.
type Vendor struct {
	cfg    Config
	client *client
	// Sent counts archive bytes handed to the store, re-sends included.
	Sent atomic.Int64
}

// New returns a Vendor for cfg.
func New(cfg Config) *Vendor {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	cfg.Endpoint = strings.TrimRight(cfg.Endpoint, "/")
	if cfg.PartSize <= 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.UploadConcurrency <= 0 {
		cfg.UploadConcurrency = DefaultUploadConcurrency
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	// The store's pool first: the guard's transport is not an
	// *http.Transport that storeClient could widen later.
	cfg.HTTPClient = stall.Guard(storeClient(cfg.HTTPClient), cfg.StallTimeout)
	if cfg.Clock == nil {
		cfg.Clock = vendors.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// Credentials go only where each request was sent (vendors.GuardRedirects).
	cfg.HTTPClient = vendors.GuardRedirects(cfg.HTTPClient, cfg.Logger)
	return &Vendor{cfg: cfg, client: &client{
		endpoint: cfg.Endpoint, appKey: cfg.AppKey, appSecret: cfg.AppSecret,
		http: cfg.HTTPClient, clock: cfg.Clock,
	}}
}

func (v *Vendor) Name() string   { return "realsee" }
func (v *Vendor) Marker() string { return ManifestName }

// Open validates the drop in dir.
func (v *Vendor) Open(ctx context.Context, dir string) (vendors.Job, error) {
	d, err := validate(dir)
	if err != nil {
		return nil, err
	}
	if err := checkArchiveSize(archiveSize(d)); err != nil {
		return nil, err
	}
	return &job{v: v, d: d}, nil
}

// Check validates a drop offline, for `scandrop check`.
func Check(dir string) error {
	d, err := validate(dir)
	if err != nil {
		return err
	}
	return checkArchiveSize(archiveSize(d))
}

type job struct {
	v *Vendor
	d *drop
}

// packageState is the journal record of the package stage: the archive's
// entries, so that a restart lays out the same archive.
type packageState struct {
	// Entries' CRC32 fields are not used: the CRCs are computed during the
	// upload and journalled apart (crc.go). (Versions before that wrote
	// them here.)
	Entries []zipEntry `json:"entries"`
	// Stamps are the entries' files as validated, in the same order; the
	// upload opens each file only if it still matches. They are kept out
	// of Entries so that the archive's fingerprint is the bytes alone.
	Stamps []dropfs.Stamp `json:"stamps"`
}

const journalPackage = "realsee.package"

// Package records the archive's layout: the entries' names and sizes, from
// validation. It reads no file but the manifest's first bytes; the CRCs are
// computed while the upload runs.
func (j *job) Package(ctx context.Context, jr vendors.Journal) error {
	var ps packageState
	if ok, err := jr.Load(journalPackage, &ps); err != nil {
		return err
	} else if ok && j.matches(ps) {
		return nil
	}
	const op = "realsee: package"
	// The vendor gets the manifest without the UTF-8 byte order mark
	// validation accepts: JSON readers may refuse one. The manifest must be
	// the one validation checked.
	fh, err := dropfs.OpenStamped(op, j.d.dir, ManifestName, j.d.manifest.Stamp)
	if err != nil {
		return err
	}
	skip := manifestBOM(fh)
	fh.Close()
	ps.Entries = []zipEntry{{Name: ManifestName, File: ManifestName, Size: j.d.manifest.Size - skip, Skip: skip, ModTime: j.d.manifest.Stamp.MTime}}
	ps.Stamps = []dropfs.Stamp{j.d.manifest.Stamp}
	for _, img := range j.d.images {
		ps.Entries = append(ps.Entries, zipEntry{Name: img.ZipName, File: img.File, Size: img.Size, ModTime: img.Stamp.MTime})
		ps.Stamps = append(ps.Stamps, img.Stamp)
	}
	return jr.Store(journalPackage, ps)
}

// matches reports whether a journalled package still describes the drop's
// files as validation found them (same names and stamps). A journal
// without stamps (an older version's) does not match: packaging again gives
// the same entries, so an upload under way still resumes.
func (j *job) matches(ps packageState) bool {
	es := ps.Entries
	if len(es) != len(j.d.images)+1 || len(ps.Stamps) != len(es) {
		return false
	}
	if es[0].File != ManifestName || es[0].Skip+es[0].Size != j.d.manifest.Size || ps.Stamps[0] != j.d.manifest.Stamp {
		return false
	}
	for i, img := range j.d.images {
		e := es[i+1]
		if e.File != img.File || e.Name != img.ZipName || e.Size != img.Size || ps.Stamps[i+1] != img.Stamp {
			return false
		}
	}
	return true
}

// layout lays out the packaged archive, its CRCs not yet set, with its
// fingerprint: the hash of everything but the CRCs, which the files give.
func (j *job) layout(jr vendors.Journal) (*zipLayout, []zipEntry, map[string]dropfs.Stamp, string, error) {
	var ps packageState
	ok, err := jr.Load(journalPackage, &ps)
	if err != nil {
		return nil, nil, nil, "", err
	}
	if !ok || !j.matches(ps) {
		return nil, nil, nil, "", vendors.E(vendors.Other, "realsee: upload", "the drop changed since it was packaged")
	}
	stamps := make(map[string]dropfs.Stamp, len(ps.Entries))
	for i, e := range ps.Entries {
		stamps[e.File] = ps.Stamps[i]
	}
	for i := range ps.Entries {
		ps.Entries[i].time = time.Unix(0, ps.Entries[i].ModTime)
		ps.Entries[i].CRC32 = 0
	}
	h := sha256.New()
	json.NewEncoder(h).Encode(ps.Entries)
	return layoutZip(ps.Entries, false), ps.Entries, stamps, hex.EncodeToString(h.Sum(nil))[:16], nil
}

// Upload streams the archive into the vendor's bucket.
func (j *job) Upload(ctx context.Context, jr vendors.Journal, p vendors.Progress) error {
	layout, entries, stamps, fingerprint, err := j.layout(jr)
	if err != nil {
		return err
	}
	// Every file is opened only if it is still the one packaged, checked
	// again when read to its end, and all are checked once more before the
	// upload is completed: a file that changes under the upload fails the
	// job, naming it, instead of sending bytes that were never validated.
	arch := &archive{layout: layout, dir: j.d.dir, stamps: stamps}
	defer arch.Close()
	var st uploadState
	if _, err := jr.Load(journalUpload, &st); err != nil {
		return err
	}
	if st.Done && st.Layout == fingerprint {
		if err := arch.verify(); err != nil {
			return err
		}
		if p != nil {
			p.Uploaded(st.Size, st.Size)
		}
		return nil
	}
	if st.Layout != fingerprint {
		st = uploadState{}
	}

	// The part size is planned once, when the upload starts, and journalled
	// with it: a resumed upload keeps it even if part_size was changed.
	partSize, err := planPartSize(layout.total, j.v.cfg.PartSize)
	if err != nil {
		return err
	}

	// The first file token fixes where the zip goes; later ones only renew
	// the credentials for that place.
	first, err := j.v.fileToken(ctx)
	if err != nil {
		return err
	}
	if st.UploadID == "" || !st.planOK() {
		where, err := storageOf(first)
		if err != nil {
			return vendors.E(vendors.Rejected, "realsee: file token", err)
		}
		st = uploadState{Storage: where, Key: where.Prefix + zipName(j.d.dir), Layout: fingerprint,
			PartSize: partSize, Size: layout.total}
	}
	used := false
	src := &credentialSource{clock: j.v.cfg.Clock, fetch: func(ctx context.Context) (*fileToken, error) {
		if !used {
			used = true
			return first, nil
		}
		return j.v.fileToken(ctx)
	}}
	creds := aws.NewCredentialsCache(src)
	// The CRCs are computed while the parts upload (crc.go).
	crc, err := newCRCPass(layout, entries, j.d.dir, stamps, jr, fingerprint, crcWindow(st.PartSize, j.v.cfg.UploadConcurrency))
	if err != nil {
		return err
	}
	crcCtx, stopCRC := context.WithCancel(ctx)
	crcDone := make(chan struct{})
	go func() {
		defer close(crcDone)
		crc.run(crcCtx)
	}()
	defer func() {
		stopCRC()
		<-crcDone
	}()
	send := func() error {
		m := &multipart{
			s3: newS3(st.Storage, creds, j.v.cfg.HTTPClient), creds: creds, st: &st, j: jr, arch: arch, crc: crc,
			concurrency: j.v.cfg.UploadConcurrency, progress: p, sent: &j.v.Sent,
		}
		if st.UploadID == "" && st.Size <= st.PartSize {
			return m.putWhole(ctx)
		}
		err := m.run(ctx)
		if err != nil && multipartUnsupported(err) {
			if st.Size > maxPut {
				return errTooLargeForPut(st.Size, err)
			}
			st.UploadID, st.Parts = "", nil
			return m.putWhole(ctx)
		}
		return err
	}
	err = send()
	if err != nil && st.UploadID == "" && readdress(&st.Storage, err) {
		j.v.cfg.Logger.Warn("realsee: the store answered for another address; using it",
			"endpoint", st.Storage.Endpoint, "region", st.Storage.Region, "path_style", st.Storage.PathStyle)
		err = send()
	}
	if bad := arch.changed(); bad != nil {
		return bad // whatever the store made of the broken read
	}
	if err == nil {
		// A one-request upload completes with its last byte: a file that
		// changed since then is caught here, before Submit.
		err = arch.verify()
	}
	return err
}

func (v *Vendor) fileToken(ctx context.Context) (*fileToken, error) {
	var t fileToken
	if err := v.client.call(ctx, "realsee: file token", http.MethodGet, "/open/v1/pano/file/token", nil, nil, &t); err != nil {
		return nil, err
	}
	if t.TmpSecretID == "" || t.TmpSecretKey == "" {
		return nil, vendors.E(vendors.Transient, "realsee: file token", "answer has no credentials")
	}
	return &t, nil
}

var unsafeKeyChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// zipName names the object after the folder, in characters every store
// and URL accepts.
func zipName(dir string) string {
	base := strings.Trim(unsafeKeyChars.ReplaceAllString(filepath.Base(dir), "-"), "-.")
	if base == "" {
		base = "project"
	}
	if len(base) > 80 {
		base = base[:80]
	}
	return base + ".zip"
}

// Submit creates the VR task for the uploaded archive. Not idempotent.
func (j *job) Submit(ctx context.Context, jr vendors.Journal) (vendors.IDs, error) {
	const op = "realsee: submit"
	var st uploadState
	if ok, err := jr.Load(journalUpload, &st); err != nil {
		return nil, err
	} else if !ok || !st.Done {
		return nil, vendors.E(vendors.Other, op, "the archive is not uploaded")
	}
	req := submitRequest{ProjectName: j.projectName()}
	if st.Storage.DownloadHost == "" {
		req.PrivateCosKey = st.Key
	} else {
		u, err := j.v.downloadURL(ctx, st)
		if err != nil {
			return nil, err
		}
		req.ZipCosURL = u
	}
	var out submitResponse
	// A lost answer is an unknown outcome (vendors.HTTPOutcome), never a
	// transient error.
	if err := j.v.client.call(ctx, op, http.MethodPost, "/open/v1/pano/task/submit", nil, req, &out); err != nil {
		return nil, err
	}
	if out.TaskCode == "" {
		return nil, vendors.E(vendors.Unknown, op, "answer has no task_code")
	}
	// The ids go to result.json, the journal, logs and every status query.
	if err := vendors.CheckID("task_code", string(out.TaskCode)); err != nil {
		return nil, vendors.E(vendors.Rejected, op, err)
	}
	ids := vendors.IDs{"task_code": string(out.TaskCode)}
	if out.ProjectID != "" {
		if err := vendors.CheckID("project_id", string(out.ProjectID)); err != nil {
			return nil, vendors.E(vendors.Rejected, op, err)
		}
		ids["project_id"] = string(out.ProjectID)
	}
	return ids, nil
}

// projectName is the manifest's project_name with {{timestamp}} replaced
// (as the gateway itself would), or the folder's name when it has none.
func (j *job) projectName() string {
	name := strings.TrimSpace(j.d.projectName)
	if name == "" {
		name = filepath.Base(j.d.dir)
	}
	return strings.ReplaceAll(name, "{{timestamp}}", strconv.FormatInt(j.v.cfg.Clock.Now().Unix(), 10))
}

// downloadURL is the zip's address when the bucket is public
// (download_host set): a plain URL, or a presigned one for "presign".
func (v *Vendor) downloadURL(ctx context.Context, st uploadState) (string, error) {
	host := st.Storage.DownloadHost
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	host = strings.TrimRight(host, "/")
	if st.Storage.DownloadType != "presign" {
		return host + "/" + escapeKey(st.Key), nil
	}
	t, err := v.fileToken(ctx)
	if err != nil {
		return "", err
	}
	// The presigned URL carries a signature of the temporary credentials.
	if u, err := url.Parse(host); err != nil || u.Host == "" {
		return "", vendors.E(vendors.Rejected, "realsee: presign", "the file token's download_host is not a host")
	} else if err := vendors.CheckCredentialEndpoint("the download host in the file token", u.Scheme, u.Host); err != nil {
		return "", vendors.E(vendors.Rejected, "realsee: presign", err)
	}
	dl := st.Storage
	dl.Endpoint, dl.PathStyle = host, false
	creds := aws.NewCredentialsCache(&credentialSource{clock: v.cfg.Clock, fetch: func(context.Context) (*fileToken, error) { return t, nil }})
	ps := s3.NewPresignClient(newS3(dl, creds, v.cfg.HTTPClient), s3.WithPresignExpires(time.Hour))
	req, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &st.Storage.Bucket, Key: &st.Key})
	if err != nil {
		return "", vendors.E(vendors.Other, "realsee: presign", err)
	}
	return req.URL, nil
}

func escapeKey(k string) string {
	parts := strings.Split(k, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// Poll asks for the task's status once.
func (j *job) Poll(ctx context.Context, ids vendors.IDs) (vendors.Status, error) {
	code := ids["task_code"]
	if code == "" {
		return vendors.Status{}, vendors.E(vendors.Other, "realsee: status", "no task_code")
	}
	var ts taskStatus
	err := j.v.client.call(ctx, "realsee: status", http.MethodGet, "/open/v1/pano/task/status",
		url.Values{"task_code": {code}}, nil, &ts)
	if err != nil {
		return vendors.Status{}, err
	}
	switch strings.ToLower(ts.Status) {
	case "success":
		if ts.VRURL == "" {
			return vendors.Status{State: vendors.Running, Detail: "success without vr_url yet"}, nil
		}
		// The link goes to result.json and webhooks: a javascript: link or
		// one cut short is not a success.
		if err := vendors.CheckLink("vr_url", ts.VRURL); err != nil {
			return vendors.Status{}, vendors.E(vendors.Rejected, "realsee: status", err)
		}
		return vendors.Status{State: vendors.Succeeded, Detail: ts.Status, VRURL: ts.VRURL}, nil
	case "failed", "fail", "failure", "error":
		return vendors.Status{State: vendors.Failed, Detail: ts.Status}, nil
	}
	return vendors.Status{State: vendors.Running, Detail: ts.Status}, nil
}
