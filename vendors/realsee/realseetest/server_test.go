package realseetest_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/scandrop/scandrop/internal/testkit/minis3"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// envelope is the gateway's response wrapper, decoded as the document
// describes it.
type envelope struct {
	RequestID    string          `json:"request_id"`
	TraceID      string          `json:"trace_id"`
	Code         int             `json:"code"`
	Status       string          `json:"status"`
	BusinessCode string          `json:"business_code"`
	Data         json.RawMessage `json:"data"`
	Cost         *int64          `json:"cost"`
}

type fileToken struct {
	TmpSecretID  string `json:"tmpSecretId"`
	TmpSecretKey string `json:"tmpSecretKey"`
	SessionToken string `json:"sessionToken"`
	Prefix       string `json:"prefix"`
	Bucket       string `json:"bucket"`
	Region       string `json:"region"`
	Host         string `json:"host"`
	CustomDomain string `json:"custom_domain"`
	CustomScheme string `json:"custom_scheme"`
	DownloadType string `json:"download_type"`
	DownloadHost string `json:"download_host"`
}

// client does what the document's JavaScript does, with net/http.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func newClient(t *testing.T, srv *realseetest.Server) *client {
	return &client{t: t, base: srv.URL, http: &http.Client{Timeout: 30 * time.Second}}
}

func (c *client) do(req *http.Request) envelope {
	c.t.Helper()
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("%s %s: HTTP %d: %s", req.Method, req.URL.Path, res.StatusCode, b)
	}
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		c.t.Fatalf("%s %s: %v: %s", req.Method, req.URL.Path, err, b)
	}
	if e.RequestID == "" || e.TraceID == "" || e.Cost == nil {
		c.t.Errorf("%s %s: incomplete envelope %s", req.Method, req.URL.Path, b)
	}
	if e.Code != 0 && string(e.Data) != "null" {
		c.t.Errorf("%s %s: failure with data %s", req.Method, req.URL.Path, e.Data)
	}
	return e
}

// getAccessToken posts the app key and secret form-encoded.
func (c *client) getAccessToken(key, secret string) (envelope, string, int64) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+"/auth/access_token",
		strings.NewReader(url.Values{"app_key": {key}, "app_secret": {secret}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	e := c.do(req)
	var d struct {
		AccessToken string `json:"access_token"`
		ExpireAt    int64  `json:"expire_at"`
	}
	json.Unmarshal(e.Data, &d)
	return e, d.AccessToken, d.ExpireAt
}

func (c *client) accessToken() string {
	c.t.Helper()
	e, tok, _ := c.getAccessToken(realseetest.DefaultAppKey, realseetest.DefaultAppSecret)
	if e.Code != 0 || tok == "" {
		c.t.Fatalf("access token: %+v", e)
	}
	return tok
}

func (c *client) get(token, pathQuery string) envelope {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+pathQuery, nil)
	req.Header.Set("Authorization", token)
	return c.do(req)
}

func (c *client) fileToken(token string) fileToken {
	c.t.Helper()
	e := c.get(token, "/open/v1/pano/file/token")
	if e.Code != 0 {
		c.t.Fatalf("file token: %+v", e)
	}
	var ft fileToken
	if err := json.Unmarshal(e.Data, &ft); err != nil {
		c.t.Fatal(err)
	}
	return ft
}

func (c *client) submit(token string, body any) envelope {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, c.base+"/open/v1/pano/task/submit", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", token)
	return c.do(req)
}

type taskStatus struct {
	ProjectID string `json:"project_id"`
	Status    string `json:"status"`
	VRURL     string `json:"vr_url"`
}

// poll asks for the status until it is final and returns every status seen.
func (c *client) poll(token, taskCode string) ([]string, taskStatus) {
	c.t.Helper()
	var seen []string
	for range 20 {
		e := c.get(token, "/open/v1/pano/task/status?task_code="+url.QueryEscape(taskCode))
		if e.Code != 0 {
			c.t.Fatalf("status: %+v", e)
		}
		var st taskStatus
		json.Unmarshal(e.Data, &st)
		seen = append(seen, st.Status)
		if st.Status == "success" || st.Status == "failed" {
			return seen, st
		}
	}
	c.t.Fatalf("task never finished: %v", seen)
	return nil, taskStatus{}
}

// s3Client builds the upload client from the file token: the endpoint is
// custom_scheme://custom_domain as in the document, path-style because the
// domain is a loopback address, and without aws-chunked checksums.
func s3Client(ft fileToken) *s3.Client {
	return s3.New(s3.Options{
		Region:                     ft.Region,
		BaseEndpoint:               aws.String(ft.CustomScheme + "://" + ft.CustomDomain),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(ft.TmpSecretID, ft.TmpSecretKey, ft.SessionToken),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

func upload(t *testing.T, ft fileToken, name string, data []byte) string {
	t.Helper()
	key := ft.Prefix + name
	_, err := s3Client(ft).PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(ft.Bucket), Key: aws.String(key), Body: bytes.NewReader(data),
	})
	if err != nil {
		t.Fatalf("upload %s: %v", key, err)
	}
	return key
}

var jpeg = []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0}

const goodManifest = `{"version":"1.0","floor_map":{"0":1,"1":2},"project_name":"my-pano-project",
"scan_list":[{"id":"entrance","floor":0},{"id":"high-altar","floor":1}]}`

func makeZip(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, b := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func goodZip(t *testing.T) []byte {
	return makeZip(t, map[string][]byte{
		"manifest.json":         []byte(goodManifest),
		"images/entrance.jpg":   jpeg,
		"images/high-altar.jpg": jpeg,
	})
}

func newServer(t *testing.T, opts realseetest.Options) *realseetest.Server {
	srv := realseetest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

func TestDocumentFlow(t *testing.T) {
	srv := newServer(t, realseetest.Options{})
	c := newClient(t, srv)

	tok := c.accessToken()
	ft := c.fileToken(tok)
	if ft.DownloadHost != "" || ft.DownloadType != "presign" || ft.Bucket != realseetest.DefaultBucket ||
		ft.Region != realseetest.DefaultRegion || ft.Host != srv.Storage().URL() ||
		ft.CustomScheme+"://"+ft.CustomDomain != srv.Storage().URL() ||
		!strings.HasPrefix(ft.Prefix, "vrfile/release/open_task_original/T-TEST000001/pano/") || !strings.HasSuffix(ft.Prefix, "/") {
		t.Errorf("file token = %+v", ft)
	}
	key := upload(t, ft, "my-project.zip", goodZip(t))

	e := c.submit(tok, map[string]string{"project_name": "my-pano-project", "private_cos_key": key})
	if e.Code != 0 {
		t.Fatalf("submit: %+v", e)
	}
	var sd struct {
		TaskCode  string `json:"task_code"`
		ProjectID string `json:"project_id"`
	}
	json.Unmarshal(e.Data, &sd)
	if sd.TaskCode == "" || !strings.HasPrefix(sd.ProjectID, "pano-") {
		t.Fatalf("submit data = %s", e.Data)
	}

	seen, st := c.poll(tok, sd.TaskCode)
	if want := []string{"pending", "processing", "success"}; fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("statuses = %v, want %v", seen, want)
	}
	if !strings.HasPrefix(st.VRURL, "https://realsee.cn/") || len(st.VRURL) <= len("https://realsee.cn/") || st.ProjectID != sd.ProjectID {
		t.Errorf("final status = %+v", st)
	}
	// Polling a finished task answers the same.
	if _, again := c.poll(tok, sd.TaskCode); again != st {
		t.Errorf("second poll = %+v, want %+v", again, st)
	}

	subs := srv.Submits()
	if len(subs) != 1 || subs[0].PrivateCosKey != key || subs[0].ProjectName != "my-pano-project" ||
		subs[0].TaskCode != sd.TaskCode || subs[0].Failure != "" || subs[0].At.IsZero() {
		t.Errorf("Submits = %+v", subs)
	}
	reqs := srv.Requests()
	if reqs["/open/v1/pano/task/submit"] != 1 || reqs["/auth/access_token"] != 1 || reqs["/open/v1/pano/task/status"] != 4 {
		t.Errorf("Requests = %v", reqs)
	}
}

// A multipart upload works against the built-in store, whose minimum part
// size tests can lower.
func TestMultipartUpload(t *testing.T) {
	srv := newServer(t, realseetest.Options{MinPartSize: 64, ProcessingPolls: -1})
	c := newClient(t, srv)
	tok := c.accessToken()
	ft := c.fileToken(tok)
	data := goodZip(t)
	key := ft.Prefix + "big.zip"
	s3c := s3Client(ft)
	ctx := context.Background()
	up, err := s3c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &ft.Bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	for n, off := int32(1), 0; off < len(data); n, off = n+1, off+100 {
		res, err := s3c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &ft.Bucket, Key: &key, UploadId: up.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(data[off:min(off+100, len(data))])})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: res.ETag})
	}
	if _, err := s3c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &ft.Bucket, Key: &key,
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	e := c.submit(tok, map[string]string{"project_name": "p", "private_cos_key": key})
	var sd struct {
		TaskCode string `json:"task_code"`
	}
	json.Unmarshal(e.Data, &sd)
	if seen, _ := c.poll(tok, sd.TaskCode); fmt.Sprint(seen) != "[success]" {
		t.Errorf("statuses = %v", seen)
	}
}

func TestAccessTokens(t *testing.T) {
	now := time.Unix(1710732100, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	srv := newServer(t, realseetest.Options{AppKey: "k", AppSecret: "s", Now: clock})
	c := newClient(t, srv)

	for _, tc := range []struct{ key, secret string }{{"k", "wrong"}, {"wrong", "s"}, {"", ""}} {
		if e, _, _ := c.getAccessToken(tc.key, tc.secret); e.Code != -1 || e.Status != "illegal app" {
			t.Errorf("app %q/%q: %+v", tc.key, tc.secret, e)
		}
	}
	e, tok, exp := c.getAccessToken("k", "s")
	if e.Code != 0 || e.Status != "success" || exp != now.Add(realseetest.DefaultTokenTTL).Unix() {
		t.Fatalf("token: %+v expire_at %d", e, exp)
	}

	expectCode := func(name, token string, code int, status, bc string) {
		t.Helper()
		e := c.get(token, "/open/v1/pano/file/token")
		if e.Code != code || e.Status != status || e.BusinessCode != bc {
			t.Errorf("%s: code %d status %q business_code %q, want %d %q %q", name, e.Code, e.Status, e.BusinessCode, code, status, bc)
		}
	}
	expectCode("fresh token", tok, 0, "success", "")
	expectCode("no token", "", -1, "invalid access_token", "10001")
	expectCode("unknown token", "nope", -1, "invalid access_token", "10001")
	expectCode("bearer", "Bearer "+tok, -1, "invalid access_token", "10001")

	advance(realseetest.DefaultTokenTTL - time.Second)
	expectCode("just before expire_at", tok, 0, "success", "")
	advance(time.Second)
	expectCode("at expire_at", tok, -3, "access_token expired", "")
	e = c.get(tok, "/open/v1/pano/task/status?task_code=x")
	if e.Code != -3 {
		t.Errorf("status with an expired token: %+v", e)
	}

	_, tok2, _ := c.getAccessToken("k", "s")
	expectCode("new token", tok2, 0, "success", "")
	srv.ExpireTokens()
	expectCode("after ExpireTokens", tok2, -3, "access_token expired", "")
	_, tok3, _ := c.getAccessToken("k", "s")
	expectCode("token after ExpireTokens", tok3, 0, "success", "")
}

func TestSubmitRefused(t *testing.T) {
	srv := newServer(t, realseetest.Options{})
	c := newClient(t, srv)
	tok := c.accessToken()
	ft := c.fileToken(tok)
	key := upload(t, ft, "ok.zip", goodZip(t))
	// An object outside the issued prefix.
	outside := ft
	outside.Prefix = "elsewhere/"
	upload(t, outside, "x.zip", goodZip(t))

	for _, tc := range []struct {
		name   string
		body   any
		status string
		bc     string
	}{
		{"neither", map[string]string{"project_name": "p"}, "zip_cos_url or private_cos_key is required", "50"},
		{"no project_name", map[string]string{"private_cos_key": key}, "project_name is required", ""},
		{"both", map[string]string{"project_name": "p", "private_cos_key": key, "zip_cos_url": "https://x/y.zip"}, "mutually exclusive", ""},
		{"outside prefix", map[string]string{"project_name": "p", "private_cos_key": "elsewhere/x.zip"}, "not under a prefix", ""},
		{"no such object", map[string]string{"project_name": "p", "private_cos_key": ft.Prefix + "missing.zip"}, "no such object", ""},
		{"prefix itself", map[string]string{"project_name": "p", "private_cos_key": ft.Prefix}, "not under a prefix", ""},
		{"zip_cos_url for a private bucket", map[string]string{"project_name": "p", "zip_cos_url": "https://x/y.zip"}, "submit private_cos_key", ""},
		{"not JSON", "project_name=p", "invalid request body", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := c.submit(tok, tc.body)
			if e.Code != -1 || !strings.Contains(e.Status, tc.status) || e.BusinessCode != tc.bc {
				t.Errorf("got %d %q %q, want -1 %q %q", e.Code, e.Status, e.BusinessCode, tc.status, tc.bc)
			}
		})
	}
	if n := len(srv.Submits()); n != 0 {
		t.Errorf("%d refused submits recorded", n)
	}
	e := c.get(tok, "/open/v1/pano/task/status?task_code=unknown")
	if e.Code != -1 {
		t.Errorf("unknown task: %+v", e)
	}
	e = c.get(tok, "/open/v1/pano/task/status")
	if e.Code != -1 {
		t.Errorf("no task_code: %+v", e)
	}
}

func TestBadPackages(t *testing.T) {
	png := []byte{0x89, 'P', 'N', 'G', '\r', '\n'}
	for _, tc := range []struct {
		name    string
		zip     func(t *testing.T) []byte
		failure string
	}{
		{"not a zip", func(*testing.T) []byte { return []byte("PK but not really") }, "not a valid zip"},
		{"truncated", func(t *testing.T) []byte { z := goodZip(t); return z[:len(z)-30] }, "not a valid zip"},
		{"no manifest", func(t *testing.T) []byte {
			return makeZip(t, map[string][]byte{"images/entrance.jpg": jpeg})
		}, "manifest.json is missing"},
		{"manifest in a folder", func(t *testing.T) []byte {
			return makeZip(t, map[string][]byte{"proj/manifest.json": []byte(goodManifest)})
		}, "not at the root"},
		{"manifest not JSON", func(t *testing.T) []byte {
			return makeZip(t, map[string][]byte{"manifest.json": []byte("{")})
		}, "manifest.json:"},
		{"version as number", func(t *testing.T) []byte {
			return makeZip(t, map[string][]byte{
				"manifest.json":       []byte(`{"version":1.0,"floor_map":{"0":0},"scan_list":[{"id":"entrance","floor":0}]}`),
				"images/entrance.jpg": jpeg,
			})
		}, `version is 1.0, must be the string "1.0"`},
		{"missing image", func(t *testing.T) []byte {
			return makeZip(t, map[string][]byte{"manifest.json": []byte(goodManifest), "images/entrance.jpg": jpeg})
		}, "images/high-altar.jpg: missing"},
		{"PNG named jpg", func(t *testing.T) []byte {
			return makeZip(t, map[string][]byte{"manifest.json": []byte(goodManifest),
				"images/entrance.jpg": jpeg, "images/high-altar.jpg": png})
		}, "images/high-altar.jpg: not a JPEG"},
		{"floor not in floor_map", func(t *testing.T) []byte {
			return makeZip(t, map[string][]byte{
				"manifest.json":       []byte(`{"version":"1.0","floor_map":{"0":0},"scan_list":[{"id":"entrance","floor":2}]}`),
				"images/entrance.jpg": jpeg,
			})
		}, "floor_map does not list"},
		{"empty scan_list", func(t *testing.T) []byte {
			return makeZip(t, map[string][]byte{"manifest.json": []byte(`{"version":"1.0","floor_map":{"0":0},"scan_list":[]}`)})
		}, "scan_list is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, realseetest.Options{})
			c := newClient(t, srv)
			tok := c.accessToken()
			key := upload(t, c.fileToken(tok), "bad.zip", tc.zip(t))
			e := c.submit(tok, map[string]string{"project_name": "p", "private_cos_key": key})
			if e.Code != 0 {
				t.Fatalf("submit of a bad package must still succeed: %+v", e)
			}
			var sd struct {
				TaskCode string `json:"task_code"`
			}
			json.Unmarshal(e.Data, &sd)
			seen, st := c.poll(tok, sd.TaskCode)
			if fmt.Sprint(seen) != "[pending processing failed]" || st.VRURL != "" {
				t.Errorf("statuses %v, final %+v", seen, st)
			}
			subs := srv.Submits()
			if len(subs) != 1 || !strings.Contains(subs[0].Failure, tc.failure) {
				t.Errorf("Failure = %q, want it to contain %q", subs[0].Failure, tc.failure)
			}
		})
	}
}

func TestFileTokenForms(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts realseetest.Options
		want map[string]string // field → raw JSON
	}{
		{"numbers", realseetest.Options{}, map[string]string{
			"ttl": "3600", "expire": "3600", "is_accelerate": `"0"`, "backup": "null", "download_type": `"presign"`,
			"download_host": `""`, "custom_scheme": `"http"`,
		}},
		{"strings", realseetest.Options{TTLAsString: true, CredentialsTTL: 1800}, map[string]string{
			"ttl": `"1800"`, "expire": `"1800"`, "is_accelerate": "true",
		}},
		{"public bucket", realseetest.Options{DownloadHost: "https://dl.example.com/"}, map[string]string{
			"download_type": `"direct"`, "download_host": `"https://dl.example.com"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, tc.opts)
			c := newClient(t, srv)
			e := c.get(c.accessToken(), "/open/v1/pano/file/token")
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(e.Data, &raw); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"tmpSecretId", "tmpSecretKey", "sessionToken", "ttl", "expire", "prefix", "app_id",
				"bucket", "region", "host", "is_accelerate", "custom_domain", "custom_scheme", "download_type", "download_host", "backup"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("field %s missing", k)
				}
			}
			if len(raw) != 16 {
				t.Errorf("%d fields, want the document's 16: %s", len(raw), e.Data)
			}
			for k, want := range tc.want {
				if got := string(raw[k]); got != want {
					t.Errorf("%s = %s, want %s", k, got, want)
				}
			}
		})
	}
}

func TestFailNext(t *testing.T) {
	srv := newServer(t, realseetest.Options{})
	c := newClient(t, srv)
	tok := c.accessToken()

	for _, tc := range []struct {
		status int
		json   bool
	}{{503, true}, {502, false}, {504, false}, {500, true}} {
		srv.FailNext(1, tc.status)
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/open/v1/pano/file/token", nil)
		req.Header.Set("Authorization", tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var e envelope
		isJSON := json.Unmarshal(b, &e) == nil
		if res.StatusCode != tc.status || isJSON != tc.json || (isJSON && e.Code != -1) {
			t.Errorf("FailNext(%d): HTTP %d, JSON %v: %s", tc.status, res.StatusCode, isJSON, b)
		}
	}
	// Only n requests fail, and they count.
	c.fileToken(tok)
	if n := srv.Requests()["/open/v1/pano/file/token"]; n != 5 {
		t.Errorf("Requests = %d, want 5", n)
	}
	// A failed submit creates nothing.
	srv.FailNext(1, 503)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/open/v1/pano/task/submit", strings.NewReader(`{"project_name":"p","private_cos_key":"k"}`))
	req.Header.Set("Authorization", tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 || len(srv.Submits()) != 0 {
		t.Errorf("failed submit: HTTP %d, %d submits", res.StatusCode, len(srv.Submits()))
	}
}

func submitGood(t *testing.T, srv *realseetest.Server, c *client, tok string) string {
	t.Helper()
	key := upload(t, c.fileToken(tok), "p.zip", goodZip(t))
	e := c.submit(tok, map[string]string{"project_name": "p", "private_cos_key": key})
	var sd struct {
		TaskCode string `json:"task_code"`
	}
	json.Unmarshal(e.Data, &sd)
	if e.Code != 0 || sd.TaskCode == "" {
		t.Fatalf("submit: %+v", e)
	}
	return sd.TaskCode
}

func TestHoldAndFailTasks(t *testing.T) {
	srv := newServer(t, realseetest.Options{ProcessingPolls: 1})
	c := newClient(t, srv)
	tok := c.accessToken()

	srv.HoldTasks(true)
	code := submitGood(t, srv, c, tok)
	for range 5 {
		var st taskStatus
		json.Unmarshal(c.get(tok, "/open/v1/pano/task/status?task_code="+code).Data, &st)
		if st.Status != "processing" {
			t.Fatalf("held task is %q", st.Status)
		}
	}
	srv.HoldTasks(false)
	if seen, st := c.poll(tok, code); fmt.Sprint(seen) != "[pending success]" || st.VRURL == "" {
		t.Errorf("released task: %v %+v", seen, st)
	}

	srv.FailTasks(true)
	code = submitGood(t, srv, c, tok)
	if seen, _ := c.poll(tok, code); fmt.Sprint(seen) != "[pending failed]" {
		t.Errorf("failing task: %v", seen)
	}
	subs := srv.Submits()
	if len(subs) != 2 || subs[1].Failure == "" {
		t.Errorf("Submits = %+v", subs)
	}
}

func TestBreakNextSubmit(t *testing.T) {
	srv := newServer(t, realseetest.Options{})
	c := newClient(t, srv)
	tok := c.accessToken()
	key := upload(t, c.fileToken(tok), "p.zip", goodZip(t))
	srv.BreakNextSubmit(1)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/open/v1/pano/task/submit",
		strings.NewReader(`{"project_name":"p","private_cos_key":"`+key+`"}`))
	req.Header.Set("Authorization", tok)
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		res.Body.Close()
		t.Fatalf("broken submit answered HTTP %d", res.StatusCode)
	}
	if subs := srv.Submits(); len(subs) != 1 {
		t.Errorf("the broken submit must still create a task: %+v", subs)
	}
}

// With a public bucket the client submits zip_cos_url = download_host/key.
func TestDownloadHost(t *testing.T) {
	srv := newServer(t, realseetest.Options{DownloadHost: "https://dl.example.com", ProcessingPolls: -1})
	c := newClient(t, srv)
	tok := c.accessToken()
	ft := c.fileToken(tok)
	key := upload(t, ft, "my project.zip", goodZip(t))

	e := c.submit(tok, map[string]string{"project_name": "p", "private_cos_key": key})
	if e.Code != -1 || !strings.Contains(e.Status, "submit zip_cos_url") {
		t.Errorf("private_cos_key for a public bucket: %+v", e)
	}
	e = c.submit(tok, map[string]string{"project_name": "p", "zip_cos_url": ft.DownloadHost + "/" + (&url.URL{Path: key}).EscapedPath()})
	var sd struct {
		TaskCode string `json:"task_code"`
	}
	json.Unmarshal(e.Data, &sd)
	if e.Code != 0 {
		t.Fatalf("submit: %+v", e)
	}
	if seen, _ := c.poll(tok, sd.TaskCode); fmt.Sprint(seen) != "[success]" {
		t.Errorf("statuses %v, submits %+v", seen, srv.Submits())
	}

	// A presigned URL works too: the fake downloads it.
	ps, err := s3.NewPresignClient(s3Client(ft)).PresignGetObject(context.Background(),
		&s3.GetObjectInput{Bucket: &ft.Bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	e = c.submit(tok, map[string]string{"project_name": "p", "zip_cos_url": ps.URL})
	json.Unmarshal(e.Data, &sd)
	if seen, _ := c.poll(tok, sd.TaskCode); fmt.Sprint(seen) != "[success]" {
		t.Errorf("presigned: statuses %v, submits %+v", seen, srv.Submits())
	}
}

// An external S3 endpoint: the fake hands out its credentials and reads the
// package back through S3.
func TestExternalStorage(t *testing.T) {
	store := minis3.NewServer(minis3.Options{AccessKey: "AK", SecretKey: "SK", SessionToken: "TOK", Region: "us-west-2", Buckets: []string{"ext"}})
	t.Cleanup(store.Close)
	srv := newServer(t, realseetest.Options{S3Endpoint: store.URL(), Bucket: "ext", Region: "us-west-2",
		AccessKey: "AK", SecretKey: "SK", SessionToken: "TOK", Prefix: "fixed/prefix/", ProcessingPolls: -1})
	if srv.Storage() != nil {
		t.Error("Storage() with an external endpoint")
	}
	c := newClient(t, srv)
	tok := c.accessToken()
	ft := c.fileToken(tok)
	if ft.Host != store.URL() || ft.Prefix != "fixed/prefix/" || ft.TmpSecretID != "AK" {
		t.Errorf("file token = %+v", ft)
	}
	key := upload(t, ft, "x.zip", goodZip(t))
	e := c.submit(tok, map[string]string{"project_name": "p", "private_cos_key": ft.Prefix + "missing.zip"})
	if e.Code != -1 {
		t.Errorf("missing object: %+v", e)
	}
	e = c.submit(tok, map[string]string{"project_name": "p", "private_cos_key": key})
	var sd struct {
		TaskCode string `json:"task_code"`
	}
	json.Unmarshal(e.Data, &sd)
	if seen, _ := c.poll(tok, sd.TaskCode); fmt.Sprint(seen) != "[success]" {
		t.Errorf("statuses %v, submits %+v", seen, srv.Submits())
	}
}

func TestRotateCredentials(t *testing.T) {
	srv := newServer(t, realseetest.Options{})
	c := newClient(t, srv)
	tok := c.accessToken()
	old := c.fileToken(tok)
	srv.RotateCredentials()
	_, err := s3Client(old).PutObject(context.Background(), &s3.PutObjectInput{Bucket: &old.Bucket,
		Key: aws.String(old.Prefix + "a.zip"), Body: strings.NewReader("x")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ExpiredToken" {
		t.Errorf("upload with rotated credentials: %v", err)
	}
	fresh := c.fileToken(tok)
	if fresh.TmpSecretID == old.TmpSecretID {
		t.Error("file token still hands out the old credentials")
	}
	upload(t, fresh, "a.zip", []byte("x"))
}
