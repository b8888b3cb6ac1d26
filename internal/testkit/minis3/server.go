// Package minis3 is a small S3-compatible server that runs inside the
// process, for tests and for `scandrop demo`, which must work offline.
//
// It is small but strict where real object stores are strict, so that a
// client that works against it has a fair chance of working against S3 or
// Tencent COS: every request must carry a valid AWS Signature V4 (header or
// presigned query), the session token of temporary credentials is checked,
// body hashes and checksums are verified, aws-chunked uploads are refused
// the way COS refuses them, and CompleteMultipartUpload checks part ETags,
// order and minimum size. What it does not implement it answers with 501
// NotImplemented rather than pretending.
//
// Supported: PutObject, GetObject (single Range), HeadObject, DeleteObject,
// ListObjectsV2, HeadBucket, GetBucketLocation, CreateMultipartUpload,
// UploadPart, ListParts, CompleteMultipartUpload, AbortMultipartUpload and
// ListMultipartUploads, in path style (/bucket/key) and virtual-hosted style
// (the first label of Host is a known bucket).
package minis3

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// S3's size limits, which the server enforces as S3 does.
const (
	// DefaultMinPartSize is S3's minimum size of every part but the last.
	DefaultMinPartSize = 5 << 20
	// MaxPartSize is the largest part, and the largest PutObject body.
	MaxPartSize = 5 << 30
	// MaxObjectSize is the largest object a multipart upload may build.
	MaxObjectSize = 5 << 40
	// MaxParts is the highest part number, so the most parts of an object.
	MaxParts = 10000
)

// Options configure a Server.
type Options struct {
	// AccessKey and SecretKey are the only credentials accepted; requests
	// are verified with AWS Signature V4. Both are required.
	AccessKey, SecretKey string
	// SessionToken, when set, must arrive as X-Amz-Security-Token, as with
	// the temporary credentials that STS and the Realsee gateway hand out.
	SessionToken string
	// Region the signature scope must name. Default "us-east-1".
	Region string
	// Buckets are created at start. Requests to other buckets get 404
	// NoSuchBucket.
	Buckets []string
	// Dir, when set, keeps objects and parts as files in a fresh directory
	// under Dir (removed by Close), so that gigabytes of test data do not
	// have to fit in memory. "" keeps everything in memory.
	Dir string
	// MinPartSize is the minimum size of every part but the last that
	// CompleteMultipartUpload accepts. Default DefaultMinPartSize; tests
	// lower it to exercise multipart uploads with small data.
	MinPartSize int64
	// TLS serves HTTPS with a self-signed certificate (use Client, or trust
	// Certificate). Over plain HTTP the AWS SDKs never send aws-chunked
	// bodies, so only a TLS server can catch a client that forgot to turn
	// them off.
	TLS bool
	// Discard verifies every body as it streams in (length, signed
	// SHA-256, Content-MD5 and checksums), counts it and throws it away:
	// objects keep their size, ETag and part layout but no content, so a
	// test can push hundreds of gigabytes through the real byte path. Get
	// then answers 501. To spare a hash per byte, a body whose payload is
	// signed (and so already checked end to end by its SHA-256) and that
	// carries no Content-MD5 gets an ETag derived from that SHA-256 rather
	// than its MD5, as S3 does for encrypted objects: a client may take an
	// ETag for the MD5 of the body only if it sent UNSIGNED-PAYLOAD.
	Discard bool
}

// Stats count what the server has seen.
type Stats struct {
	// Requests is every request received, failed ones included.
	Requests int64
	// PartsUploaded is the number of successful UploadPart calls.
	PartsUploaded int64
	// BytesReceived is the number of body bytes that PutObject and
	// UploadPart read, whether or not the request then succeeded. Tests use
	// it to measure how much a resumed upload sent again.
	BytesReceived int64
}

// Server is a running S3-compatible server. Its methods are safe for
// concurrent use.
type Server struct {
	url      string
	listener net.Listener
	http     *http.Server
	cert     *x509.Certificate
	handlers sync.WaitGroup
	closed   atomic.Bool

	region      string
	minPartSize int64
	dir         string // "" = memory
	discard     bool

	mu        sync.Mutex
	creds     credentials
	oldKeys   map[string]bool // access keys and session tokens replaced by SetCredentials
	buckets   map[string]*bucket
	failN     int
	failCode  string
	failStat  int
	requests  atomic.Int64
	parts     atomic.Int64
	bytesRecv atomic.Int64
}

type credentials struct {
	accessKey, secretKey, sessionToken string
}

// NewServer starts a server on a loopback port. It panics if it cannot
// listen, as httptest.NewServer does, because it is meant for tests and
// demos where there is nothing better to do.
func NewServer(opts Options) *Server {
	if opts.AccessKey == "" || opts.SecretKey == "" {
		panic("minis3: AccessKey and SecretKey are required")
	}
	s := &Server{
		region:      opts.Region,
		minPartSize: opts.MinPartSize,
		discard:     opts.Discard,
		creds:       credentials{opts.AccessKey, opts.SecretKey, opts.SessionToken},
		oldKeys:     map[string]bool{},
		buckets:     map[string]*bucket{},
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.minPartSize <= 0 {
		s.minPartSize = DefaultMinPartSize
	}
	for _, b := range opts.Buckets {
		s.buckets[b] = newBucket()
	}
	if opts.Dir != "" {
		dir, err := os.MkdirTemp(opts.Dir, "minis3-")
		if err != nil {
			panic(fmt.Sprintf("minis3: %v", err))
		}
		s.dir = dir
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("minis3: listen: %v", err))
	}
	s.listener = l
	// Client disconnects and TLS probes are normal here; the default logger
	// would print them into the output of tests and of `scandrop demo`.
	s.http = &http.Server{Handler: s, ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: time.Minute}
	scheme := "http"
	if opts.TLS {
		cert, leaf, err := selfSignedCert()
		if err != nil {
			panic(fmt.Sprintf("minis3: %v", err))
		}
		s.cert = leaf
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}})
		scheme = "https"
	}
	s.url = scheme + "://" + s.listener.Addr().String()
	go s.http.Serve(l)
	return s
}

// URL is the base URL, "http://127.0.0.1:port" (https with Options.TLS).
func (s *Server) URL() string { return s.url }

// Certificate is the self-signed certificate of a TLS server, nil otherwise.
func (s *Server) Certificate() *x509.Certificate { return s.cert }

// Client returns an HTTP client that trusts the server's certificate.
func (s *Server) Client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if s.cert != nil {
		pool := x509.NewCertPool()
		pool.AddCert(s.cert)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &http.Client{Transport: tr}
}

// Close stops the server, waits for running requests and removes the
// files of a Dir-backed server.
func (s *Server) Close() {
	if s.closed.Swap(true) {
		return
	}
	s.http.Close()
	s.handlers.Wait()
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// SetCredentials replaces the accepted credentials, as when temporary
// credentials are reissued. Requests signed with the old access key or
// carrying the old session token then fail with 400 ExpiredToken, as S3
// answers for expired STS credentials.
func (s *Server) SetCredentials(accessKey, secretKey, sessionToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.creds.accessKey != accessKey {
		s.oldKeys[s.creds.accessKey] = true
	}
	if s.creds.sessionToken != "" && s.creds.sessionToken != sessionToken {
		s.oldKeys[s.creds.sessionToken] = true
	}
	delete(s.oldKeys, accessKey)
	delete(s.oldKeys, sessionToken)
	s.creds = credentials{accessKey, secretKey, sessionToken}
}

// FailNext makes the next n requests, whatever they are, answer status
// with an S3 error body carrying code (for example 503, "SlowDown"), before
// authentication and without side effects.
func (s *Server) FailNext(n int, status int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStat, s.failCode = n, status, code
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	return Stats{
		Requests:      s.requests.Load(),
		PartsUploaded: s.parts.Load(),
		BytesReceived: s.bytesRecv.Load(),
	}
}

// Object returns a copy of an object's content.
func (s *Server) Object(bucket, key string) ([]byte, bool) {
	rc, _, err := s.OpenObject(bucket, key)
	if err != nil {
		return nil, false
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, false
	}
	return b, true
}

// ErrNotFound is returned by OpenObject for a missing bucket or object.
var ErrNotFound = errors.New("minis3: no such object")

// ErrDiscarded is returned by OpenObject for an object whose content a
// Discard server did not keep.
var ErrDiscarded = errors.New("minis3: content discarded (Options.Discard)")

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Size int64
	ETag string // quoted, as S3 answers it
	// Parts is the number of parts of an object built by a multipart
	// upload, 0 for one sent whole; PartSize is the size of its first part.
	Parts    int
	PartSize int64
}

// Stat describes an object, also one a Discard server did not keep.
func (s *Server) Stat(bucket, key string) (ObjectInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.lookup(bucket, key)
	if o == nil {
		return ObjectInfo{}, false
	}
	return ObjectInfo{Size: o.size, ETag: o.etag, Parts: o.parts, PartSize: o.partSize}, true
}

// OpenObject opens an object for reading and returns its size. The reader
// also implements io.ReaderAt and io.Seeker (archive/zip needs ReaderAt)
// and stays valid if the object is overwritten or deleted meanwhile.
func (s *Server) OpenObject(bucket, key string) (io.ReadCloser, int64, error) {
	s.mu.Lock()
	o := s.lookup(bucket, key)
	s.mu.Unlock()
	if o == nil {
		return nil, 0, fmt.Errorf("%w: %s/%s", ErrNotFound, bucket, key)
	}
	r, err := o.content.open()
	if err != nil {
		return nil, 0, err
	}
	return r, o.content.size, nil
}

func (s *Server) lookup(bucket, key string) *object {
	b := s.buckets[bucket]
	if b == nil {
		return nil
	}
	return b.objects[key]
}

// ServeHTTP implements the S3 REST API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handlers.Add(1)
	defer s.handlers.Done()
	s.requests.Add(1)
	rid := newRequestID()
	w.Header().Set("x-amz-request-id", rid)
	w.Header().Set("x-amz-id-2", rid)
	w.Header().Set("Server", "minis3")

	if err := s.serve(w, r); err != nil {
		writeError(w, r, err, rid)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) error {
	if err := s.injectedFailure(); err != nil {
		return err
	}
	if err := rejectChunked(r); err != nil {
		return err
	}
	bucketName, key, err := s.route(r)
	if err != nil {
		return err
	}
	payloadHash, err := s.authenticate(r)
	if err != nil {
		return err
	}
	req := &request{w: w, r: r, bucket: bucketName, key: key, payloadHash: payloadHash}
	q := r.URL.Query()

	if bucketName == "" {
		return errNotImplemented("ListBuckets")
	}
	s.mu.Lock()
	_, ok := s.buckets[bucketName]
	s.mu.Unlock()
	if !ok {
		return s3Error(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
	}
	if has(r, "x-amz-copy-source") {
		return errNotImplemented("CopyObject/UploadPartCopy")
	}

	if key == "" {
		switch {
		case r.Method == http.MethodHead:
			return nil // HeadBucket: it exists.
		case r.Method == http.MethodGet && q.Has("location"):
			return writeXML(w, http.StatusOK, locationConstraint{Region: s.region})
		case r.Method == http.MethodGet && q.Has("uploads"):
			return s.listMultipartUploads(req)
		case r.Method == http.MethodGet && q.Get("list-type") == "2":
			return s.listObjectsV2(req)
		case r.Method == http.MethodGet && subresource(q) == "":
			return errNotImplemented("ListObjects (v1); use ListObjectsV2")
		}
		return errNotImplemented(r.Method + " on a bucket with ?" + r.URL.RawQuery)
	}

	switch r.Method {
	case http.MethodPut:
		if q.Has("uploadId") || q.Has("partNumber") {
			return s.uploadPart(req)
		}
		if sub := subresource(q); sub != "" {
			return errNotImplemented("PUT ?" + sub)
		}
		return s.putObject(req)
	case http.MethodGet:
		if q.Has("uploadId") {
			return s.listParts(req)
		}
		if sub := subresource(q); sub != "" {
			return errNotImplemented("GET ?" + sub)
		}
		return s.getObject(req, true)
	case http.MethodHead:
		return s.getObject(req, false)
	case http.MethodPost:
		if q.Has("uploads") {
			return s.createMultipartUpload(req)
		}
		if q.Has("uploadId") {
			return s.completeMultipartUpload(req)
		}
	case http.MethodDelete:
		if q.Has("uploadId") {
			return s.abortMultipartUpload(req)
		}
		return s.deleteObject(req)
	}
	return errNotImplemented(r.Method + " on an object with ?" + r.URL.RawQuery)
}

func (s *Server) injectedFailure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failN <= 0 {
		return nil
	}
	s.failN--
	return s3Error(s.failStat, s.failCode, "injected failure (minis3.FailNext)")
}

// route finds the bucket and key, virtual-hosted style when the first
// label of Host is a known bucket, else path style.
func (s *Server) route(r *http.Request) (bucket, key string, err error) {
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if label, _, ok := strings.Cut(host, "."); ok {
		s.mu.Lock()
		_, known := s.buckets[label]
		s.mu.Unlock()
		if known {
			key, err := unescapePath(path)
			return label, key, err
		}
	}
	b, k, _ := strings.Cut(path, "/")
	if bucket, err = unescapePath(b); err != nil {
		return "", "", err
	}
	if key, err = unescapePath(k); err != nil {
		return "", "", err
	}
	return bucket, key, nil
}

func unescapePath(p string) (string, error) {
	u, err := urlPathUnescape(p)
	if err != nil {
		return "", s3Error(http.StatusBadRequest, "InvalidURI", "Couldn't parse the specified URI.")
	}
	return u, nil
}

// request is one authenticated request on a bucket.
type request struct {
	w           http.ResponseWriter
	r           *http.Request
	bucket, key string
	payloadHash string // hex SHA-256 or UNSIGNED-PAYLOAD
}

// objectSubresources are the query parameters that turn an object request
// into another operation this server does not implement. Other parameters
// (x-id, response-content-type, ...) do not change the operation.
var objectSubresources = []string{"acl", "tagging", "retention", "legal-hold", "torrent",
	"restore", "select", "attributes", "versionId", "policy", "cors", "lifecycle",
	"versioning", "website", "encryption", "replication", "notification", "logging", "delete"}

func subresource(q url.Values) string {
	for _, s := range objectSubresources {
		if q.Has(s) {
			return s
		}
	}
	return ""
}

func has(r *http.Request, header string) bool { return r.Header.Get(header) != "" }

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

func newID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
