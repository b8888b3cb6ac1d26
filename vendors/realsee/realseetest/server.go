// Package realseetest is a fake Realsee (如视) open-platform gateway for
// tests and for `scandrop demo`, in the manner of net/http/httptest.
//
// It implements the panorama-to-VR flow of the vendor document
// (POST /auth/access_token, GET /open/v1/pano/file/token,
// POST /open/v1/pano/task/submit, GET /open/v1/pano/task/status) with the
// document's envelope, codes and field shapes, and fills the document's
// gaps from docs/vendor-notes.md. Upload credentials point at an S3 store:
// by default a built-in minis3 that checks signatures and session tokens
// like the real one. A submitted package is read back from that store and
// checked the way the real service would (a zip with manifest.json at the
// root, version "1.0", a JPEG under images/ for every scan), so a client
// that passes here has uploaded what it meant to.
//
// The fake is strict where the document says "must": the wrong choice
// between private_cos_key and zip_cos_url, both or neither, or a key
// outside an issued prefix are refused with code -1.
package realseetest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/minis3"
)

// Defaults of Options.
const (
	DefaultAppKey          = "test_app_key"
	DefaultAppSecret       = "test_app_secret"
	DefaultBucket          = "vrlab-private"
	DefaultRegion          = "ap-northeast-1"
	DefaultTokenTTL        = 10 * time.Minute
	DefaultCredentialsTTL  = 3600
	DefaultProcessingPolls = 2
)

// Options configure a Server. The zero value works.
type Options struct {
	// AppKey and AppSecret that POST /auth/access_token accepts; anything
	// else answers code -1 "illegal app". Default DefaultAppKey and
	// DefaultAppSecret.
	AppKey, AppSecret string
	// TokenTTL is the life of an access token; expire_at = now + TokenTTL
	// in Unix seconds. Default 10 minutes.
	TokenTTL time.Duration

	// Storage the upload credentials point at. When S3Endpoint is "", the
	// server runs its own minis3 and hands out its URL and credentials
	// (random ones unless given). Bucket defaults to "vrlab-private" and
	// Region to "ap-northeast-1", as in the document's example. With an
	// external endpoint AccessKey and SecretKey are required, and the fake
	// reads uploaded packages back with them (path-style).
	S3Endpoint, Bucket, Region, AccessKey, SecretKey, SessionToken string
	// Prefix is the upload prefix handed out. Default
	// "vrfile/release/open_task_original/T-TEST000001/pano/<unix>/", with
	// <unix> the time of the file-token call.
	Prefix string
	// DownloadHost, when set, makes the bucket public: file tokens say
	// download_type "direct" and submit must use zip_cos_url
	// (DownloadHost + "/" + key, or any http(s) URL such as a presigned
	// one). "" is a private bucket: submit must use private_cos_key.
	DownloadHost string
	// CredentialsTTL is the ttl and expire reported with the upload
	// credentials, in seconds. Default 3600.
	CredentialsTTL int
	// TTLAsString reports ttl and expire as strings ("3600") and
	// is_accelerate as the boolean true, forms the vendor notes say occur.
	TTLAsString bool
	// ProcessingPolls is how many status polls answer "pending" (the first)
	// and then "processing" before the final state. 0 means the default,
	// 2; a negative value means the first poll gives the final state.
	ProcessingPolls int
	// Now is the clock for token expiry, prefixes and Submit.At. Default
	// time.Now.
	Now func() time.Time

	// MinPartSize and StorageDir are passed to the built-in minis3
	// (Options.MinPartSize, Options.Dir): tests lower the first to try
	// multipart uploads on small data, demos set the second for big data.
	MinPartSize int64
	StorageDir  string

	// VRURL, TaskCode and ProjectID, when set, replace the random vr_url,
	// task_code and project_id of every task: tests of answers scandrop
	// must refuse (a javascript: link, a task code of "../../x").
	VRURL, TaskCode, ProjectID string
}

// Submit is one submit call that created a task.
type Submit struct {
	ProjectName   string
	PrivateCosKey string
	ZipCosURL     string
	TaskCode      string
	ProjectID     string
	At            time.Time
	// Failure says why the task will end "failed"; "" when it succeeds.
	// The real service gives no reason: this is for tests only.
	Failure string
}

// Server is a running fake gateway. Its methods are safe for concurrent
// use.
type Server struct {
	// URL is the base URL, "http://127.0.0.1:port", to use in place of
	// https://app-gateway.realsee.cn.
	URL string

	opts     Options
	http     *http.Server
	handlers sync.WaitGroup
	storage  *minis3.Server // nil when external
	store    store

	mu           sync.Mutex
	creds        s3Creds
	tokens       map[string]int64 // access token → expire_at
	prefixes     map[string]bool  // prefixes handed out
	tasks        map[string]*task
	submits      []Submit
	requests     map[string]int
	failN        int
	failStatus   int
	failTasks    bool
	holdTasks    bool
	breakSubmits int
}

type s3Creds struct{ accessKey, secretKey, sessionToken string }

type task struct {
	projectID string
	failure   string
	polls     int
	vrURL     string
}

// NewServer starts a fake gateway on a loopback port. Like
// httptest.NewServer it panics when it cannot start.
func NewServer(opts Options) *Server {
	if opts.AppKey == "" && opts.AppSecret == "" {
		opts.AppKey, opts.AppSecret = DefaultAppKey, DefaultAppSecret
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.CredentialsTTL <= 0 {
		opts.CredentialsTTL = DefaultCredentialsTTL
	}
	if opts.ProcessingPolls == 0 {
		opts.ProcessingPolls = DefaultProcessingPolls
	} else if opts.ProcessingPolls < 0 {
		opts.ProcessingPolls = 0
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Bucket == "" {
		opts.Bucket = DefaultBucket
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	opts.DownloadHost = strings.TrimSuffix(opts.DownloadHost, "/")

	s := &Server{
		opts:     opts,
		tokens:   map[string]int64{},
		prefixes: map[string]bool{},
		tasks:    map[string]*task{},
		requests: map[string]int{},
	}
	if opts.S3Endpoint == "" {
		if opts.AccessKey == "" {
			opts.AccessKey, opts.SecretKey, opts.SessionToken = newCredentials()
		}
		s.storage = minis3.NewServer(minis3.Options{
			AccessKey:    opts.AccessKey,
			SecretKey:    opts.SecretKey,
			SessionToken: opts.SessionToken,
			Region:       opts.Region,
			Buckets:      []string{opts.Bucket},
			Dir:          opts.StorageDir,
			MinPartSize:  opts.MinPartSize,
		})
		opts.S3Endpoint = s.storage.URL()
		s.store = builtinStore{s.storage, opts.Bucket}
	} else {
		if opts.AccessKey == "" || opts.SecretKey == "" {
			panic("realseetest: an external S3Endpoint needs AccessKey and SecretKey")
		}
		s.store = newExternalStore(opts)
	}
	s.opts = opts
	s.creds = s3Creds{opts.AccessKey, opts.SecretKey, opts.SessionToken}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if s.storage != nil {
			s.storage.Close()
		}
		panic("realseetest: listen: " + err.Error())
	}
	s.URL = "http://" + l.Addr().String()
	// The fake is quiet: dropped connections are part of the tests.
	s.http = &http.Server{Handler: s, ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: time.Minute}
	go s.http.Serve(l)
	return s
}

// Close stops the gateway and the built-in storage.
func (s *Server) Close() {
	s.http.Close()
	s.handlers.Wait()
	if s.storage != nil {
		s.storage.Close()
	}
}

// Storage is the built-in S3 store, nil when Options.S3Endpoint is set.
func (s *Server) Storage() *minis3.Server { return s.storage }

// Submits returns every submit call that created a task, in order.
func (s *Server) Submits() []Submit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Submit(nil), s.submits...)
}

// ExpireTokens makes every access token issued so far expired: calls with
// them answer code -3 "access_token expired".
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.tokens {
		s.tokens[t] = 0
	}
}

// FailNext makes the next n requests, on any path, answer httpStatus
// without doing anything. 502 and 504 come with the HTML page of a proxy
// (not JSON), other statuses with an envelope {code: -1, status: <status
// text>}: clients must cope with both.
func (s *Server) FailNext(n int, httpStatus int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, httpStatus
}

// BreakNextSubmit makes the next n submit calls create their task and then
// drop the connection without answering, so that the client cannot know
// whether the submit happened: the case in which it must not submit again.
func (s *Server) BreakNextSubmit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.breakSubmits = n
}

// FailTasks makes tasks submitted from now on end "failed" (or stops
// doing so).
func (s *Server) FailTasks(fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failTasks = fail
}

// HoldTasks keeps unfinished tasks "processing" until HoldTasks(false);
// tasks that already reached their final state keep it.
func (s *Server) HoldTasks(hold bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdTasks = hold
}

// RotateCredentials replaces the built-in storage's credentials: those
// handed out so far are refused with 400 ExpiredToken, and the next file
// token carries new ones, as when temporary credentials run out in the
// middle of a long upload. It panics with an external store.
func (s *Server) RotateCredentials() {
	if s.storage == nil {
		panic("realseetest: RotateCredentials needs the built-in storage")
	}
	ak, sk, tok := newCredentials()
	s.mu.Lock()
	s.creds = s3Creds{ak, sk, tok}
	s.mu.Unlock()
	s.storage.SetCredentials(ak, sk, tok)
}

// Requests returns the number of requests per URL path so far.
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		m[k] = v
	}
	return m
}

// ServeHTTP serves the gateway API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handlers.Add(1)
	defer s.handlers.Done()
	start := time.Now()

	s.mu.Lock()
	s.requests[r.URL.Path]++
	failStatus := 0
	if s.failN > 0 {
		s.failN--
		failStatus = s.failStatus
	}
	s.mu.Unlock()
	if failStatus != 0 {
		writeFailure(w, failStatus, start)
		return
	}

	switch r.URL.Path {
	case "/auth/access_token":
		if r.Method != http.MethodPost {
			writeEnvelope(w, http.StatusMethodNotAllowed, start, reply{code: codeFailed, status: "method not allowed"})
			return
		}
		s.accessToken(w, r, start)
	case "/open/v1/pano/file/token":
		s.authed(w, r, start, http.MethodGet, s.fileToken)
	case "/open/v1/pano/task/submit":
		s.authed(w, r, start, http.MethodPost, s.submit)
	case "/open/v1/pano/task/status":
		s.authed(w, r, start, http.MethodGet, s.status)
	default:
		writeEnvelope(w, http.StatusNotFound, start, reply{code: codeFailed, status: "not found"})
	}
}

// Envelope codes of the document.
const (
	codeOK      = 0
	codeFailed  = -1
	codeExpired = -3
)

// reply is what a handler answers inside the envelope.
type reply struct {
	code         int
	status       string
	businessCode string
	data         any
}

func ok(data any) reply { return reply{code: codeOK, status: "success", data: data} }

func failed(status string) reply { return reply{code: codeFailed, status: status} }

type envelope struct {
	RequestID    string `json:"request_id"`
	TraceID      string `json:"trace_id"`
	Code         int    `json:"code"`
	Status       string `json:"status"`
	BusinessCode string `json:"business_code,omitempty"`
	Data         any    `json:"data"`
	Cost         int64  `json:"cost"`
}

func writeEnvelope(w http.ResponseWriter, httpStatus int, start time.Time, rep reply) {
	b, _ := json.Marshal(envelope{
		RequestID:    randomHex(16),
		TraceID:      randomHex(16),
		Code:         rep.code,
		Status:       rep.status,
		BusinessCode: rep.businessCode,
		Data:         rep.data,
		Cost:         time.Since(start).Milliseconds(),
	})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(httpStatus)
	w.Write(b)
}

func writeFailure(w http.ResponseWriter, status int, start time.Time) {
	if status == http.StatusBadGateway || status == http.StatusGatewayTimeout {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		text := http.StatusText(status)
		io.WriteString(w, "<html>\r\n<head><title>"+itoa(status)+" "+text+"</title></head>\r\n<body>\r\n<center><h1>"+
			itoa(status)+" "+text+"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
		return
	}
	writeEnvelope(w, status, start, failed(strings.ToLower(http.StatusText(status))))
}

type accessTokenData struct {
	AccessToken string `json:"access_token"`
	ExpireAt    int64  `json:"expire_at"`
}

func (s *Server) accessToken(w http.ResponseWriter, r *http.Request, start time.Time) {
	// ParseForm reads only a form-encoded body, so a JSON body is, as for
	// the real gateway, an illegal app.
	r.ParseForm()
	if r.PostForm.Get("app_key") != s.opts.AppKey || r.PostForm.Get("app_secret") != s.opts.AppSecret {
		writeEnvelope(w, http.StatusOK, start, failed("illegal app"))
		return
	}
	tok := randomToken()
	exp := s.opts.Now().Add(s.opts.TokenTTL).Unix()
	s.mu.Lock()
	s.tokens[tok] = exp
	s.mu.Unlock()
	writeEnvelope(w, http.StatusOK, start, ok(accessTokenData{tok, exp}))
}

// authed checks the method and the Authorization header, which carries the
// bare access token as in the document (no "Bearer").
func (s *Server) authed(w http.ResponseWriter, r *http.Request, start time.Time, method string, h func(*http.Request) reply) {
	if r.Method != method {
		writeEnvelope(w, http.StatusMethodNotAllowed, start, failed("method not allowed"))
		return
	}
	tok := r.Header.Get("Authorization")
	s.mu.Lock()
	exp, known := s.tokens[tok]
	s.mu.Unlock()
	var rep reply
	switch {
	case tok == "" || !known:
		rep = reply{code: codeFailed, status: "invalid access_token", businessCode: "10001"}
	case s.opts.Now().Unix() >= exp:
		rep = reply{code: codeExpired, status: "access_token expired"}
	default:
		rep = h(r)
	}
	if rep.code == codeOK && r.URL.Path == "/open/v1/pano/task/submit" && s.takeBreak() {
		// The task exists now; the client never hears about it.
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
	}
	writeEnvelope(w, http.StatusOK, start, rep)
}

func (s *Server) takeBreak() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.breakSubmits > 0 {
		s.breakSubmits--
		return true
	}
	return false
}

// fileTokenData mirrors the document's example field for field. ttl,
// expire and is_accelerate are any because both forms occur.
type fileTokenData struct {
	TmpSecretID  string `json:"tmpSecretId"`
	TmpSecretKey string `json:"tmpSecretKey"`
	SessionToken string `json:"sessionToken"`
	TTL          any    `json:"ttl"`
	Expire       any    `json:"expire"`
	Prefix       string `json:"prefix"`
	AppID        string `json:"app_id"`
	Bucket       string `json:"bucket"`
	Region       string `json:"region"`
	Host         string `json:"host"`
	IsAccelerate any    `json:"is_accelerate"`
	CustomDomain string `json:"custom_domain"`
	CustomScheme string `json:"custom_scheme"`
	DownloadType string `json:"download_type"`
	DownloadHost string `json:"download_host"`
	Backup       any    `json:"backup"`
}

func (s *Server) fileToken(r *http.Request) reply {
	prefix := s.opts.Prefix
	if prefix == "" {
		prefix = "vrfile/release/open_task_original/T-TEST000001/pano/" + itoa64(s.opts.Now().Unix()) + "/"
	}
	s.mu.Lock()
	s.prefixes[prefix] = true
	creds := s.creds
	s.mu.Unlock()

	// The storage is addressed by host:port, so custom_domain carries no
	// bucket and the client must use path-style requests.
	u, _ := url.Parse(s.opts.S3Endpoint)
	d := fileTokenData{
		TmpSecretID:  creds.accessKey,
		TmpSecretKey: creds.secretKey,
		SessionToken: creds.sessionToken,
		TTL:          s.opts.CredentialsTTL,
		Expire:       s.opts.CredentialsTTL,
		Prefix:       prefix,
		AppID:        "100000000001",
		Bucket:       s.opts.Bucket,
		Region:       s.opts.Region,
		Host:         s.opts.S3Endpoint,
		IsAccelerate: "0",
		CustomDomain: u.Host,
		CustomScheme: u.Scheme,
		DownloadType: "presign",
		DownloadHost: s.opts.DownloadHost,
	}
	if s.opts.DownloadHost != "" {
		d.DownloadType = "direct"
	}
	if s.opts.TTLAsString {
		d.TTL, d.Expire = itoa(s.opts.CredentialsTTL), itoa(s.opts.CredentialsTTL)
		d.IsAccelerate = true
	}
	return ok(d)
}

func newCredentials() (accessKey, secretKey, sessionToken string) {
	return "ASIA" + strings.ToUpper(randomHex(8)), randomHex(20), "IQoJb3JpZ2luX2Vj" + randomHex(32)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"

func randomCode(n int) string {
	b := make([]byte, n)
	for i := range b {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alnum))))
		b[i] = alnum[k.Int64()]
	}
	return string(b)
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "VE9LRU5f" + strings.ToUpper(hex.EncodeToString(b))
}
