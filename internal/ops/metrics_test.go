package ops

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/pipeline"
)

// A line of the Prometheus text format: a comment, or name{labels} value.
var (
	sampleRE  = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*)?\})? (-?[0-9.e+-]+|\+Inf|NaN)$`)
	commentRE = regexp.MustCompile(`^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$`)
)

// checkExposition checks every line's syntax and that each sample belongs
// to a family declared by a TYPE line before it.
func checkExposition(t *testing.T, text string) {
	t.Helper()
	types := map[string]string{}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			if !commentRE.MatchString(line) {
				t.Errorf("line %d: bad comment %q", i+1, line)
			}
			if f := strings.Fields(line); f[1] == "TYPE" {
				types[f[2]] = f[3]
			}
			continue
		}
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("line %d: bad sample %q", i+1, line)
			continue
		}
		name := m[1]
		family := name
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suf); ok && types[b] == "histogram" {
				family = b
			}
		}
		if types[family] == "" {
			t.Errorf("line %d: %s has no TYPE", i+1, name)
		}
	}
}

func TestMetrics(t *testing.T) {
	root := watchDir(t)
	now := time.Unix(1_800_000_000, 0)
	m := NewMonitor(BuildInfo("v1.2.3", "abc123"), func() time.Time { return now })
	m.Stage("a", "realsee", pipeline.StageValidate)
	m.StageDone("a", "realsee", pipeline.StageValidate, 300*time.Millisecond, true)
	m.Stage("a", "realsee", pipeline.StageUpload)
	m.Uploaded("a", "realsee", 10, 100)
	m.Uploaded("a", "realsee", 60, 100)
	m.Uploaded("a", "realsee", 30, 100) // a retried upload starts again
	m.Uploaded("a", "realsee", 100, 100)
	m.StageDone("a", "realsee", pipeline.StageUpload, 40*time.Second, true)
	m.Stage("a", "realsee", pipeline.StageWait)
	m.Retrying("a", "realsee", pipeline.StageWait, "transient", errors.New(`502 from "gw"`))
	m.Stage("b", "aholo", pipeline.StageSubmit)
	m.Finished("a", &pipeline.Result{Status: "failed", Vendor: "realsee", Error: &pipeline.ResultError{Stage: "wait", Kind: "vendor_failed"}}, "/x")
	m.Finished("c", &pipeline.Result{Status: "failed", Vendor: "realsee", Error: &pipeline.ResultError{Stage: "validate", Kind: "invalid"}}, "/x")
	m.Notified("webhook", "delivered")
	m.Scanned("/srv/scans", true, 3*time.Millisecond)
	m.Scanned("/srv/scans", true, 2*time.Second)

	srv := httptest.NewServer((&Server{Monitor: m, Roots: []string{root, `C:\odd "dir"` + "\n"}, Report: func(context.Context) Report { return Report{} }}).Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	checkExposition(t, text)
	for _, want := range []string{
		`scandrop_start_time_seconds 1.8e+09`,
		`scandrop_folders{watch="` + root + `",state="inbox"} 3`,
		`scandrop_folders{watch="` + root + `",state="processing"} 1`,
		`scandrop_folders{watch="` + root + `",state="done"} 1`,
		`scandrop_folders{watch="` + root + `",state="failed"} 1`,
		`scandrop_folders{watch="C:\\odd \"dir\"\n",state="inbox"} -1`,
		`scandrop_jobs_running{vendor="aholo",stage="submit"} 1`,
		`scandrop_jobs_finished_total{vendor="realsee",status="failed"} 2`,
		`scandrop_stage_duration_seconds_bucket{vendor="realsee",stage="upload",le="30"} 0`,
		`scandrop_stage_duration_seconds_bucket{vendor="realsee",stage="upload",le="60"} 1`,
		`scandrop_stage_duration_seconds_bucket{vendor="realsee",stage="upload",le="+Inf"} 1`,
		`scandrop_stage_duration_seconds_sum{vendor="realsee",stage="upload"} 40`,
		`scandrop_stage_duration_seconds_bucket{vendor="realsee",stage="validate",le="1"} 1`,
		`scandrop_uploaded_bytes_total{vendor="realsee"} 130`,
		`scandrop_retries_total{vendor="realsee",stage="wait"} 1`,
		`scandrop_vendor_errors_total{vendor="realsee",stage="wait",kind="transient"} 1`,
		`scandrop_vendor_errors_total{vendor="realsee",stage="wait",kind="vendor_failed"} 1`,
		`scandrop_notifications_total{channel="webhook",outcome="delivered"} 1`,
		`scandrop_scan_duration_seconds_bucket{watch="/srv/scans",kind="full",le="0.005"} 1`,
		`scandrop_scan_duration_seconds_count{watch="/srv/scans",kind="full"} 2`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !regexp.MustCompile(`\nscandrop_build_info\{commit="abc123",goversion="go[^"]+",version="v1.2.3"\} 1\n`).MatchString(text) {
		t.Error("no build info")
	}
	if strings.Contains(text, `kind="invalid"`) {
		t.Error("an invalid drop counted as a vendor error")
	}
	if strings.Contains(text, `vendor="realsee",stage="wait"} 1`+"\n") && strings.Contains(text, "scandrop_jobs_running{vendor=\"realsee\"") {
		t.Error("a finished job still counts as running")
	}
	if t.Failed() {
		t.Log(text)
	}
}

func TestServer(t *testing.T) {
	root := watchDir(t)
	r := reporter()
	mon := NewMonitor(nil, nil)
	mon.Stage("uploading", "realsee", pipeline.StageUpload)
	mon.Uploaded("uploading", "realsee", 50<<20, 100<<20)
	s := &Server{Monitor: mon, Roots: []string{root}, Version: "scandrop test",
		Report: func(ctx context.Context) Report {
			return r.Report(ctx, []Source{{Dir: root, Live: mon}})
		}}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	if resp, body := get("/healthz"); resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", resp.StatusCode, body)
	}
	resp, body := get("/status")
	if resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(body, `"uploaded_bytes": 52428800`) || !strings.Contains(body, `"live": true`) {
		t.Errorf("/status: %s", body)
	}
	resp, body = get("/")
	for _, want := range []string{
		`<meta http-equiv="refresh" content="5">`, "scandrop test", root, "uploading", `<progress max="104857600" value="52428800">`,
		"50% of 100.0 MiB", "will fail: images/hall.jpg: missing", `<a href="https://realsee.example/vr/1">`,
		"validate: images/a.jpg: missing", "loose photos",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("the page has a script")
	}
	if resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("page content type %q", resp.Header.Get("Content-Type"))
	}
	if resp, _ := get("/nope"); resp.StatusCode != 404 {
		t.Errorf("/nope: %d", resp.StatusCode)
	}
	if resp, err := http.Post(srv.URL+"/status", "text/plain", nil); err != nil || resp.StatusCode != 405 {
		t.Errorf("POST /status: %v %v", resp.StatusCode, err)
	}
}
