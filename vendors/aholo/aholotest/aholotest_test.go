package aholotest_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors/aholo"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
)

type env struct {
	C string          `json:"c"`
	D json.RawMessage `json:"d"`
	M string          `json:"m"`
}

type client struct {
	t      *testing.T
	srv    *aholotest.Server
	signer aholo.Signer
}

func newClient(t *testing.T, opts aholotest.Options) *client {
	srv := aholotest.NewServer(opts)
	t.Cleanup(srv.Close)
	return &client{t: t, srv: srv, signer: aholo.OpenAPISigner{AppKey: "test-key", AppSecret: "test-secret", AppUID: "test-uid"}}
}

func (c *client) do(req *http.Request) env {
	c.t.Helper()
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var e env
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		c.t.Fatal(err)
	}
	return e
}

func (c *client) api(method, path string, body any) env {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.srv.URL+path, r)
	c.signer.Sign(req)
	return c.do(req)
}

func (c *client) token() string {
	c.t.Helper()
	e := c.api("GET", "/upload/token", nil)
	var d struct {
		OUSToken     string `json:"ousToken"`
		GlobalDomain string `json:"globalDomain"`
		BlockSize    int64  `json:"blockSize"`
	}
	if e.C != "0" || json.Unmarshal(e.D, &d) != nil || d.OUSToken == "" || d.GlobalDomain != c.srv.OUSDomain || d.BlockSize <= 0 {
		c.t.Fatalf("token: %+v", e)
	}
	return d.OUSToken
}

func (c *client) ous(method, path, token string, q url.Values, fields [][2]string, file []byte) env {
	c.t.Helper()
	var body bytes.Buffer
	var ctype string
	if fields != nil || file != nil {
		mw := multipart.NewWriter(&body)
		for _, f := range fields {
			mw.WriteField(f[0], f[1])
		}
		if file != nil {
			w, _ := mw.CreateFormFile("file", "x.bin")
			w.Write(file)
		}
		mw.Close()
		ctype = mw.FormDataContentType()
	}
	req, _ := http.NewRequest(method, "https://"+c.srv.OUSDomain+path+"?"+q.Encode(), &body)
	req.Header.Set("ous-token-v2", token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return c.do(req)
}

func sum(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func TestSignatureChecks(t *testing.T) {
	c := newClient(t, aholotest.Options{})
	for _, tt := range []struct {
		signer aholo.Signer
		msg    string
	}{
		{aholo.OpenAPISigner{AppKey: "test-key", AppSecret: "wrong", AppUID: "test-uid"}, "sign error"},
		{aholo.OpenAPISigner{AppKey: "test-key", AppSecret: "test-secret"}, "appuid is required"},
		{aholo.OpenAPISigner{AppKey: "other", AppSecret: "test-secret", AppUID: "test-uid"}, "invalid appkey"},
		{aholo.OpenAPISigner{AppKey: "test-key", AppSecret: "test-secret", AppUID: "test-uid",
			Clock: stopped(time.Now().Add(-11 * time.Minute))}, "timestamp expired"},
	} {
		c.signer = tt.signer
		if e := c.api("GET", "/upload/token", nil); e.C == "0" || e.M != tt.msg {
			t.Errorf("%+v: got %+v, want %q", tt.signer, e, tt.msg)
		}
	}
}

func TestOneTokenPerFileAndExpiry(t *testing.T) {
	now := time.Now()
	c := newClient(t, aholotest.Options{Now: func() time.Time { return now }})
	a, b := []byte("first file"), []byte("second file")
	tok := c.token()
	if e := c.ous("POST", "/ous/api/v2/single/upload", tok, nil, [][2]string{{"md5", sum(a)}}, a); e.C != "0" {
		t.Fatalf("first upload: %+v", e)
	}
	if e := c.ous("POST", "/ous/api/v2/single/upload", tok, nil, [][2]string{{"md5", sum(b)}}, b); e.C == "0" || !strings.Contains(e.M, "one token per file") {
		t.Errorf("second file with the same token: %+v", e)
	}
	tok2 := c.token()
	if e := c.ous("POST", "/ous/api/v2/single/upload", tok2, nil, [][2]string{{"md5", sum(a)}}, b); e.M != "md5 mismatch" {
		t.Errorf("wrong md5: %+v", e)
	}
	now = now.Add(aholotest.TokenLife + time.Second)
	if e := c.ous("GET", "/ous/api/v2/upload/status", tok, nil, nil, nil); e.M != "ous token expired" {
		t.Errorf("after ten minutes: %+v", e)
	}
}

func TestBlockUploadProtocol(t *testing.T) {
	const bs = 1024
	c := newClient(t, aholotest.Options{BlockSize: bs, UploadPolls: 2})
	data := bytes.Repeat([]byte("0123456789abcdef"), 5*bs/16+3) // 6 blocks, the last short
	q := url.Values{"md5": {sum(data)}, "blocks": {"6"}, "size": {strconv.Itoa(len(data))}, "name": {"big.bin"}}
	tok := c.token()
	init := func(tok string) (string, string) {
		t.Helper()
		e := c.ous("POST", "/ous/api/v2/block/upload/init", tok, q, nil, nil)
		var d struct {
			TaskID     string  `json:"taskId"`
			LackBlocks *string `json:"lackBlocks"`
		}
		if e.C != "0" || json.Unmarshal(e.D, &d) != nil {
			t.Fatalf("init: %+v", e)
		}
		if d.LackBlocks == nil {
			return d.TaskID, "null"
		}
		return d.TaskID, *d.LackBlocks
	}
	part := func(tok, task string, i int, b []byte) env {
		return c.ous("POST", "/ous/api/v2/block/upload/part", tok, nil, [][2]string{{"taskId", task}, {"index", strconv.Itoa(i)}}, b)
	}
	block := func(i int) []byte { return data[(i-1)*bs : min(i*bs, len(data))] }

	task, lack := init(tok)
	if lack != "null" {
		t.Errorf("first init: lackBlocks %s, want null", lack)
	}
	for _, i := range []int{2, 4, 6} {
		if e := part(tok, task, i, block(i)); e.C != "0" {
			t.Fatalf("part %d: %+v", i, e)
		}
	}
	if e := part(tok, task, 3, block(3)[:10]); e.C == "0" {
		t.Error("a short block was accepted")
	}
	tok2 := c.token() // a restart: new token, same file
	task2, lack := init(tok2)
	if task2 != task || lack != "1,3,5" {
		t.Errorf("resumed init: task %s lack %q, want %s and 1,3,5", task2, lack, task)
	}
	other := c.token()
	c.ous("POST", "/ous/api/v2/single/upload", other, nil, [][2]string{{"md5", sum([]byte("x"))}}, []byte("x"))
	if e := part(other, task, 1, block(1)); e.C == "0" {
		t.Error("a part sent with the token of another file was accepted")
	}
	for _, i := range []int{1, 3} {
		part(tok2, task, i, block(i))
	}
	// Block 5 with wrong bytes: the assembled file fails its md5.
	part(tok2, task, 5, bytes.Repeat([]byte{'x'}, bs))
	var st struct {
		Status int    `json:"status"`
		URL    string `json:"url"`
	}
	e := c.ous("GET", "/ous/api/v2/upload/status", tok2, nil, nil, nil)
	json.Unmarshal(e.D, &st)
	if st.Status != 6 {
		t.Fatalf("corrupt file: status %+v, want 6", e)
	}
	if e := c.ous("POST", "/ous/api/v2/block/upload/abort", tok2, url.Values{"taskId": {task}}, nil, nil); e.C != "0" {
		t.Fatalf("abort: %+v", e)
	}
	tok3 := c.token()
	task3, lack := init(tok3)
	if task3 == task || lack != "null" {
		t.Errorf("after abort: task %s lack %s, want a new task lacking all", task3, lack)
	}
	for i := 1; i <= 6; i++ {
		part(tok3, task3, i, block(i))
	}
	var statuses []int
	for range 4 {
		e := c.ous("GET", "/ous/api/v2/upload/status", tok3, nil, nil, nil)
		json.Unmarshal(e.D, &st)
		statuses = append(statuses, st.Status)
	}
	if want := []int{3, 3, 5, 5}; !equal(statuses, want) || !strings.HasSuffix(st.URL, "/big.bin") {
		t.Errorf("statuses %v url %q, want %v", statuses, st.URL, want)
	}
	resp, err := c.srv.Client().Get(st.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, data) {
		t.Error("the stored file differs from the upload")
	}
}

func TestTaskProgressAndControls(t *testing.T) {
	c := newClient(t, aholotest.Options{ProcessingPolls: 3})
	// No project without uploaded resources.
	if e := c.api("POST", "/project/create-3d-recon", map[string]any{"projectName": "x"}); e.C == "0" {
		t.Fatalf("empty project created: %+v", e)
	}
	if e := c.api("POST", "/project/task/list/by-ids", []string{"nope"}); e.C != "0" || string(e.D) != "[]" {
		t.Errorf("unknown id: %+v", e)
	}
	c.srv.FailNext(2, 503)
	for range 2 {
		if e := c.api("POST", "/project/task/list/by-ids", []string{"nope"}); e.C != "503" {
			t.Errorf("FailNext: %+v", e)
		}
	}
	if c.srv.Creates() != 0 {
		t.Error("creates counted")
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type stopped time.Time

func (s stopped) Now() time.Time                       { return time.Time(s) }
func (s stopped) After(time.Duration) <-chan time.Time { return nil }
