package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/backoff"
	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/pipeline"
)

type delivery struct {
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint that answers with the codes given, then
// 200, and records every request.
type receiver struct {
	mu    sync.Mutex
	codes []int
	got   []delivery
	ch    chan delivery
	srv   *httptest.Server
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	r := &receiver{codes: codes, ch: make(chan delivery, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		d := delivery{req.Header.Clone(), b}
		r.mu.Lock()
		r.got = append(r.got, d)
		code := 200
		if len(r.codes) > 0 {
			code, r.codes = r.codes[0], r.codes[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(code)
		r.ch <- d
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// finishedJob writes a job folder as it lands in done/ or failed/.
func finishedJob(t *testing.T, res *pipeline.Result) string {
	root := t.TempDir()
	sub := "done"
	if !res.Success() {
		sub = "failed"
	}
	dir := filepath.Join(root, sub, res.Folder)
	os.MkdirAll(dir, 0o755)
	b, _ := json.Marshal(*res)
	if err := os.WriteFile(filepath.Join(dir, pipeline.ResultFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestWebhooks(t *testing.T) {
	const secret = "hook-secret-NEVER-LOGGED"
	flaky := newReceiver(t, 503, 502) // succeeds on the third try
	refusing := newReceiver(t, 400)   // refuses: not retried
	onlyDone := newReceiver(t)        // not told of failures
	down := newReceiver(t, 500, 500, 500)
	var logs logBuffer
	n := NewNotifier(config.Notify{Webhooks: []config.Webhook{
		{URL: config.Secret(flaky.srv.URL + "/hook?token=tok-SECRET"), Secret: secret, Events: []string{"done", "failed"}, Timeout: config.Duration(5 * time.Second), Attempts: 5},
		{URL: config.Secret(refusing.srv.URL), Events: []string{"failed"}, Timeout: config.Duration(5 * time.Second), Attempts: 5},
		{URL: config.Secret(onlyDone.srv.URL), Events: []string{"done"}, Timeout: config.Duration(5 * time.Second), Attempts: 5},
		{URL: config.Secret(down.srv.URL), Events: []string{"failed"}, Timeout: config.Duration(5 * time.Second), Attempts: 3},
	}}, NotifierOptions{
		Logger:  slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Backoff: backoff.Policy{First: 10 * time.Millisecond, Ceiling: 40 * time.Millisecond}, UserAgent: "scandrop/test",
	})

	res := &pipeline.Result{Status: "failed", Vendor: "realsee", Folder: "crypt", Error: &pipeline.ResultError{Stage: "wait", Kind: "vendor_failed", Message: "x"}}
	dir := finishedJob(t, res)
	want, _ := os.ReadFile(filepath.Join(dir, pipeline.ResultFile))

	start := time.Now()
	n.Finished("crypt", res, dir)
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("Finished took %s: it must not wait for receivers", d)
	}
	n.Close(context.Background()) // waits for all of them

	got := flaky.requests()
	if len(got) != 3 {
		t.Fatalf("flaky receiver got %d requests, want 3", len(got))
	}
	id := got[0].header.Get(HeaderDelivery)
	for _, d := range got {
		if !bytes.Equal(d.body, want) {
			t.Errorf("body %q, want result.json %q", d.body, want)
		}
		if sig := d.header.Get(HeaderSignature); !hmac.Equal([]byte(sig), []byte(Sign([]byte(secret), want))) || !strings.HasPrefix(sig, "sha256=") || len(sig) != 7+64 {
			t.Errorf("signature %q", sig)
		}
		if d.header.Get(HeaderEvent) != "failed" || d.header.Get("Content-Type") != "application/json" || d.header.Get("User-Agent") != "scandrop/test" {
			t.Errorf("headers %v", d.header)
		}
		if d.header.Get(HeaderDelivery) != id || id == "" {
			t.Errorf("delivery id %q, want the same %q on every retry", d.header.Get(HeaderDelivery), id)
		}
	}
	if r := refusing.requests(); len(r) != 1 || r[0].header.Get(HeaderSignature) != "" {
		t.Errorf("refusing receiver: %d requests (want 1, unsigned)", len(r))
	}
	if r := onlyDone.requests(); len(r) != 0 {
		t.Errorf("a done-only webhook was told of a failure")
	}
	if r := down.requests(); len(r) != 3 {
		t.Errorf("down receiver: %d requests, want 3 attempts", len(r))
	}
	l := logs.String()
	for _, secretish := range []string{secret, "tok-SECRET"} {
		if strings.Contains(l, secretish) {
			t.Errorf("the log shows %q:\n%s", secretish, l)
		}
	}
	if !strings.Contains(l, "webhook delivered") || !strings.Contains(l, "webhook not delivered; giving up") || !strings.Contains(l, "folder=crypt") {
		t.Errorf("log:\n%s", l)
	}
}

// A receiver that never answers neither blocks the job nor a stopping
// daemon for longer than Close allows.
func TestWebhookStop(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	counts := map[string]int{}
	var mu sync.Mutex
	n := NewNotifier(config.Notify{Webhooks: []config.Webhook{
		{URL: config.Secret(srv.URL), Events: []string{"done"}, Timeout: config.Duration(time.Minute), Attempts: 8},
	}}, NotifierOptions{Logger: slog.New(slog.DiscardHandler), Count: func(c, o string) { mu.Lock(); counts[c+" "+o]++; mu.Unlock() }})
	res := &pipeline.Result{Status: "success", Folder: "a"}
	n.Finished("a", res, finishedJob(t, res))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	n.Close(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %s", d)
	}
	if counts["webhook failed"] != 1 {
		t.Errorf("counts %v", counts)
	}
}

func TestCommands(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	out := filepath.Join(t.TempDir(), "out")
	var logs logBuffer
	n := NewNotifier(config.Notify{Commands: []config.Command{
		{Run: []string{sh, "-c", `printf '%s|%s|%s|%s|%s|%s|%s\n' "$1" "$SCANDROP_RESULT" "$SCANDROP_STATUS" "$SCANDROP_EVENT" "$SCANDROP_FOLDER" "$SCANDROP_DIR" "$(pwd)" >> ` + out + `; echo hook says hi`, "hook"},
			Events: []string{"done", "failed"}, Timeout: config.Duration(10 * time.Second)},
		{Run: []string{sh, "-c", "echo failing >&2; exit 3"}, Events: []string{"done"}, Timeout: config.Duration(10 * time.Second)},
		{Run: []string{sh, "-c", "sleep 30 & sleep 30"}, Events: []string{"done"}, Timeout: config.Duration(300 * time.Millisecond)},
		{Run: []string{sh, "-c", "touch " + out + ".failed-only"}, Events: []string{"failed"}, Timeout: config.Duration(10 * time.Second)},
	}}, NotifierOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	res := &pipeline.Result{Status: "success", Vendor: "realsee", Folder: "nave 教堂"}
	dir := finishedJob(t, res)
	start := time.Now()
	n.Finished(res.Folder, res, dir)
	n.Close(context.Background())
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s: the timeout did not kill the hook and its children", d)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	result := filepath.Join(dir, "result.json")
	real, _ := filepath.EvalSymlinks(dir)
	want := strings.Join([]string{result, result, "success", "done", "nave 教堂", dir, real}, "|") + "\n"
	if string(b) != want {
		t.Errorf("hook saw\n %q\nwant\n %q", b, want)
	}
	if _, err := os.Stat(out + ".failed-only"); err == nil {
		t.Error("a failed-only command ran for a success")
	}
	l := logs.String()
	for _, want := range []string{`msg="command hook ran"`, `output="hook says hi"`, `msg="command hook failed"`, "exit status 3", `output=failing`,
		`msg="command hook timed out and was killed"`, `folder="nave 教堂"`} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %s:\n%s", want, l)
		}
	}
}
