package main

// End-to-end tests: the real scandrop binary, run as a separate process
// against the fake Realsee gateway (realseetest) whose upload credentials
// point at a real S3 server (versitygw) on loopback, with real folders.

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/scandrop/scandrop/internal/testkit/testenv"
	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scandrop-bin-")
	if err != nil {
		panic(err)
	}
	// Daemons that drop privileges (PUID/PGID) must still read the CA
	// file below, as the system's certificates are readable by all.
	if err := os.Chmod(dir, 0o755); err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "scandrop")
	// Every daemon started here trusts the Aholo fake's upload service
	// (HTTPS, as in production), as an operator would a private CA.
	ca := filepath.Join(dir, "aholotest-ca.pem")
	if err := os.WriteFile(ca, aholotest.CertPEM(), 0o644); err != nil {
		panic(err)
	}
	os.Setenv("SSL_CERT_FILE", ca)
	// Daemons whose config names no state_dir keep their claim key here,
	// never in the home folder of whoever runs the tests.
	os.Setenv("STATE_DIRECTORY", filepath.Join(dir, "state"))
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building scandrop: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// harness is one watch folder, one S3 server, one fake gateway, and the
// daemon process(es) run against them.
type harness struct {
	t    *testing.T
	root string
	cfg  string
	s3   *testenv.S3
	gw   *realseetest.Server

	// timeout is realsee.timeout in the config.
	timeout string

	mu    sync.Mutex
	procs []*exec.Cmd
	logs  *bytes.Buffer
}

const (
	testAppKey    = "test-app-key"
	testAppSecret = "test-app-secret-DO-NOT-LOG"
)

func newHarness(t *testing.T, opts realseetest.Options) *harness {
	t.Helper()
	h := &harness{t: t, root: t.TempDir(), logs: &bytes.Buffer{}, timeout: "1m"}
	h.s3 = testenv.StartS3(t)
	opts.AppKey, opts.AppSecret = testAppKey, testAppSecret
	opts.S3Endpoint, opts.Bucket, opts.Region = h.s3.Endpoint, h.s3.Bucket, h.s3.Region
	opts.AccessKey, opts.SecretKey = h.s3.AccessKey, h.s3.SecretKey
	if opts.ProcessingPolls == 0 {
		opts.ProcessingPolls = 2
	}
	h.gw = realseetest.NewServer(opts)
	t.Cleanup(h.gw.Close)
	h.cfg = filepath.Join(h.root, "config.yaml")
	h.writeConfig("")
	t.Cleanup(h.stopAll)
	return h
}

func (h *harness) writeConfig(extra string) {
	cfg := fmt.Sprintf(`watches:
  - dir: watch
    mode: auto
    poll_interval: 200ms
    settle: 600ms
max_jobs: 4
state_dir: state
log:
  level: debug
realsee:
  endpoint: %s
  app_key: %s
  app_secret_file: realsee.secret
  poll_interval: 100ms
  timeout: %s
  part_size: 5MiB
  upload_concurrency: 3
%s`, h.gw.URL, testAppKey, h.timeout, extra)
	os.WriteFile(filepath.Join(h.root, "realsee.secret"), []byte(testAppSecret+"\n"), 0o600)
	if err := os.WriteFile(h.cfg, []byte(cfg), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) watch(sub ...string) string {
	return filepath.Join(append([]string{h.root, "watch"}, sub...)...)
}

// start runs the daemon.
func (h *harness) start() *exec.Cmd {
	os.MkdirAll(h.watch(), 0o755)
	cmd := exec.Command(binPath, "run", "--config", h.cfg, "--log-format", "json")
	cmd.Stdout = &lockedWriter{mu: &h.mu, w: h.logs}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	h.procs = append(h.procs, cmd)
	h.mu.Unlock()
	return cmd
}

func (h *harness) kill(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

func (h *harness) stopAll() {
	h.mu.Lock()
	procs := h.procs
	h.procs = nil
	h.mu.Unlock()
	for _, p := range procs {
		if p.ProcessState == nil {
			p.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { p.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				p.Process.Kill()
				<-done
			}
		}
	}
	if h.t.Failed() {
		h.t.Logf("daemon log:\n%s", h.logText())
	}
}

func (h *harness) logText() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logs.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// drop writes a folder into inbox/ the careful way (build beside, rename in).
func (h *harness) drop(name string, files map[string][]byte) {
	h.t.Helper()
	os.MkdirAll(h.watch("inbox"), 0o755)
	tmp := h.watch("inbox", ".tmp-"+name)
	for f, b := range files {
		p := filepath.Join(tmp, filepath.FromSlash(f))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := os.Rename(tmp, h.watch("inbox", name)); err != nil {
		h.t.Fatal(err)
	}
}

// waitResult waits for name to land in done/ or failed/ and returns its
// result and where it landed.
func (h *harness) waitResult(name string, within time.Duration) (*pipeline.Result, string) {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for _, sub := range []string{"done", "failed"} {
			b, err := os.ReadFile(h.watch(sub, name, "result.json"))
			if err == nil {
				var r pipeline.Result
				if err := json.Unmarshal(b, &r); err != nil {
					h.t.Fatalf("result.json: %v\n%s", err, b)
				}
				return &r, sub
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("%s did not finish within %s", name, within)
	return nil, ""
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func panorama(t testing.TB, w, h int, seed int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x*seed + y), uint8(y * 3), uint8(seed * 40), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// realseeDrop is a valid drop with n panoramas of w×w/2.
func realseeDrop(t testing.TB, n, w int) map[string][]byte {
	files := map[string][]byte{}
	var scans []string
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("scan-%02d", i)
		scans = append(scans, fmt.Sprintf(`{"id":%q,"floor":%d}`, id, i%2))
		files["images/"+id+".jpg"] = panorama(t, w, w/2, i+1)
	}
	files["manifest.json"] = []byte(`{"version":"1.0","floor_map":{"0":1,"1":2},"project_name":"proj-{{timestamp}}","scan_list":[` + strings.Join(scans, ",") + `]}`)
	return files
}

// zipInStore fetches the one uploaded zip and lists its entries.
func (h *harness) zipInStore(key string) map[string][]byte {
	h.t.Helper()
	out, err := h.s3.Client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &h.s3.Bucket, Key: &key})
	if err != nil {
		h.t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		h.t.Fatalf("uploaded object is not a zip: %v", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		if f.Method != zip.Store {
			h.t.Errorf("%s: method %d, want stored", f.Name, f.Method)
		}
		rc, _ := f.Open()
		data, err := io.ReadAll(rc)
		if err != nil {
			h.t.Errorf("%s: %v", f.Name, err)
		}
		files[f.Name] = data
	}
	return files
}

func TestE2EHappyPath(t *testing.T) {
	h := newHarness(t, realseetest.Options{})
	h.start()
	files := realseeDrop(t, 3, 512)
	files["notes.txt"] = []byte("not part of the zip")
	files["images/extra.jpg"] = panorama(t, 64, 32, 9)
	start := time.Now()
	h.drop("nave 教堂", files)
	res, where := h.waitResult("nave 教堂", 30*time.Second)
	elapsed := time.Since(start)
	if where != "done" || !res.Success() {
		t.Fatalf("landed in %s: %+v", where, res.Error)
	}
	if !strings.HasPrefix(res.VRURL, "https://") || res.Vendor != "realsee" || res.VendorIDs["task_code"] == "" {
		t.Fatalf("result: %+v", res)
	}
	subs := h.gw.Submits()
	if len(subs) != 1 {
		t.Fatalf("%d submits, want 1", len(subs))
	}
	if subs[0].PrivateCosKey == "" || !strings.HasPrefix(subs[0].ProjectName, "proj-") || strings.Contains(subs[0].ProjectName, "{{") {
		t.Fatalf("submit: %+v", subs[0])
	}
	got := h.zipInStore(subs[0].PrivateCosKey)
	want := []string{"manifest.json", "images/scan-00.jpg", "images/scan-01.jpg", "images/scan-02.jpg"}
	if len(got) != len(want) {
		t.Fatalf("zip holds %d entries, want %v", len(got), want)
	}
	for _, name := range want {
		if !bytes.Equal(got[name], files[name]) {
			t.Errorf("zip entry %s differs from the drop", name)
		}
	}
	// Nothing left behind, nothing secret logged.
	if ents, _ := os.ReadDir(h.watch("processing")); len(ents) != 0 {
		t.Errorf("processing/ not empty: %v", ents)
	}
	if _, err := os.Stat(h.watch("done", "nave 教堂", "notes.txt")); err != nil {
		t.Errorf("the folder did not move whole: %v", err)
	}
	if strings.Contains(h.logText(), testAppSecret) {
		t.Error("the app secret appears in the log")
	}
	t.Logf("drop → done: %s", elapsed.Round(time.Millisecond))
}

// A copier that writes the marker first and the images over several
// seconds must not be picked up early.
func TestE2ESlowCopier(t *testing.T) {
	h := newHarness(t, realseetest.Options{})
	h.start()
	files := realseeDrop(t, 4, 256)
	dir := h.watch("inbox", "slow")
	os.MkdirAll(filepath.Join(dir, "images"), 0o755)
	os.WriteFile(filepath.Join(dir, "manifest.json"), files["manifest.json"], 0o644)
	var lastWrite time.Time
	for i := 0; i < 4; i++ {
		name := fmt.Sprintf("images/scan-%02d.jpg", i)
		b := files[name]
		f, _ := os.Create(filepath.Join(dir, filepath.FromSlash(name)))
		f.Write(b[:len(b)/2])
		time.Sleep(250 * time.Millisecond)
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("picked up while still being written (after %d images)", i)
		}
		f.Write(b[len(b)/2:])
		f.Close()
		lastWrite = time.Now()
		time.Sleep(250 * time.Millisecond)
	}
	res, where := h.waitResult("slow", 30*time.Second)
	if where != "done" {
		t.Fatalf("landed in %s: %+v", where, res.Error)
	}
	if res.StartedAt.Before(lastWrite.Add(-10 * time.Millisecond)) {
		t.Fatalf("started at %s, before the last write at %s", res.StartedAt, lastWrite)
	}
}

// Kill -9 while the vendor is still processing, start again: the job
// finishes with exactly one submit.
func TestE2EKillWhileWaiting(t *testing.T) {
	h := newHarness(t, realseetest.Options{})
	h.gw.HoldTasks(true)
	p := h.start()
	h.drop("killed", realseeDrop(t, 2, 256))
	waitFor(t, "the task to be submitted", 30*time.Second, func() bool {
		rec, err := pipeline.ReadRecord(h.watch("processing", "killed"))
		return err == nil && rec.IDs["task_code"] != ""
	})
	h.kill(p)
	h.start()
	time.Sleep(500 * time.Millisecond) // the new daemon polls a held task
	h.gw.HoldTasks(false)
	res, where := h.waitResult("killed", 30*time.Second)
	if where != "done" {
		t.Fatalf("landed in %s: %+v", where, res.Error)
	}
	if n := len(h.gw.Submits()); n != 1 {
		t.Fatalf("%d submits after a restart, want 1", n)
	}
}

// The access token expires while the job waits: refreshed, not failed.
func TestE2ETokenExpiryWhilePolling(t *testing.T) {
	h := newHarness(t, realseetest.Options{})
	h.gw.HoldTasks(true)
	h.start()
	h.drop("expiry", realseeDrop(t, 2, 256))
	waitFor(t, "the task to be submitted", 30*time.Second, func() bool {
		rec, err := pipeline.ReadRecord(h.watch("processing", "expiry"))
		return err == nil && rec.IDs["task_code"] != ""
	})
	before := h.gw.Requests()["/auth/access_token"]
	h.gw.ExpireTokens()
	time.Sleep(400 * time.Millisecond)
	h.gw.HoldTasks(false)
	res, where := h.waitResult("expiry", 30*time.Second)
	if where != "done" {
		t.Fatalf("landed in %s: %+v", where, res.Error)
	}
	if after := h.gw.Requests()["/auth/access_token"]; after <= before {
		t.Fatalf("no new token was fetched (%d → %d)", before, after)
	}
}

func TestE2EVendorFailed(t *testing.T) {
	h := newHarness(t, realseetest.Options{})
	h.gw.FailTasks(true)
	h.start()
	h.drop("doomed", realseeDrop(t, 2, 256))
	res, where := h.waitResult("doomed", 30*time.Second)
	if where != "failed" || res.Error == nil || res.Error.Kind != "vendor_failed" || res.Error.Stage != "wait" {
		t.Fatalf("landed in %s: %+v", where, res.Error)
	}
	if res.VendorIDs["task_code"] == "" {
		t.Error("the failed task's code is not in result.json")
	}
}

// Invalid drops land in failed/ intact with an error naming the file, no
// vendor call is made, and a good drop beside them still goes through.
func TestE2EInvalidDrops(t *testing.T) {
	h := newHarness(t, realseetest.Options{})
	h.start()
	good := realseeDrop(t, 2, 256)
	bad := map[string]struct {
		files map[string][]byte
		file  string
	}{
		"missing-image": {map[string][]byte{"manifest.json": good["manifest.json"], "images/scan-00.jpg": good["images/scan-00.jpg"]}, "images/scan-01.jpg"},
		"bad-json":      {map[string][]byte{"manifest.json": []byte(`{"version":`), "images/scan-00.jpg": good["images/scan-00.jpg"]}, "manifest.json"},
		"both-markers":  {map[string][]byte{"manifest.json": good["manifest.json"], "recon.yaml": []byte("name: x\n")}, "manifest.json, recon.yaml"},
	}
	for name, b := range bad {
		h.drop(name, b.files)
	}
	h.drop("good", good)
	for name, b := range bad {
		res, where := h.waitResult(name, 30*time.Second)
		if where != "failed" || res.Error == nil || res.Error.Stage != "validate" {
			t.Errorf("%s: landed in %s: %+v", name, where, res.Error)
			continue
		}
		if !strings.Contains(res.Error.Message, b.file) {
			t.Errorf("%s: error %q does not name %s", name, res.Error.Message, b.file)
		}
		for f, data := range b.files {
			got, err := os.ReadFile(h.watch("failed", name, filepath.FromSlash(f)))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s: %s not intact in failed/", name, f)
			}
		}
	}
	if res, where := h.waitResult("good", 30*time.Second); where != "done" {
		t.Fatalf("good drop: %s %+v", where, res.Error)
	}
	if n := len(h.gw.Submits()); n != 1 {
		t.Fatalf("%d submits, want 1 (only the good drop)", n)
	}
	if n := h.gw.Requests()["/open/v1/pano/file/token"]; n != 1 {
		t.Errorf("%d file token requests, want 1 (invalid drops must make no vendor call)", n)
	}
}

// The connection breaks after the gateway created the task: scandrop must
// not submit again on its own. The job fails, retryable, saying so; moving
// it back to inbox/ (the operator's decision) submits anew.
func TestE2ESubmitOutcomeUnknown(t *testing.T) {
	h := newHarness(t, realseetest.Options{})
	h.gw.BreakNextSubmit(1)
	h.start()
	h.drop("lost", realseeDrop(t, 2, 256))
	res, where := h.waitResult("lost", 30*time.Second)
	if where != "failed" || res.Error == nil || res.Error.Kind != "unknown_outcome" || !res.Error.Retryable || res.Error.Stage != "submit" {
		t.Fatalf("landed in %s: %+v", where, res.Error)
	}
	if n := len(h.gw.Submits()); n != 1 {
		t.Fatalf("%d submits, want 1", n)
	}
	if err := os.Rename(h.watch("failed", "lost"), h.watch("inbox", "lost")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retried job to land in done/", 30*time.Second, func() bool {
		_, err := os.Stat(h.watch("done", "lost", "result.json"))
		return err == nil
	})
	if n := len(h.gw.Submits()); n != 2 {
		t.Fatalf("%d submits after the operator's retry, want 2", n)
	}
}

// Bursts of 5xx and HTML error pages from the gateway are outages, not
// failures: the job goes through.
func TestE2EGatewayOutage(t *testing.T) {
	h := newHarness(t, realseetest.Options{})
	h.writeConfig("") // same config
	h.gw.FailNext(6, 502)
	h.start()
	h.drop("stormy", realseeDrop(t, 2, 256))
	res, where := h.waitResult("stormy", 60*time.Second)
	if where != "done" {
		t.Fatalf("landed in %s: %+v", where, res.Error)
	}
	if n := len(h.gw.Submits()); n != 1 {
		t.Fatalf("%d submits, want 1", n)
	}
}

// A task that outlives the vendor timeout fails the job as a timeout, with
// its task_code kept; moved back to inbox/, the job polls the same task
// again instead of submitting anew.
func TestE2ETimeoutThenRetry(t *testing.T) {
	h := newHarness(t, realseetest.Options{})
	h.timeout = "1500ms"
	h.writeConfig("")
	h.gw.HoldTasks(true)
	h.start()
	h.drop("slowvendor", realseeDrop(t, 2, 256))
	res, where := h.waitResult("slowvendor", 30*time.Second)
	if where != "failed" || res.Error == nil || res.Error.Kind != "timeout" || !res.Error.Retryable || res.VendorIDs["task_code"] == "" {
		t.Fatalf("landed in %s: %+v %+v", where, res.Error, res.VendorIDs)
	}
	code := res.VendorIDs["task_code"]
	h.gw.HoldTasks(false)
	if err := os.Rename(h.watch("failed", "slowvendor"), h.watch("inbox", "slowvendor")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retried job to land in done/", 30*time.Second, func() bool {
		_, err := os.Stat(h.watch("done", "slowvendor", "result.json"))
		return err == nil
	})
	b, _ := os.ReadFile(h.watch("done", "slowvendor", "result.json"))
	var again pipeline.Result
	json.Unmarshal(b, &again)
	if !again.Success() || again.VendorIDs["task_code"] != code {
		t.Fatalf("retry: %+v", again)
	}
	if n := len(h.gw.Submits()); n != 1 {
		t.Fatalf("%d submits, want 1: the retry must poll the task it has", n)
	}
}
