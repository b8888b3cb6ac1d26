package main

// Operations, through the real binary: status, the HTTP listener (and its
// page in a real browser when one is installed), notifications, a watch
// folder that is not mounted yet.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/notify"
	"github.com/scandrop/scandrop/internal/ops"
	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

func opsWriteTree(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// opsWatch is a watch folder with something in every state.
func opsWatch(t *testing.T, root string) {
	t.Helper()
	good := realseeDrop(t, 2, 128)
	opsWriteTree(t, filepath.Join(root, "inbox", "loose photos"), map[string][]byte{"IMG_0001.jpg": good["images/scan-00.jpg"]})
	opsWriteTree(t, filepath.Join(root, "inbox", "hall"), map[string][]byte{"manifest.json": good["manifest.json"], "images/scan-00.jpg": good["images/scan-00.jpg"]})
	job := filepath.Join(root, "processing", "nave")
	opsWriteTree(t, job, good)
	j, err := pipeline.OpenJournal(job)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-3 * time.Minute).UTC()
	j.Update(func(r *pipeline.Record) {
		r.Vendor, r.Folder, r.Attempt, r.StartedAt, r.Stage, r.StageAt = "realsee", "nave", 1, at, pipeline.StageUpload, at
		r.UploadedBytes, r.TotalBytes = 3<<20, 12<<20
		r.IDs = vendors.IDs{"upload_id": "U-7"}
	})
	for name, r := range map[string]pipeline.Result{
		"crypt": {Status: "success", Vendor: "realsee", Folder: "crypt", FinishedAt: time.Now().Add(-time.Hour).UTC(), VRURL: "https://realsee.example/vr/crypt"},
		"apse":  {Status: "failed", Vendor: "realsee", Folder: "apse", FinishedAt: time.Now().Add(-time.Minute).UTC(), Error: &pipeline.ResultError{Stage: "validate", Kind: "invalid", Message: "images/a.jpg: not a JPEG"}},
	} {
		sub := "done"
		if r.Error != nil {
			sub = "failed"
		}
		b, _ := json.Marshal(r)
		opsWriteTree(t, filepath.Join(root, sub, name), map[string][]byte{"result.json": b})
	}
}

func TestStatusCommand(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "scans")
	opsWatch(t, root)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("watches:\n  - dir: scans\n  - dir: not-mounted\n"), 0o644)

	out, code := runBin(t, "status", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	t.Logf("scandrop status:\n%s", out)
	for _, want := range []string{
		"watch " + root, "processing (1)", "nave", "upload", "25% of 12.0 MiB", "upload_id=U-7",
		"inbox (2)", "loose photos", "no marker", "hall", "will fail: images/scan-01.jpg: missing",
		"recent (2)", "failed/apse", "validate: images/a.jpg: not a JPEG", "done/crypt", "https://realsee.example/vr/crypt",
		"watch " + filepath.Join(dir, "not-mounted"), "not mounted?",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q", want)
		}
	}

	out, code = runBin(t, "status", "--json", "--config", cfg)
	var rep ops.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
		t.Fatalf("status --json: exit %d, %v\n%s", code, err, out)
	}
	ws := rep.Watches[0]
	if len(ws.Processing) != 1 || ws.Processing[0].UploadedBytes != 3<<20 || len(ws.Inbox) != 2 || len(ws.Recent) != 2 || ws.Recent[0].Folder != "failed/apse" {
		t.Errorf("status --json: %+v", ws)
	}
	// status only reads.
	if _, err := os.Stat(filepath.Join(dir, "not-mounted")); err == nil {
		t.Error("status created a watch folder")
	}
}

// A daemon started before its share is mounted says so once, creates
// nothing, and carries on when the share appears.
func TestStartBeforeMount(t *testing.T) {
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt", "nas")
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("watches:\n  - dir: mnt/nas/scans\n    poll_interval: 50ms\n"), 0o644)
	cmd := exec.Command(binPath, "run", "--config", cfg)
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	waitFor(t, "the unavailable watch to be logged", 10*time.Second, func() bool { return strings.Contains(logs.String(), "watch root unavailable") })
	time.Sleep(500 * time.Millisecond) // ten more polls
	if n := strings.Count(logs.String(), "watch root unavailable"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs.String())
	}
	if _, err := os.Stat(mnt); err == nil {
		t.Fatal("scandrop created the mount point's contents")
	}
	os.MkdirAll(filepath.Join(mnt, "scans"), 0o755) // the share arrives
	waitFor(t, "the watch to start", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(mnt, "scans", "inbox"))
		return err == nil && strings.Contains(logs.String(), "watch root available again")
	})
	t.Logf("log:\n%s", logs.String())
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// httpAddr waits for the daemon's "http listening" line and returns the
// address.
func (h *harness) httpAddr() string {
	h.t.Helper()
	var addr string
	waitFor(h.t, "the HTTP listener", 15*time.Second, func() bool {
		sc := bufio.NewScanner(strings.NewReader(h.logText()))
		for sc.Scan() {
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "http listening" {
				addr = l.Addr
				return true
			}
		}
		return false
	})
	return addr
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return string(b)
}

// The whole operations path on a real job: live status and the page while
// it waits for the vendor, metrics, a signed webhook and a command hook
// when it lands in done/.
func TestE2EOperations(t *testing.T) {
	const hookSecret = "webhook-secret-DO-NOT-LOG"
	hooks := make(chan *http.Request, 10)
	bodies := make(chan []byte, 10)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hooks <- r
		bodies <- b
	}))
	defer recv.Close()

	h := newHarness(t, realseetest.Options{})
	hookOut := filepath.Join(h.root, "hook.out")
	h.writeConfig(fmt.Sprintf(`http:
  listen: 127.0.0.1:0
notify:
  webhooks:
    - url: %s/hook?token=tok-in-url
      secret: %s
  commands:
    - run: [sh, -c, 'echo "$SCANDROP_EVENT $SCANDROP_FOLDER $SCANDROP_RESULT $0" > %s']
      events: [done]
`, recv.URL, hookSecret, hookOut))
	h.gw.HoldTasks(true)
	h.start()
	base := "http://" + h.httpAddr()
	if got := httpGet(t, base+"/healthz"); got != "ok\n" {
		t.Fatalf("/healthz: %q", got)
	}

	opsWatch(t, h.watch()) // something in every state
	// "hall" is still being copied, and will fail: the page says both.
	copying := make(chan struct{})
	defer close(copying)
	go func() {
		part := h.watch("inbox", "hall", ".scan-01.jpg.part")
		for i := 0; ; i++ {
			select {
			case <-copying:
				return
			case <-time.After(100 * time.Millisecond):
				os.WriteFile(part, bytes.Repeat([]byte{1}, i), 0o644)
			}
		}
	}()
	h.drop("rood screen", realseeDrop(t, 3, 256))
	waitFor(t, "the job to wait for the vendor", 30*time.Second, func() bool {
		rec, err := pipeline.ReadRecord(h.watch("processing", "rood screen"))
		return err == nil && rec.Stage == pipeline.StageWait
	})

	// The journal is written before observers hear of a stage: wait for
	// the live view to catch up.
	var rep ops.Report
	var job *ops.Job
	waitFor(t, "the live status to show the wait", 10*time.Second, func() bool {
		rep, job = ops.Report{}, nil
		if err := json.Unmarshal([]byte(httpGet(t, base+"/status")), &rep); err != nil {
			t.Fatal(err)
		}
		for i, j := range rep.Watches[0].Processing {
			if j.Folder == "rood screen" {
				job = &rep.Watches[0].Processing[i]
			}
		}
		return job != nil && job.Stage == "wait"
	})
	if !rep.Live || job == nil || job.Stage != "wait" || job.VendorIDs["task_code"] == "" || job.TotalBytes == 0 || job.UploadedBytes != job.TotalBytes {
		t.Errorf("live status: %+v", rep.Watches[0].Processing)
	}
	page := httpGet(t, base+"/")
	for _, want := range []string{"rood screen", "wait", "settling: changed", "will fail: images/scan-01.jpg: missing", "https://realsee.example/vr/crypt"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	browserCheck(t, base+"/")

	h.gw.HoldTasks(false)
	res, where := h.waitResult("rood screen", 30*time.Second)
	if where != "done" {
		t.Fatalf("landed in %s: %+v", where, res.Error)
	}
	want, _ := os.ReadFile(h.watch("done", "rood screen", "result.json"))
	var got []byte
	var req *http.Request
	deadline := time.After(20 * time.Second)
	for got == nil {
		select {
		case r := <-hooks:
			b := <-bodies
			if r.Header.Get(notify.HeaderEvent) == "done" {
				req, got = r, b
			}
		case <-deadline:
			t.Fatal("no webhook for the done job")
		}
	}
	if !bytes.Equal(got, want) || req.Header.Get(notify.HeaderSignature) != notify.Sign([]byte(hookSecret), want) || req.URL.Query().Get("token") != "tok-in-url" {
		t.Errorf("webhook: %s %v\n%s", req.URL, req.Header, got)
	}
	waitFor(t, "the command hook", 20*time.Second, func() bool {
		b, _ := os.ReadFile(hookOut)
		r := h.watch("done", "rood screen", "result.json")
		return string(b) == "done rood screen "+r+" "+r+"\n"
	})

	metrics := httpGet(t, base+"/metrics")
	for _, want := range []string{
		`scandrop_jobs_finished_total{vendor="realsee",status="success"} 1`,
		`scandrop_folders{watch="` + h.watch() + `",state="done"} 2`,
		`scandrop_stage_duration_seconds_count{vendor="realsee",stage="upload"} 1`,
		`scandrop_notifications_total{channel="command",outcome="delivered"} 1`,
		`scandrop_scan_duration_seconds_bucket{watch="` + h.watch() + `",kind="full",le="+Inf"} `,
	} {
		if !strings.Contains(metrics, want+"\n") && !(strings.HasSuffix(want, " ") && strings.Contains(metrics, want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !strings.Contains(metrics, `scandrop_uploaded_bytes_total{vendor="realsee"} `) {
		t.Errorf("no bytes uploaded in metrics")
	}
	logs := h.logText()
	for _, secret := range []string{hookSecret, "tok-in-url", testAppSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", metrics)
	}
}

// browserCheck loads the page in headless Chromium when it is installed:
// the DOM it builds must hold the tables, and a screenshot is kept in
// $SCANDROP_SCREENSHOT (if set) for people to look at.
func browserCheck(t *testing.T, url string) {
	t.Helper()
	var bin string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Log("no chromium: the page is not checked in a browser")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	profile := t.TempDir()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--no-first-run", "--user-data-dir=" + profile}
	dom, err := exec.CommandContext(ctx, bin, append(args, "--dump-dom", url)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	for _, want := range []string{`<table class="processing">`, `<table class="inbox">`, `<table class="recent">`, "rood screen", "<progress"} {
		if !strings.Contains(string(dom), want) {
			t.Errorf("the browser's DOM lacks %q", want)
		}
	}
	shot := os.Getenv("SCANDROP_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "status.png")
	}
	if out, err := exec.CommandContext(ctx, bin, append(args, "--screenshot="+shot, "--window-size=1200,900", url)...).CombinedOutput(); err != nil {
		t.Errorf("chromium --screenshot: %v\n%s", err, out)
	} else if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Errorf("no screenshot at %s", shot)
	} else {
		t.Logf("screenshot: %s", shot)
	}
}
