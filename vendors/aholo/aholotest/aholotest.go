// Package aholotest is a fake of the Aholo open API and of OUS, Kujiale's
// upload service, for tests and the offline demo, in the manner of
// net/http/httptest.
//
// It is strict where the real services are known to be: every call's
// signature and timestamp are checked, an upload token serves one file and
// expires after ten minutes, uploads are verified against their MD5, a block
// upload resumes from the blocks it holds, and create-3d-recon checks each
// resource's meta against the file that was really uploaded; with
// Options.StatusInterval, upload status polls of one token closer together
// than the service allows (200 ms) are refused as too frequent. Tasks then move
// through preprocessing, queued and running to success (or failure, on
// request) as they are polled.
package aholotest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scandrop/scandrop/vendors/aholo/internal/media"
)

// Options configure a Server. Zero values are usable defaults.
type Options struct {
	// Credentials the server accepts. Defaults "test-key", "test-secret",
	// "test-uid".
	AppKey, AppSecret, AppUID string
	// BlockSize is handed out with every token. Default 4 MiB.
	BlockSize int64
	// ProcessingPolls is how many task polls answer a running status
	// (preprocessing 8, then queued 0, then running 2) before the final one.
	// Default 3.
	ProcessingPolls int
	// UploadPolls is how many OUS status polls answer "processing" after
	// a file is complete. Default 1.
	UploadPolls int
	// VideoType is the resources[].type accepted for videos. Default 1.
	VideoType int
	// AssetSize is the length of each result file. Default 1024.
	AssetSize int
	// SingleUploadOnly serves only what the quickstart shows of OUS
	// (single upload and status): the block endpoints answer 404.
	SingleUploadOnly bool
	// StatusInterval, if set, is the least time between two status polls
	// of one upload token: a poll sooner than that is refused as too
	// frequent (the service asks for polls at least 200 ms apart; set it
	// to StatusEvery to hold clients to that). Zero accepts any pace, for
	// tests whose clients' waits end at once.
	StatusInterval time.Duration
	// DomainScheme hands globalDomain out as "https://host:port" rather
	// than the bare "host:port".
	DomainScheme bool
	// Now is the server's clock for signatures and token expiry. Default
	// time.Now.
	Now func() time.Time
	// Hook, if set, is called at the start of every request, before the
	// server looks at it: tests use it to change the server's state at a
	// given point of a client's progress.
	Hook func(r *http.Request)
	// OnBlock, if set, is called after a block has been stored.
	OnBlock func(md5 string, index int)
	// ResultPaths, when set, is the result of every successful task
	// ("plyPath": …) and ProjectID the projectId create-3d-recon answers:
	// tests of answers scandrop must refuse (a javascript: link, an asset
	// elsewhere, an id of "../../x").
	ResultPaths map[string]any
	ProjectID   string
}

// TokenLife is how long an upload token is good for.
const TokenLife = 10 * time.Minute

// StatusEvery is the least interval between status polls the service
// asks for.
const StatusEvery = 200 * time.Millisecond

// SignatureSkew is how far a request's timestamp may be from the server's
// clock.
const SignatureSkew = 10 * time.Minute

// Server is a running fake. Its state is safe for concurrent use.
type Server struct {
	// URL is the open-API base, "/v2/aholo" included.
	URL string
	// OUSDomain is the globalDomain handed out with upload tokens.
	OUSDomain string

	opts     Options
	api, ous *httptest.Server
	ousBase  string // scheme://host of OUS
	dir      string

	mu         sync.Mutex
	tokens     map[string]*token
	uploads    map[string]*upload // by taskId
	byMD5      map[string]*upload // block uploads by md5/size
	files      map[string]*stored // by URL
	projects   map[string]*project
	order      []string
	failTasks  bool
	holdTasks  bool
	failNext   int
	failStatus int
	creates    int
	seq        int
	calls      map[string]int

	bytes     atomic.Int64
	throttled atomic.Int64

	// active and peak count the requests being handled, per path.
	active, peak map[string]int

	busyMu   sync.Mutex
	busyCond *sync.Cond
	busy     int
}

type token struct {
	issued   time.Time
	lastPoll time.Time // the last status poll, for StatusInterval
	expired  bool
	md5      string  // the file this token is bound to, once used
	upload   *upload // its upload
}

type upload struct {
	id       string
	md5      string
	size     int64
	blocks   int
	name     string
	path     string
	have     []bool
	checked  bool
	failed   bool
	polls    int
	url      string
	mu       sync.Mutex // serialises writes into path
	isSingle bool
}

type stored struct {
	path string
	name string
	md5  string
	size int64
}

type project struct {
	id     string
	body   createRecon
	polls  int
	fail   bool
	status int
}

// NewServer starts a fake. Close it when done.
func NewServer(opts Options) *Server {
	if opts.AppKey == "" {
		opts.AppKey = "test-key"
	}
	if opts.AppSecret == "" {
		opts.AppSecret = "test-secret"
	}
	if opts.AppUID == "" {
		opts.AppUID = "test-uid"
	}
	if opts.BlockSize <= 0 {
		opts.BlockSize = 4 << 20
	}
	if opts.ProcessingPolls == 0 {
		opts.ProcessingPolls = 3
	}
	if opts.UploadPolls == 0 {
		opts.UploadPolls = 1
	}
	if opts.VideoType == 0 {
		opts.VideoType = 1
	}
	if opts.AssetSize <= 0 {
		opts.AssetSize = 1024
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dir, err := os.MkdirTemp("", "aholotest-")
	if err != nil {
		panic("aholotest: " + err.Error())
	}
	s := &Server{
		opts:     opts,
		dir:      dir,
		tokens:   map[string]*token{},
		uploads:  map[string]*upload{},
		byMD5:    map[string]*upload{},
		files:    map[string]*stored{},
		projects: map[string]*project{},
		calls:    map[string]int{},
		active:   map[string]int{},
		peak:     map[string]int{},
	}
	s.busyCond = sync.NewCond(&s.busyMu)
	apiMux, ousMux := http.NewServeMux(), http.NewServeMux()
	apiMux.HandleFunc("GET /v2/aholo/upload/token", s.signed(s.handleToken))
	apiMux.HandleFunc("POST /v2/aholo/project/create-3d-recon", s.signed(s.handleCreate))
	apiMux.HandleFunc("POST /v2/aholo/project/task/list/by-ids", s.signed(s.handleTasks))
	apiMux.HandleFunc("GET /v2/aholo/project/info", s.signed(s.handleInfo))
	apiMux.HandleFunc("GET /assets/{file}", s.handleAsset)
	ousMux.HandleFunc("POST /ous/api/v2/single/upload", s.ousCall(s.handleSingle))
	if !opts.SingleUploadOnly {
		ousMux.HandleFunc("POST /ous/api/v2/block/upload/init", s.ousCall(s.handleInit))
		ousMux.HandleFunc("POST /ous/api/v2/block/upload/part", s.ousCall(s.handlePart))
		ousMux.HandleFunc("POST /ous/api/v2/block/upload/abort", s.ousCall(s.handleAbort))
	}
	ousMux.HandleFunc("GET /ous/api/v2/upload/status", s.ousCall(s.handleStatus))
	ousMux.HandleFunc("GET /files/{md5}/{name}", s.handleFile)

	// The API is served where the test says (the endpoint is
	// configuration); OUS, as in production, on a listener of its own, and
	// only over HTTPS: the document's upload host is https://{globalDomain}.
	s.api = httptest.NewServer(s.wrap(apiMux))
	s.ous = httptest.NewUnstartedServer(s.wrap(ousMux))
	s.ous.TLS = &tls.Config{Certificates: []tls.Certificate{testCert()}}
	s.ous.StartTLS()
	s.URL = s.api.URL + "/v2/aholo"
	s.ousBase = s.ous.URL
	s.OUSDomain = strings.TrimPrefix(s.ous.URL, "https://")
	if opts.DomainScheme {
		s.OUSDomain = s.ous.URL
	}
	return s
}

// Close stops the listeners and removes the uploaded files.
func (s *Server) Close() {
	s.api.Close()
	s.ous.Close()
	os.RemoveAll(s.dir)
}

// Client returns a new HTTP client that trusts the upload service's
// certificate, for aholo.Config.HTTPClient. Other HTTPS hosts are verified
// against the system's roots as usual.
func (s *Server) Client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: s.CertPool()}
	return &http.Client{Transport: tr}
}

// CertPool is the system's roots plus the upload service's certificate.
func (s *Server) CertPool() *x509.CertPool {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	pool.AddCert(s.ous.Certificate())
	return pool
}

// CertPEM is, in PEM, the certificate every upload service of this
// process presents, for a process that must trust it (SSL_CERT_FILE for a
// scandrop under test).
func CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: testCert().Certificate[0]})
}

// testCert is one self-signed certificate for 127.0.0.1, ::1 and
// localhost, made once per process, so that one CertPEM serves every fake.
var testCert = sync.OnceValue(func() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("aholotest: " + err.Error())
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"aholotest OUS"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic("aholotest: " + err.Error())
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
})

// Creates is the number of projects created so far.
func (s *Server) Creates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creates
}

// BytesReceived is the number of file bytes received by single and block
// uploads, partial requests included.
func (s *Server) BytesReceived() int64 { return s.bytes.Load() }

// FailTasks makes projects created from now on end with status 4 (failed).
func (s *Server) FailTasks(fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failTasks = fail
}

// HoldTasks stops (or restarts) every task's progress: polls answer the
// current status without counting.
func (s *Server) HoldTasks(hold bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdTasks = hold
}

// ExpireTokens expires every upload token issued so far.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.expired = true
	}
}

// FailNext makes the next n requests (API and OUS) answer the HTTP status
// with an error envelope, before anything else is done.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failStatus = n, status
}

// BlocksHeld is how many blocks of the block upload of a file (by md5) the
// server holds.
func (s *Server) BlocksHeld(md5 string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, u := range s.byMD5 {
		if u.md5 == md5 {
			for _, h := range u.have {
				if h {
					n++
				}
			}
		}
	}
	return n
}

// Settle waits until no request is being handled: after a client gave up
// on its requests, the server may still be reading what was sent.
func (s *Server) Settle() {
	s.busyMu.Lock()
	defer s.busyMu.Unlock()
	for s.busy > 0 {
		s.busyCond.Wait()
	}
}

// Calls is how many requests reached the path (e.g.
// "/ous/api/v2/block/upload/init"), failed ones included.
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

// MaxConcurrent is the most requests to the path that were handled at
// once so far.
func (s *Server) MaxConcurrent(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak[path]
}

// Throttled is how many status polls were refused as too frequent
// (Options.StatusInterval).
func (s *Server) Throttled() int64 { return s.throttled.Load() }

// ---- plumbing

type envelope struct {
	C string `json:"c"`
	D any    `json:"d"`
	M any    `json:"m"`
	F string `json:"f"`
}

func reply(w http.ResponseWriter, d any) {
	writeJSON(w, http.StatusOK, envelope{C: "0", D: d, F: ""})
}

// refuse answers a business error: HTTP 200 with c != "0", as the open
// platform does.
func refuse(w http.ResponseWriter, code, format string, args ...any) {
	writeJSON(w, http.StatusOK, envelope{C: code, M: fmt.Sprintf(format, args...), F: ""})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// errFailed is a refusal code for errors in the request itself.
const errFailed = "-1"

func (s *Server) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.busyMu.Lock()
		s.busy++
		s.busyMu.Unlock()
		defer func() {
			s.busyMu.Lock()
			s.busy--
			s.busyCond.Broadcast()
			s.busyMu.Unlock()
		}()
		if s.opts.Hook != nil {
			s.opts.Hook(r)
		}
		download := strings.HasPrefix(r.URL.Path, "/files/") || strings.HasPrefix(r.URL.Path, "/assets/")
		s.mu.Lock()
		s.calls[r.URL.Path]++
		s.active[r.URL.Path]++
		s.peak[r.URL.Path] = max(s.peak[r.URL.Path], s.active[r.URL.Path])
		defer func() {
			s.mu.Lock()
			s.active[r.URL.Path]--
			s.mu.Unlock()
		}()
		fail := !download && s.failNext > 0
		status := s.failStatus
		if fail {
			s.failNext--
		}
		s.mu.Unlock()
		if fail {
			io.Copy(io.Discard, r.Body)
			writeJSON(w, status, envelope{C: strconv.Itoa(status), M: "service unavailable (injected failure)"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// signed checks the open-platform signature of an API call.
func (s *Server) signed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ts := q.Get("timestamp")
		switch {
		case q.Get("appuid") == "":
			refuse(w, "10002", "appuid is required")
			return
		case q.Get("appuid") != s.opts.AppUID:
			refuse(w, "10003", "unknown appuid")
			return
		case q.Get("appkey") != s.opts.AppKey:
			refuse(w, "10001", "invalid appkey")
			return
		}
		ms, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			refuse(w, "10004", "bad timestamp")
			return
		}
		if d := s.opts.Now().Sub(time.UnixMilli(ms)); d > SignatureSkew || d < -SignatureSkew {
			refuse(w, "10004", "timestamp expired")
			return
		}
		sum := md5.Sum([]byte(s.opts.AppSecret + s.opts.AppKey + s.opts.AppUID + ts))
		if q.Get("sign") != hex.EncodeToString(sum[:]) {
			refuse(w, "10005", "sign error")
			return
		}
		h(w, r)
	}
}

// ousCall checks the upload token and hands the handler its state.
func (s *Server) ousCall(h func(w http.ResponseWriter, r *http.Request, t *token)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		t := s.tokens[r.Header.Get("ous-token-v2")]
		expired := t != nil && (t.expired || s.opts.Now().Sub(t.issued) > TokenLife)
		s.mu.Unlock()
		switch {
		case t == nil:
			io.Copy(io.Discard, r.Body)
			refuse(w, "40101", "invalid ous token")
		case expired:
			io.Copy(io.Discard, r.Body)
			refuse(w, "40102", "ous token expired")
		default:
			h(w, r, t)
		}
	}
}

func (s *Server) nextID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%08d", prefix, s.seq)
}

// ---- open API

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	id := s.nextID("ous-")
	s.tokens[id] = &token{issued: s.opts.Now()}
	s.mu.Unlock()
	reply(w, map[string]any{"ousToken": id, "globalDomain": s.OUSDomain, "blockSize": s.opts.BlockSize})
}

// createRecon is the documented create-3d-recon body.
type createRecon struct {
	ProjectName string `json:"projectName"`
	Cover       string `json:"cover"`
	Scene       string `json:"scene"`
	TaskQuality string `json:"taskQuality"`
	AccessLevel *int   `json:"accessLevel"`
	Resources   []struct {
		Name string `json:"name"`
		Type *int   `json:"type"`
		URL  string `json:"url"`
		Meta *struct {
			Width    int      `json:"width"`
			Height   int      `json:"height"`
			Duration *float64 `json:"duration"`
		} `json:"meta"`
	} `json:"resources"`
	UploadSog *bool `json:"uploadSog"`
	Panorama  *bool `json:"panorama"`
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	var b createRecon
	dec := json.NewDecoder(io.LimitReader(r.Body, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		refuse(w, errFailed, "bad request body: %v", err)
		return
	}
	if msg := s.checkCreate(&b); msg != "" {
		refuse(w, errFailed, "%s", msg)
		return
	}
	s.mu.Lock()
	s.creates++
	id := s.nextID("3FO")
	if s.opts.ProjectID != "" {
		id = s.opts.ProjectID
	}
	s.projects[id] = &project{id: id, body: b, fail: s.failTasks, status: 8}
	s.order = append(s.order, id)
	s.mu.Unlock()
	reply(w, id)
}

func (s *Server) checkCreate(b *createRecon) string {
	switch {
	case strings.TrimSpace(b.ProjectName) == "":
		return "projectName is required"
	case b.Scene != "model" && b.Scene != "space":
		return fmt.Sprintf("scene %q is not model or space", b.Scene)
	case !slices.Contains([]string{"LOW", "NORMAL", "HIGH", "ULTRA"}, b.TaskQuality):
		return fmt.Sprintf("taskQuality %q is not LOW, NORMAL, HIGH or ULTRA", b.TaskQuality)
	case b.AccessLevel == nil || (*b.AccessLevel != 0 && *b.AccessLevel != 1):
		return "accessLevel must be 0 or 1"
	case b.UploadSog == nil || b.Panorama == nil:
		return "uploadSog and panorama are required"
	case len(b.Resources) == 0:
		return "resources is empty"
	}
	coverOK := false
	for i, res := range b.Resources {
		at := fmt.Sprintf("resources[%d]", i)
		if res.Name == "" || res.Type == nil || res.Meta == nil {
			return at + ": name, type and meta are required"
		}
		s.mu.Lock()
		f := s.files[res.URL]
		s.mu.Unlock()
		if f == nil {
			return fmt.Sprintf("%s: url %q was not issued by the upload service", at, res.URL)
		}
		fh, err := os.Open(f.path)
		if err != nil {
			return at + ": " + err.Error()
		}
		info, err := media.Probe(fh, f.size, f.name)
		fh.Close()
		if err != nil {
			return fmt.Sprintf("%s: uploaded file %s: %v", at, f.name, err)
		}
		m := res.Meta
		switch *res.Type {
		case 0:
			if info.Kind != media.Image {
				return at + ": type 0 (image) but the file is a video"
			}
			if m.Duration != nil {
				return at + ": meta.duration must be null for an image"
			}
			if res.URL == b.Cover {
				coverOK = true
			}
		case s.opts.VideoType:
			if info.Kind != media.Video {
				return fmt.Sprintf("%s: type %d (video) but the file is an image", at, *res.Type)
			}
			if m.Duration == nil || math.Abs(*m.Duration-info.Duration) > 0.05 {
				return fmt.Sprintf("%s: meta.duration %v does not match the video's %.3f s", at, m.Duration, info.Duration)
			}
		default:
			return fmt.Sprintf("%s: unknown type %d", at, *res.Type)
		}
		if m.Width != info.Width || m.Height != info.Height {
			return fmt.Sprintf("%s: meta %dx%d does not match the file's %dx%d", at, m.Width, m.Height, info.Width, info.Height)
		}
	}
	if !coverOK {
		return "cover must be the url of one of the image resources"
	}
	return ""
}

// statusSteps are the running statuses a task goes through.
var statusSteps = []int{8, 0, 2}

type taskJSON struct {
	ProjectID string         `json:"projectId"`
	TaskID    string         `json:"taskId"`
	Status    int            `json:"status"`
	Result    map[string]any `json:"result"`
}

func (s *Server) handleTasks(w http.ResponseWriter, r *http.Request) {
	var ids []string
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&ids); err != nil {
		refuse(w, errFailed, "body must be a JSON array of project ids: %v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []taskJSON{}
	for _, id := range ids {
		p := s.projects[id]
		if p == nil {
			continue
		}
		if !s.holdTasks && p.status != 3 && p.status != 4 {
			p.polls++
			switch {
			case p.polls <= s.opts.ProcessingPolls:
				p.status = statusSteps[(p.polls-1)*len(statusSteps)/s.opts.ProcessingPolls]
			case p.fail:
				p.status = 4
			default:
				p.status = 3
			}
		}
		t := taskJSON{ProjectID: id, TaskID: "T" + id, Status: p.status}
		if p.status == 3 {
			t.Result = map[string]any{
				"plyPath": s.api.URL + "/assets/" + id + ".ply",
				"spzPath": s.api.URL + "/assets/" + id + ".spz",
				"sogPath": "",
			}
			if *p.body.UploadSog {
				t.Result["sogPath"] = s.api.URL + "/assets/" + id + ".sog"
			}
			if s.opts.ResultPaths != nil {
				t.Result = s.opts.ResultPaths
			}
		}
		out = append(out, t)
	}
	reply(w, out)
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p := s.projects[r.URL.Query().Get("projectId")]
	s.mu.Unlock()
	if p == nil {
		refuse(w, errFailed, "project not found")
		return
	}
	reply(w, map[string]any{"projectId": p.id, "name": p.body.ProjectName, "projectType": 0})
}

// AssetBytes is the content of a result file, for tests to compare.
func AssetBytes(name string, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = name[i%len(name)]
	}
	return b
}

func (s *Server) handleAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	id := strings.TrimSuffix(name, path.Ext(name))
	s.mu.Lock()
	p := s.projects[id]
	s.mu.Unlock()
	if p == nil || p.status != 3 {
		http.NotFound(w, r)
		return
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(AssetBytes(name, s.opts.AssetSize)))
}

// ---- OUS

var md5Hex = regexp.MustCompile(`^[0-9a-f]{32}$`)

// bind ties a token to the file it was first used for.
func (s *Server) bind(t *token, sum string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.md5 != "" && t.md5 != sum {
		return errors.New("ous token already used for another file; get one token per file")
	}
	t.md5 = sum
	return nil
}

func (s *Server) handleSingle(w http.ResponseWriter, r *http.Request, t *token) {
	mr, err := r.MultipartReader()
	if err != nil {
		refuse(w, errFailed, "multipart body required: %v", err)
		return
	}
	var sum, name, tmp string
	var got []byte
	var size int64
	defer func() {
		if tmp != "" {
			os.Remove(tmp)
		}
	}()
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			refuse(w, errFailed, "bad multipart body: %v", err)
			return
		}
		switch p.FormName() {
		case "md5":
			b, _ := io.ReadAll(io.LimitReader(p, 100))
			sum = strings.ToLower(strings.TrimSpace(string(b)))
		case "file":
			name = p.FileName()
			f, err := os.CreateTemp(s.dir, "single-")
			if err != nil {
				refuse(w, errFailed, "%v", err)
				return
			}
			tmp = f.Name()
			h := md5.New()
			limit := s.opts.BlockSize + 1
			if s.opts.SingleUploadOnly {
				limit = 1 << 40
			}
			size, err = io.Copy(io.MultiWriter(f, h), io.LimitReader(s.counting(p), limit))
			f.Close()
			if err != nil {
				refuse(w, errFailed, "reading file: %v", err)
				return
			}
			got = h.Sum(nil)
		}
	}
	switch {
	case tmp == "" || name == "":
		refuse(w, errFailed, "file is required")
		return
	case !md5Hex.MatchString(sum):
		refuse(w, errFailed, "md5 is required")
		return
	case size > s.opts.BlockSize && !s.opts.SingleUploadOnly:
		refuse(w, errFailed, "file larger than blockSize %d; use block upload", s.opts.BlockSize)
		return
	case hex.EncodeToString(got) != sum:
		refuse(w, errFailed, "md5 mismatch")
		return
	}
	if err := s.bind(t, sum); err != nil {
		refuse(w, errFailed, "%v", err)
		return
	}
	final := filepath.Join(s.dir, "single-"+sum)
	if err := os.Rename(tmp, final); err != nil {
		refuse(w, errFailed, "%v", err)
		return
	}
	tmp = ""
	s.mu.Lock()
	u := &upload{id: s.nextID("task-"), md5: sum, size: size, blocks: 1, name: name, path: final,
		have: []bool{true}, checked: true, isSingle: true}
	s.uploads[u.id] = u
	t.upload = u
	s.mu.Unlock()
	reply(w, map[string]any{"taskId": u.id})
}

func (s *Server) handleInit(w http.ResponseWriter, r *http.Request, t *token) {
	q := r.URL.Query()
	sum := strings.ToLower(q.Get("md5"))
	size, err1 := strconv.ParseInt(q.Get("size"), 10, 64)
	blocks, err2 := strconv.Atoi(q.Get("blocks"))
	name := q.Get("name")
	switch {
	case !md5Hex.MatchString(sum):
		refuse(w, errFailed, "md5 is required")
		return
	case err1 != nil || size <= 0:
		refuse(w, errFailed, "size is required")
		return
	case name == "":
		refuse(w, errFailed, "name is required")
		return
	case err2 != nil || int64(blocks) != (size+s.opts.BlockSize-1)/s.opts.BlockSize:
		refuse(w, errFailed, "blocks must be ceil(size/blockSize) = %d", (size+s.opts.BlockSize-1)/s.opts.BlockSize)
		return
	}
	if err := s.bind(t, sum); err != nil {
		refuse(w, errFailed, "%v", err)
		return
	}
	key := sum + "/" + strconv.FormatInt(size, 10)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.byMD5[key]
	if u == nil {
		f, err := os.CreateTemp(s.dir, "block-")
		if err != nil {
			refuse(w, errFailed, "%v", err)
			return
		}
		f.Close()
		u = &upload{id: s.nextID("task-"), md5: sum, size: size, blocks: blocks, name: name, path: f.Name(), have: make([]bool, blocks)}
		s.byMD5[key] = u
		s.uploads[u.id] = u
	}
	t.upload = u
	d := map[string]any{"taskId": u.id, "lackBlocks": nil}
	if slices.Contains(u.have, true) {
		d["lackBlocks"] = ranges(u.have)
	}
	reply(w, d)
}

// ranges lists the missing blocks compactly: "1,3,5-7".
func ranges(have []bool) string {
	var parts []string
	for i := 0; i < len(have); i++ {
		if have[i] {
			continue
		}
		j := i
		for j+1 < len(have) && !have[j+1] {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(i+1))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", i+1, j+1))
		}
		i = j
	}
	return strings.Join(parts, ",")
}

func (s *Server) handlePart(w http.ResponseWriter, r *http.Request, t *token) {
	mr, err := r.MultipartReader()
	if err != nil {
		refuse(w, errFailed, "multipart body required: %v", err)
		return
	}
	var taskID string
	index := 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			refuse(w, errFailed, "file is required")
			return
		}
		if err != nil {
			refuse(w, errFailed, "bad multipart body: %v", err)
			return
		}
		switch p.FormName() {
		case "taskId":
			b, _ := io.ReadAll(io.LimitReader(p, 100))
			taskID = string(b)
		case "index":
			b, _ := io.ReadAll(io.LimitReader(p, 20))
			index, _ = strconv.Atoi(string(b))
		case "file":
			s.storePart(w, t, taskID, index, p)
			return
		}
	}
}

func (s *Server) storePart(w http.ResponseWriter, t *token, taskID string, index int, p *multipart.Part) {
	s.mu.Lock()
	u := s.uploads[taskID]
	s.mu.Unlock()
	switch {
	case u == nil || u.isSingle:
		refuse(w, errFailed, "unknown taskId %q (taskId and index must come before file)", taskID)
		return
	case t.upload != u:
		refuse(w, errFailed, "ous token is not the one of task %s", taskID)
		return
	case index < 1 || index > u.blocks:
		refuse(w, errFailed, "index %d out of 1-%d", index, u.blocks)
		return
	}
	off := int64(index-1) * s.opts.BlockSize
	want := min(s.opts.BlockSize, u.size-off)
	buf := make([]byte, want+1)
	n, err := io.ReadFull(s.counting(p), buf)
	if err != io.ErrUnexpectedEOF && err != nil {
		refuse(w, errFailed, "reading block: %v", err)
		return
	}
	if int64(n) != want {
		refuse(w, errFailed, "block %d has %d bytes, want %d", index, n, want)
		return
	}
	u.mu.Lock()
	f, err := os.OpenFile(u.path, os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteAt(buf[:n], off)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	u.mu.Unlock()
	if err != nil {
		refuse(w, errFailed, "storing block: %v", err)
		return
	}
	s.mu.Lock()
	u.have[index-1] = true
	s.mu.Unlock()
	if s.opts.OnBlock != nil {
		s.opts.OnBlock(u.md5, index)
	}
	reply(w, nil)
}

func (s *Server) handleAbort(w http.ResponseWriter, r *http.Request, t *token) {
	id := r.URL.Query().Get("taskId")
	if id == "" {
		id = r.FormValue("taskId")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.uploads[id]
	if u == nil || u.isSingle || t.upload != u {
		refuse(w, errFailed, "unknown taskId %q", id)
		return
	}
	delete(s.uploads, id)
	delete(s.byMD5, u.md5+"/"+strconv.FormatInt(u.size, 10))
	os.Remove(u.path)
	reply(w, nil)
}

// Upload statuses: 1 uploading, 3 processing, 5 done, 6 failed.
func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request, t *token) {
	s.mu.Lock()
	u := t.upload
	now := s.opts.Now()
	early := s.opts.StatusInterval > 0 && !t.lastPoll.IsZero() && now.Sub(t.lastPoll) < s.opts.StatusInterval
	if !early {
		t.lastPoll = now
	}
	s.mu.Unlock()
	if early {
		s.throttled.Add(1)
		refuse(w, "429", "too many requests: poll the upload status at most every %v", s.opts.StatusInterval)
		return
	}
	if u == nil {
		refuse(w, errFailed, "no upload for this token")
		return
	}
	s.mu.Lock()
	complete := !slices.Contains(u.have, false)
	check := complete && !u.checked
	s.mu.Unlock()
	if !complete {
		reply(w, map[string]any{"status": 1, "url": ""})
		return
	}
	if check {
		ok := fileMD5(u.path) == u.md5
		s.mu.Lock()
		u.checked, u.failed = true, !ok
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case u.failed:
		reply(w, map[string]any{"status": 6, "url": ""})
	case u.polls < s.opts.UploadPolls:
		u.polls++
		reply(w, map[string]any{"status": 3, "url": ""})
	default:
		if u.url == "" {
			u.url = s.ousBase + "/files/" + u.md5 + "/" + url.PathEscape(u.name)
			s.files[u.url] = &stored{path: u.path, name: u.name, md5: u.md5, size: u.size}
		}
		reply(w, map[string]any{"status": 5, "url": u.url})
	}
}

func (s *Server) handleFile(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var f *stored
	for _, st := range s.files {
		if st.md5 == r.PathValue("md5") {
			f = st
		}
	}
	s.mu.Unlock()
	if f == nil {
		http.NotFound(w, r)
		return
	}
	http.ServeFile(w, r, f.path)
}

func fileMD5(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := md5.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// counting counts file bytes as they arrive.
func (s *Server) counting(r io.Reader) io.Reader { return &countReader{r: r, n: &s.bytes} }

type countReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
