package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors"
)

// failedJob makes root/failed/name with a journal holding ids and a
// result.json of kind.
func failedJob(t *testing.T, root, name, kind string, at time.Time) string {
	t.Helper()
	dir := finishedFolder(t, root, Failed, name, time.Time{})
	os.MkdirAll(filepath.Join(root, Inbox), 0o755) // a watch's inbox/ is there; Requeue never makes it
	j, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	res := &Result{Status: "failed", Folder: name, FinishedAt: at, Error: &ResultError{Stage: StageWait, Kind: kind, Message: "m"}}
	if err := j.Update(func(r *Record) { r.IDs = vendors.IDs{"task_code": "T1"}; r.Result = res }); err != nil {
		t.Fatal(err)
	}
	if err := writeResult(dir, res); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRequeue(t *testing.T) {
	root := t.TempDir()
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	failedJob(t, root, "slow", vendors.Timeout.String(), at)
	rq, err := Requeue(root, "slow", RequeueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rq.KeepsTask || rq.ResultKept != "result.failed-20261130T100000Z.json" || rq.To != filepath.Join(root, Inbox, "slow") {
		t.Errorf("%+v", rq)
	}
	for _, p := range []string{"result.failed-20261130T100000Z.json", StateDir + "/job.json", "images/a.jpg"} {
		if !exists(filepath.Join(root, Inbox, "slow", p)) {
			t.Errorf("inbox/slow/%s missing", p)
		}
	}
	if exists(filepath.Join(root, Inbox, "slow", ResultFile)) || exists(filepath.Join(root, Failed, "slow")) {
		t.Error("result.json still there, or the folder still in failed/")
	}

	// Fresh: the state goes aside too; the task is not kept.
	failedJob(t, root, "edited", vendors.Timeout.String(), at)
	rq, err = Requeue(root, "edited", RequeueOptions{Fresh: true, Now: func() time.Time { return at.Add(time.Hour) }})
	if err != nil || rq.KeepsTask || rq.StateKept != StateDir+"-retired-20261130T110000Z" {
		t.Errorf("fresh: %+v %v", rq, err)
	}
	if exists(filepath.Join(root, Inbox, "edited", StateDir)) || !exists(filepath.Join(root, Inbox, "edited", rq.StateKept, "job.json")) {
		t.Error("fresh: .scandrop not set aside")
	}

	// A name taken in processing/ is refused; nothing changes.
	dir := failedJob(t, root, "busy", vendors.Invalid.String(), at)
	os.MkdirAll(filepath.Join(root, Processing, "busy"), 0o755)
	if _, err := Requeue(root, "busy", RequeueOptions{}); err == nil || !strings.Contains(err.Error(), "processing/busy exists (a job of that name is running)") {
		t.Errorf("busy: %v", err)
	}
	if !exists(filepath.Join(dir, ResultFile)) {
		t.Error("busy: result.json set aside though the folder stayed")
	}

	// A move that fails after result.json was set aside puts it back.
	root2 := t.TempDir()
	dir = failedJob(t, root2, "x", vendors.Transient.String(), at)
	os.Remove(filepath.Join(root2, Inbox))
	os.WriteFile(filepath.Join(root2, Inbox), []byte("not a folder"), 0o644)
	if _, err := Requeue(root2, "x", RequeueOptions{Fresh: true}); err == nil {
		t.Fatal("moved into an inbox that is a file")
	}
	if !exists(filepath.Join(dir, ResultFile)) || !exists(filepath.Join(dir, StateDir, "job.json")) {
		t.Error("a failed move left result.json or .scandrop set aside")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "result.failed-*")); len(m) != 0 {
		t.Errorf("left behind: %v", m)
	}
}
