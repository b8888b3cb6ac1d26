package realsee

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/scandrop/scandrop/vendors"
)

// storage is where a file token says to put the zip: an S3 (or COS, which
// speaks S3 for PUT and multipart) bucket reached with temporary
// credentials.
type storage struct {
	Endpoint  string `json:"endpoint"` // scheme://host[:port]
	PathStyle bool   `json:"path_style"`
	Bucket    string `json:"bucket"`
	Region    string `json:"region"`
	Prefix    string `json:"prefix"`
	// DownloadHost and DownloadType decide how submit names the zip.
	DownloadHost string `json:"download_host,omitempty"`
	DownloadType string `json:"download_type,omitempty"`
}

// storageOf reads the addressing rules out of a file token. The document's
// example builds the endpoint from custom_scheme://custom_domain and lets
// the SDK add the bucket, but the real custom_domain already starts with the
// bucket; IP and localhost hosts (private clouds, tests) need path-style.
func storageOf(t *fileToken) (storage, error) {
	st := storage{Bucket: t.Bucket, Region: t.Region, Prefix: t.Prefix,
		DownloadHost: t.DownloadHost, DownloadType: t.DownloadType}
	if st.Region == "" {
		st.Region = "us-east-1"
	}
	if st.Bucket == "" {
		return st, errors.New("file token names no bucket")
	}
	scheme := strings.TrimSuffix(strings.ToLower(t.CustomScheme), "://")
	host := strings.TrimSpace(t.CustomDomain)
	if host == "" {
		host = strings.TrimSpace(t.Host)
	}
	if i := strings.Index(host, "://"); i >= 0 {
		if scheme == "" {
			scheme = strings.ToLower(host[:i])
		}
		host = host[i+3:]
	}
	host = strings.TrimRight(host, "/")
	if host == "" {
		return st, errors.New("file token names no upload host (custom_domain, host)")
	}
	if scheme == "" {
		scheme = "https"
	}
	if scheme != "http" && scheme != "https" {
		return st, fmt.Errorf("file token has an unknown scheme %q", scheme)
	}
	if err := vendors.CheckHostPort("the upload host in the file token", host); err != nil {
		return st, err
	}
	bare := strings.TrimPrefix(host, st.Bucket+".")
	// Every PUT carries the temporary key id and the session token: over
	// plain http they would cross the network in clear. The document
	// builds the endpoint from custom_scheme "https"; http is kept for
	// loopback stores, whose traffic never leaves the machine.
	if err := vendors.CheckCredentialEndpoint("the upload endpoint in the file token", scheme, bare); err != nil {
		return st, err
	}
	if pathStyleHost(bare) {
		st.Endpoint, st.PathStyle = scheme+"://"+bare, true
		return st, nil
	}
	// Virtual-hosted: the bucket leads the host name, exactly once.
	st.Endpoint = scheme + "://" + st.Bucket + "." + bare
	return st, nil
}

// pathStyleHost reports whether the store at hostport is addressed with
// the bucket in the path: an IP address, or this machine (a loopback
// store), where a bucket cannot lead the host name.
func pathStyleHost(hostport string) bool {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	return net.ParseIP(strings.Trim(h, "[]")) != nil || vendors.IsLoopback(hostport)
}

// fixedEndpoint resolves every S3 call to the storage's endpoint, as the
// vendor gave it, instead of the SDK's own rules for AWS hosts.
type fixedEndpoint struct{ st storage }

func (r fixedEndpoint) ResolveEndpoint(ctx context.Context, p s3.EndpointParameters) (smithyendpoints.Endpoint, error) {
	u, err := url.Parse(r.st.Endpoint)
	if err != nil {
		return smithyendpoints.Endpoint{}, err
	}
	if r.st.PathStyle {
		u.Path = "/" + r.st.Bucket
	}
	return smithyendpoints.Endpoint{URI: *u}, nil
}

// credentialSource fetches temporary credentials from the gateway. It is
// an aws.CredentialsProvider: the SDK's cache calls it again when the last
// ones near their end, so a long upload survives the 1-hour credentials.
type credentialSource struct {
	fetch func(ctx context.Context) (*fileToken, error)
	clock vendors.Clock
}

func (c *credentialSource) Retrieve(ctx context.Context) (aws.Credentials, error) {
	t, err := c.fetch(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	ttl := time.Duration(t.TTL) * time.Second
	if ttl <= 0 {
		ttl = time.Duration(t.Expire) * time.Second
	}
	if ttl <= 0 {
		ttl = time.Hour
	}
	// Renew well before the end: a part in flight must not outlive them.
	margin := ttl / 5
	if margin > 10*time.Minute {
		margin = 10 * time.Minute
	}
	return aws.Credentials{
		AccessKeyID: t.TmpSecretID, SecretAccessKey: t.TmpSecretKey, SessionToken: t.SessionToken,
		Source: "realsee file token", CanExpire: true, Expires: c.clock.Now().Add(ttl - margin),
	}, nil
}

// newS3 builds a client for st. Request checksums are sent only where the
// API requires them: since early 2025 the SDK otherwise streams aws-chunked
// CRC32 trailers, which COS and many S3-compatible stores refuse.
//
// Over HTTPS the payload is not signed (UNSIGNED-PAYLOAD, as the AWS SDK
// for Java's AWS4UnsignedPayloadSigner does): TLS already protects the body
// in transit, and signing it would mean reading every part twice, once to
// hash it for the signature and once to send it. The part's MD5 is then
// checked against the ETag instead (see uploadPart). Over plain HTTP the
// payload stays signed, so that the store checks every body against the
// signature.
func newS3(st storage, creds *aws.CredentialsCache, hc *http.Client) *s3.Client {
	apiOptions := []func(*middleware.Stack) error{limitAnswers}
	if !signsPayload(st) {
		apiOptions = append(apiOptions, unsignedPayload)
	}
	return s3.New(s3.Options{
		Region:                     st.Region,
		Credentials:                creds,
		HTTPClient:                 storeClient(hc),
		EndpointResolverV2:         fixedEndpoint{st},
		UsePathStyle:               st.PathStyle,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		APIOptions:                 apiOptions,
		// One attempt per request: a failed part goes back to the
		// pipeline, whose pacer waits, and the upload resumes from the
		// journal (internal/backoff: who waits).
		Retryer: aws.NopRetryer{},
	})
}

// signsPayload reports whether requests to st carry a signed payload.
func signsPayload(st storage) bool {
	return !strings.HasPrefix(strings.ToLower(st.Endpoint), "https://")
}

// unsignedPayload sends UNSIGNED-PAYLOAD instead of the body's SHA-256, in
// operations that would hash their body (presigning has no such step).
func unsignedPayload(stack *middleware.Stack) error {
	if _, ok := stack.Finalize.Get((*v4.ComputePayloadSHA256)(nil).ID()); !ok {
		return nil
	}
	return v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware(stack)
}

// maxAnswer bounds the body of every answer the store gives. The SDK reads
// an error answer whole into memory and decodes the others without a
// limit; the largest answer the upload needs, a page of ListParts (1,000
// parts), is a few hundred KiB.
const maxAnswer = 4 << 20

// errAnswerTooLarge is what reading past maxAnswer of an answer gives.
var errAnswerTooLarge = fmt.Errorf("the store's answer is larger than %d MiB; is the endpoint really an S3 store?", maxAnswer>>20)

// limitAnswers caps the body of the raw HTTP answer before the SDK's
// deserializers (added before it, so outside it) read it.
func limitAnswers(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("scandropLimitAnswer",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			if res, ok := out.RawResponse.(*smithyhttp.Response); ok && res.Body != nil {
				res.Body = &cappedBody{rc: res.Body, left: maxAnswer}
			}
			return out, md, err
		}), middleware.After)
}

// cappedBody fails, rather than ends, a body longer than its limit, so
// that a cut answer is never taken for a whole one.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errAnswerTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }

// storeConns is how many idle connections to the store are kept. The
// default transport keeps 2 per host, so with more parts in flight every
// part beyond the second would dial (and over HTTPS shake hands) anew.
const storeConns = 16

var storeClients sync.Map // *http.Client → *http.Client

// storeClient is hc with a connection pool big enough for parallel parts,
// when hc uses a plain *http.Transport that keeps fewer; any other
// transport (a test's, a proxy's) is used as it is. One clone per client,
// shared by all jobs, so that connections are reused across parts and jobs.
func storeClient(hc *http.Client) *http.Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	if c, ok := storeClients.Load(hc); ok {
		return c.(*http.Client)
	}
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	t, ok := rt.(*http.Transport)
	if !ok || t.MaxIdleConnsPerHost >= storeConns {
		return hc
	}
	tr := t.Clone()
	tr.MaxIdleConnsPerHost = storeConns
	c := *hc
	c.Transport = tr
	got, _ := storeClients.LoadOrStore(hc, &c)
	return got.(*http.Client)
}

// S3's limits on multipart uploads, which COS shares.
const (
	maxParts     = 10000
	maxObject    = 5 << 40
	partSizeUnit = 1 << 20
	// maxStoreID bounds an upload id or ETag the store answers: both are
	// journalled (an ETag per part) and sent back, and S3's are under 200
	// bytes.
	maxStoreID = 1 << 10
)

// planPartSize is the part size of an upload of size bytes: the configured
// size when the archive fits in maxParts parts of it, else the smallest
// whole number of MiB that does. A part is never larger than S3 allows.
// An archive larger than the largest object S3 stores is refused, as a
// problem of the drop, before anything is sent.
func planPartSize(size, configured int64) (int64, error) {
	if err := checkArchiveSize(size); err != nil {
		return 0, err
	}
	ps := min(max(configured, 1), MaxPartSize)
	if parts := (size + ps - 1) / ps; parts > maxParts {
		need := (size + maxParts - 1) / maxParts
		ps = (need + partSizeUnit - 1) / partSizeUnit * partSizeUnit
	}
	return ps, nil
}

// checkArchiveSize refuses an archive larger than one S3 object may be.
func checkArchiveSize(size int64) error {
	if size <= maxObject {
		return nil
	}
	var ps vendors.Problems
	ps.Add("", "the archive of this drop would be %s (%d bytes), more than the %s (%d bytes) one object in the vendor's storage may hold; split the scans into several drops",
		humanBytes(size), size, humanBytes(maxObject), int64(maxObject))
	return ps.Err("realsee: upload")
}

// archiveSize is the size of the archive of d, known before packaging:
// it depends only on the names and sizes of the files.
func archiveSize(d *drop) int64 {
	es := []zipEntry{{Name: ManifestName, Size: d.manifest.Size}}
	for _, img := range d.images {
		es = append(es, zipEntry{Name: img.ZipName, Size: img.Size})
	}
	return layoutZip(es, false).total
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// planOK reports whether a journalled upload can be resumed as it was
// planned: one journalled by a version without the plan may need more
// parts than S3 takes, and is then better started again.
func (s *uploadState) planOK() bool {
	return s.PartSize > 0 && s.PartSize <= MaxPartSize && s.Size >= 0 &&
		(s.Size+s.PartSize-1)/s.PartSize <= maxParts
}

// uploadState is the journal record of the multipart upload.
type uploadState struct {
	Storage  storage `json:"storage"`
	Key      string  `json:"key"`
	UploadID string  `json:"upload_id"`
	Layout   string  `json:"layout"` // fingerprint of the archive: parts of another layout are useless
	// PartSize is the plan (planPartSize), fixed when the upload starts:
	// a resumed upload keeps its part size and numbering whatever the
	// configuration says now.
	PartSize int64          `json:"part_size"`
	Size     int64          `json:"size"`
	Parts    map[int]string `json:"parts"` // part number → ETag, as the store answered
	Done     bool           `json:"done"`
}

const journalUpload = "realsee.upload"

// multipart sends the archive as a multipart upload, parts in parallel,
// resuming from the journal.
type multipart struct {
	s3          *s3.Client
	creds       *aws.CredentialsCache
	st          *uploadState
	j           vendors.Journal
	arch        *archive
	crc         *crcPass // the entries' CRCs, computed as the parts go
	concurrency int
	progress    vendors.Progress
	sent        *atomic.Int64 // body bytes handed to the store, re-sends included

	mu           sync.Mutex // guards st.Parts and unjournalled
	unjournalled int        // parts done since the last journal write
	// journal asks the journal writer (run) to record the parts done; nil
	// outside the parallel phase.
	journal chan struct{}
	done    atomic.Int64
}

func (m *multipart) parts() int {
	return int((m.st.Size + m.st.PartSize - 1) / m.st.PartSize)
}

func (m *multipart) run(ctx context.Context) error {
	op := "realsee: upload"
	if m.st.UploadID != "" {
		if err := m.reconcile(ctx); err != nil {
			return err
		}
	}
	if m.st.UploadID == "" {
		out, err := m.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: &m.st.Storage.Bucket, Key: &m.st.Key, ContentType: aws.String("application/zip"),
		})
		if err != nil {
			return s3Err(op+": start multipart upload", err)
		}
		id := aws.ToString(out.UploadId)
		if id == "" || len(id) > maxStoreID {
			return vendors.E(vendors.Rejected, op+": start multipart upload", fmt.Sprintf("the store answered an upload id of %d bytes", len(id)))
		}
		m.st.UploadID = id
		m.st.Parts = map[int]string{}
		if err := m.j.Store(journalUpload, m.st); err != nil {
			return err
		}
	}

	total := m.parts()
	for n := range m.st.Parts {
		m.done.Add(m.partLen(n))
	}
	m.report()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The parts done are journalled by a writer of its own, so that no
	// sender waits for the journal's fsync (tens of milliseconds while the
	// disk writes back) between two parts. It writes the latest state each
	// time, so requests that come while it writes are merged into one.
	m.journal = make(chan struct{}, 1)
	var journalErr error
	journalled := make(chan struct{})
	go func() {
		defer close(journalled)
		for range m.journal {
			if err := m.storeParts(); err != nil && journalErr == nil {
				journalErr = err
				cancel()
			}
		}
	}()
	todo := make(chan int)
	errs := make(chan error, m.concurrency)
	var wg sync.WaitGroup
	for w := 0; w < m.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range todo {
				if err := m.uploadPart(ctx, n); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
	var feedErr error
feed:
	for n := 1; n <= total; n++ {
		m.mu.Lock()
		_, have := m.st.Parts[n]
		m.mu.Unlock()
		if have {
			continue
		}
		// A part is sent once the CRCs of the headers in it are known.
		if err := m.crc.waitFor(ctx, int64(n-1)*m.st.PartSize+m.partLen(n)); err != nil {
			feedErr = err
			cancel()
			break
		}
		select {
		case todo <- n:
		case <-ctx.Done():
			break feed
		}
	}
	close(todo)
	wg.Wait()
	close(errs)
	close(m.journal)
	<-journalled
	m.journal = nil
	if journalErr != nil {
		return journalErr
	}
	if feedErr != nil {
		return feedErr // (the parts in flight then fail for being cancelled)
	}
	if err := <-errs; err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return vendors.E(vendors.Transient, op, err)
	}

	// A file may have changed after its part was sent.
	if err := m.arch.verify(); err != nil {
		return err
	}
	var done []types.CompletedPart
	for n := 1; n <= total; n++ {
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(n)), ETag: aws.String(m.st.Parts[n])})
	}
	_, err := m.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &m.st.Storage.Bucket, Key: &m.st.Key, UploadId: &m.st.UploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	if err != nil {
		return s3Err(op+": complete multipart upload", err)
	}
	m.st.Done = true
	return m.j.Store(journalUpload, m.st)
}

// reconcile checks a journalled upload against the store after a restart:
// parts the store holds with the right size are kept; an upload the store
// no longer knows is either already complete (the object is there with the
// right size) or started again.
func (m *multipart) reconcile(ctx context.Context) error {
	held := map[int]string{}
	var marker *string
	// Every page must move past the last: a store that repeats a page
	// would otherwise keep this loop going, and there are at most
	// maxParts parts to list.
	for page := 0; ; page++ {
		if page > maxParts {
			return vendors.E(vendors.Rejected, "realsee: upload: list parts", "the store's list of parts does not end")
		}
		out, err := m.s3.ListParts(ctx, &s3.ListPartsInput{
			Bucket: &m.st.Storage.Bucket, Key: &m.st.Key, UploadId: &m.st.UploadID, PartNumberMarker: marker,
		})
		if err != nil {
			var nsu *types.NoSuchUpload
			if errors.As(err, &nsu) || apiCode(err) == "NoSuchUpload" {
				head, herr := m.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &m.st.Storage.Bucket, Key: &m.st.Key})
				if herr == nil && aws.ToInt64(head.ContentLength) == m.st.Size {
					m.st.Done = true
					return m.j.Store(journalUpload, m.st)
				}
				m.st.UploadID, m.st.Parts = "", nil
				return nil
			}
			return s3Err("realsee: upload: list parts", err)
		}
		for _, p := range out.Parts {
			n := int(aws.ToInt32(p.PartNumber))
			if etag := aws.ToString(p.ETag); n >= 1 && n <= m.parts() && aws.ToInt64(p.Size) == m.partLen(n) &&
				etag != "" && len(etag) <= maxStoreID {
				held[n] = etag
			}
		}
		if !aws.ToBool(out.IsTruncated) || out.NextPartNumberMarker == nil {
			break
		}
		next := aws.ToString(out.NextPartNumberMarker)
		if prev := aws.ToString(marker); next == prev || len(next) > 16 {
			return vendors.E(vendors.Rejected, "realsee: upload: list parts", "the store's list of parts does not move on (part number marker "+strconv.Quote(next)+")")
		}
		marker = &next
	}
	m.mu.Lock()
	m.st.Parts = held
	m.mu.Unlock()
	return m.j.Store(journalUpload, m.st)
}

// storeParts journals the upload with the parts done so far: a copy, taken
// under the lock, so that the senders go on while it is written.
func (m *multipart) storeParts() error {
	m.mu.Lock()
	st := *m.st
	st.Parts = maps.Clone(m.st.Parts)
	m.mu.Unlock()
	return m.j.Store(journalUpload, &st)
}

func (m *multipart) partLen(n int) int64 {
	off := int64(n-1) * m.st.PartSize
	if rest := m.st.Size - off; rest < m.st.PartSize {
		return rest
	}
	return m.st.PartSize
}

// uploadPart sends one part straight from the drop's files. The body is
// seekable so the SDK can sign it and retry it without a buffer. Every part
// is checked end to end once: with a signed payload (plain HTTP) by the
// store, which refuses a body whose SHA-256 is not the signed one
// (XAmzContentSHA256Mismatch); with an unsigned one (HTTPS) here, by its
// MD5, computed on the way, against the ETag the store answers. MD5 is the
// costliest thing the client does per byte, so it is not done twice.
func (m *multipart) uploadPart(ctx context.Context, n int) error {
	size := m.partLen(n)
	for attempt := 0; ; attempt++ {
		body := &hashingSection{sr: io.NewSectionReader(m.arch, int64(n-1)*m.st.PartSize, size), sent: m.sent,
			noMD5: signsPayload(m.st.Storage)}
		body.reset()
		out, err := m.s3.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &m.st.Storage.Bucket, Key: &m.st.Key, UploadId: &m.st.UploadID,
			PartNumber: aws.Int32(int32(n)), Body: body, ContentLength: aws.Int64(size),
		})
		if err != nil {
			if bad := m.arch.changed(); bad != nil {
				return bad
			}
			// Credentials that expired under a long upload: fetch new ones and
			// send the part again; the part itself was fine.
			if isCredentialError(err) && attempt < 2 {
				m.creds.Invalidate()
				continue
			}
			return s3Err(fmt.Sprintf("realsee: upload part %d", n), err)
		}
		etag := aws.ToString(out.ETag)
		if len(etag) > maxStoreID {
			return vendors.E(vendors.Rejected, fmt.Sprintf("realsee: upload part %d", n), fmt.Sprintf("the store answered an ETag of %d bytes", len(etag)))
		}
		if sum := body.sum(); sum != "" && isMD5ETag(etag) && strings.Trim(etag, `"`) != sum {
			if attempt < 2 {
				continue
			}
			return vendors.E(vendors.Transient, fmt.Sprintf("realsee: upload part %d", n), "the store received different bytes than were sent (ETag mismatch)")
		}
		m.mu.Lock()
		m.st.Parts[n] = etag
		// The journal is rewritten whole each time, so a write per part
		// would cost O(parts²): at most ~1,000 writes per upload. Parts
		// done but not journalled when the process stops are found again
		// by reconcile (ListParts) on resume.
		due := false
		if m.unjournalled++; m.unjournalled >= max(1, m.parts()/1000) {
			m.unjournalled, due = 0, true
		}
		m.mu.Unlock()
		if due {
			select {
			case m.journal <- struct{}{}:
			default: // a write is already asked for; it will include this part
			}
		}
		m.done.Add(size)
		m.report()
		return nil
	}
}

func (m *multipart) report() {
	if m.progress != nil {
		m.progress.Uploaded(m.done.Load(), m.st.Size)
	}
}

// hashingSection is a part body: a seekable section of the archive that
// hashes what is read in one pass from its start.
type hashingSection struct {
	sr   *io.SectionReader
	h    hashState
	sent *atomic.Int64
	// noMD5 leaves the MD5 out, for a body whose payload is signed.
	noMD5 bool
}

type hashState struct {
	md5   interface{ Sum([]byte) []byte }
	write func([]byte)
	n     int64
	whole bool
}

func (b *hashingSection) reset() {
	if b.noMD5 {
		b.h = hashState{}
		return
	}
	h := md5.New()
	b.h = hashState{md5: h, write: func(p []byte) { h.Write(p) }}
}

// hash extends the hash with p, read at pos, if it follows on from what
// was hashed.
func (b *hashingSection) hash(pos int64, p []byte) {
	if b.h.write == nil || pos != b.h.n {
		return
	}
	b.h.write(p)
	b.h.n += int64(len(p))
	if b.h.n == b.sr.Size() {
		b.h.whole = true
	}
}

// Read is how the HTTP transport takes the body to send it.
func (b *hashingSection) Read(p []byte) (int, error) {
	pos, _ := b.sr.Seek(0, io.SeekCurrent)
	n, err := b.sr.Read(p)
	b.hash(pos, p[:n])
	if b.sent != nil {
		b.sent.Add(int64(n))
	}
	return n, err
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// WriteTo is how the SDK reads a signed body to hash it for the signature
// (io.Copy into a hash): in reads of 256 KiB rather than io.Copy's 32 KiB,
// and not counted as sent, since nothing goes to the store.
func (b *hashingSection) WriteTo(w io.Writer) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var total int64
	for {
		pos, _ := b.sr.Seek(0, io.SeekCurrent)
		n, err := b.sr.Read(buf)
		if n > 0 {
			b.hash(pos, buf[:n])
			if _, werr := w.Write(buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (b *hashingSection) Seek(off int64, whence int) (int64, error) {
	return b.sr.Seek(off, whence)
}

// sum is the MD5 of the whole section, or "" if it was not read in one
// pass or not hashed at all.
func (b *hashingSection) sum() string {
	if !b.h.whole {
		return ""
	}
	return hex.EncodeToString(b.h.md5.Sum(nil))
}

func isMD5ETag(etag string) bool {
	e := strings.Trim(etag, `"`)
	if len(e) != 32 {
		return false
	}
	_, err := hex.DecodeString(e)
	return err == nil
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isCredentialError(err error) bool {
	switch apiCode(err) {
	case "ExpiredToken", "InvalidToken", "TokenRefreshRequired", "InvalidAccessKeyId", "RequestTimeTooSkewed":
		return true
	}
	return false
}

// s3Err classifies a storage error. Everything but a clear refusal of the
// request itself is weather: the upload resumes on the next try.
func s3Err(op string, err error) error {
	var e *vendors.Error
	if errors.As(err, &e) {
		return err
	}
	kind := vendors.Transient
	switch apiCode(err) {
	case "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "AllAccessDisabled", "AccountProblem":
		kind = vendors.Auth
	case "NoSuchBucket", "InvalidBucketName", "EntityTooLarge", "InvalidArgument", "MalformedXML", "NotImplemented":
		kind = vendors.Rejected
	}
	if isCredentialError(err) {
		kind = vendors.Transient
	}
	var re interface{ ServiceRequestID() string }
	id := ""
	if errors.As(err, &re) {
		id = re.ServiceRequestID()
	}
	return &vendors.Error{Kind: kind, Op: op, RequestID: id, Err: err}
}
