package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/realsee"
)

// writeFiles writes files (slash-separated names) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func panorama(t *testing.T) string {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 64, 32)), nil); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func writeResult(t *testing.T, dir string, r pipeline.Result) {
	t.Helper()
	b, _ := json.Marshal(r)
	writeFiles(t, dir, map[string]string{pipeline.ResultFile: string(b)})
}

// watchDir builds a watch folder with a job in each state.
func watchDir(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, sub := range []string{pipeline.Inbox, pipeline.Processing, pipeline.Done, pipeline.Failed} {
		os.MkdirAll(filepath.Join(root, sub), 0o755)
	}
	manifest := `{"version":"1.0","floor_map":{"0":1},"scan_list":[{"id":"hall","floor":0},{"id":"nave","floor":0}]}`
	// inbox: no marker; a marker and a missing image; a valid drop.
	writeFiles(t, filepath.Join(root, "inbox", "loose photos"), map[string]string{"a.jpg": "x"})
	writeFiles(t, filepath.Join(root, "inbox", "broken"), map[string]string{"manifest.json": manifest, "images/nave.jpg": panorama(t)})
	writeFiles(t, filepath.Join(root, "inbox", "fine"), map[string]string{"manifest.json": manifest, "images/nave.jpg": panorama(t), "images/hall.jpg": panorama(t)})

	// processing: a job half-way through its upload.
	job := filepath.Join(root, "processing", "uploading")
	writeFiles(t, job, map[string]string{"manifest.json": manifest})
	j, err := pipeline.OpenJournal(job)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now().Add(-5 * time.Minute).UTC()
	if err := j.Update(func(r *pipeline.Record) {
		r.Vendor, r.Folder, r.Attempt, r.StartedAt = "realsee", "uploading", 1, started
		r.Stage, r.StageAt = pipeline.StageUpload, started.Add(time.Minute)
		r.UploadedBytes, r.TotalBytes = 25<<20, 100<<20
		r.IDs = vendors.IDs{"task_code": "T-1"}
	}); err != nil {
		t.Fatal(err)
	}

	// done and failed.
	writeResult(t, filepath.Join(root, "done", "nave"), pipeline.Result{Status: "success", Vendor: "realsee", Folder: "nave",
		FinishedAt: time.Now().Add(-time.Hour).UTC(), VRURL: "https://realsee.example/vr/1"})
	writeResult(t, filepath.Join(root, "failed", "crypt"), pipeline.Result{Status: "failed", Vendor: "realsee", Folder: "crypt",
		FinishedAt: time.Now().Add(-time.Minute).UTC(),
		Error:      &pipeline.ResultError{Stage: "validate", Kind: "invalid", Message: "images/a.jpg: missing"}})
	return root
}

func reporter() *Reporter {
	vs := []vendors.Vendor{realsee.New(realsee.Config{})}
	return &Reporter{
		Markers: []string{"manifest.json", "recon.yaml"},
		Check: func(ctx context.Context, dir string) error {
			_, err := pipeline.Check(ctx, dir, vs)
			return err
		},
	}
}

func TestReport(t *testing.T) {
	root := watchDir(t)
	missing := filepath.Join(t.TempDir(), "not-mounted")
	rep := reporter().Report(context.Background(), []Source{{Dir: root}, {Dir: missing}})
	if rep.Live || len(rep.Watches) != 2 {
		t.Fatalf("report: %+v", rep)
	}
	ws := rep.Watches[0]
	if ws.Error != "" {
		t.Fatalf("error: %s", ws.Error)
	}
	if len(ws.Processing) != 1 {
		t.Fatalf("processing: %+v", ws.Processing)
	}
	j := ws.Processing[0]
	if j.Folder != "uploading" || j.Stage != "upload" || j.Vendor != "realsee" || j.UploadedBytes != 25<<20 || j.TotalBytes != 100<<20 ||
		j.VendorIDs["task_code"] != "T-1" || j.Age != "5m00s" || j.StageAge != "4m00s" {
		t.Errorf("job: %+v", j)
	}
	inbox := map[string]InboxFolder{}
	for _, in := range ws.Inbox {
		inbox[in.Folder] = in
	}
	if in := inbox["loose photos"]; !strings.HasPrefix(in.Reason, "no marker") || in.Problem != "" {
		t.Errorf("no marker: %+v", in)
	}
	if in := inbox["broken"]; in.Problem != "images/hall.jpg: missing: every scan id needs images/<id>.jpg" || in.Problems != 1 {
		t.Errorf("broken: %+v", in)
	}
	if in := inbox["fine"]; in.Problem != "" || !strings.Contains(in.Reason, "settle") {
		t.Errorf("fine: %+v", in)
	}
	if len(ws.Recent) != 2 || ws.Recent[0].Folder != "failed/crypt" || ws.Recent[0].Error != "validate: images/a.jpg: missing" ||
		ws.Recent[1].Folder != "done/nave" || ws.Recent[1].Link != "https://realsee.example/vr/1" {
		t.Errorf("recent: %+v", ws.Recent)
	}
	if e := rep.Watches[1].Error; !strings.Contains(e, "not mounted") {
		t.Errorf("missing watch: %q", e)
	}

	var b bytes.Buffer
	if err := WriteText(&b, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"watch " + root, "processing (1)", "uploading", "25% of 100.0 MiB", "task_code=T-1",
		"inbox (3)", "will fail: images/hall.jpg: missing", "recent (2)", "https://realsee.example/vr/1",
		"watch " + missing, "not mounted",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, b.String())
		}
	}
}

// The live report takes the watcher's reasons and the running jobs'
// progress, and validates a folder again only when it changed.
func TestReportLive(t *testing.T) {
	root := watchDir(t)
	r := reporter()
	checks := 0
	check := r.Check
	r.Check = func(ctx context.Context, dir string) error { checks++; return check(ctx, dir) }
	since := time.Now()
	mon := NewMonitor(nil, nil)
	mon.Stage("uploading", "realsee", pipeline.StageUpload)
	mon.Uploaded("uploading", "realsee", 50<<20, 100<<20)
	src := Source{Dir: root, Live: mon, Inbox: liveInbox(since)}
	for range 3 {
		rep := r.Report(context.Background(), []Source{src})
		if !rep.Live {
			t.Fatal("not live")
		}
		ws := rep.Watches[0]
		if j := ws.Processing[0]; j.UploadedBytes != 50<<20 {
			t.Errorf("live progress: %+v", j)
		}
		if len(ws.Inbox) != 1 || ws.Inbox[0].Reason != "settling: changed 1s ago, needs 10s unchanged" || !strings.Contains(ws.Inbox[0].Problem, "images/hall.jpg") {
			t.Errorf("live inbox: %+v", ws.Inbox)
		}
	}
	if checks != 1 {
		t.Errorf("validated %d times, want once while unchanged", checks)
	}
	src.Inbox = liveInbox(since.Add(time.Second))
	r.Report(context.Background(), []Source{src})
	if checks != 2 {
		t.Errorf("validated %d times, want again after a change", checks)
	}
}

func TestAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 1500 * time.Millisecond: "2s", 90 * time.Second: "1m30s", 2*time.Hour + 5*time.Minute: "2h05m",
		50 * time.Hour: "2d02h", -time.Second: "0s",
	} {
		if got := Age(d); got != want {
			t.Errorf("Age(%v) = %q, want %q", d, got, want)
		}
	}
}
