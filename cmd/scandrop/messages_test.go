//go:build linux

package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/faultproxy"
	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// repeatedStage returns the stage named as a prefix more than once in msg
// ("upload: ... realsee: upload: ..."), or "".
func repeatedStage(msg string) string {
	for _, s := range []string{pipeline.StageValidate, pipeline.StagePackage, pipeline.StageUpload, pipeline.StageSubmit, pipeline.StageWait, pipeline.StageFinish} {
		if len(regexp.MustCompile(`\b`+s+`: `).FindAllString(msg, -1)) > 1 {
			return s
		}
	}
	return ""
}

// A store that keeps failing fails the job with a message naming the
// stage once: the vendor's operation ("realsee: upload: put"), not the
// pipeline's stage in front of it again.
func TestMessageStagePrefixOnce(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, storeProxy: true, realseeTimeout: 2 * time.Second})
	r.s3Proxy.Add(faultproxy.Rule{Fault: faultproxy.Status, Status: 403})
	r.drop("d1", realseeDrop(t, 2, 128))
	r.start()
	res, where := r.waitResult("d1", 60*time.Second)
	if where != "failed" || res.Error.Stage != pipeline.StageUpload {
		t.Fatalf("landed in %s at %+v; want failed/ at upload", where, res.Error)
	}
	msg := res.Error.Message
	if s := repeatedStage(msg); s != "" || !strings.HasPrefix(msg, "still failing after 2s: realsee: upload: put: ") {
		t.Errorf("result message names %q more than once, or not as the vendor's operation: %q", s, msg)
	}
	for _, l := range r.logLines() {
		if s := repeatedStage(l.Raw); s != "" {
			t.Errorf("log line names %q more than once: %s", s, l.Raw)
		}
	}
}

// "aholo: uploading" is said once per attempt that sends bytes: never
// for attempts that could not start (no upload token), once for a
// successful upload.
func TestMessageUploadingOncePerSendingAttempt(t *testing.T) {
	r := newRig(t, rigOptions{aholo: &aholotest.Options{}, aholoProxy: true, aholoTimeout: 3 * time.Second})
	block := r.ahProxy.Add(faultproxy.Rule{Match: faultproxy.Path("/v2/aholo/upload/token"), Fault: faultproxy.Status, Status: 503})
	r.drop("blocked", aholoFiles(t, 4, 4096))
	r.start()
	if _, where := r.waitResult("blocked", 60*time.Second); where != "failed" {
		t.Fatalf("blocked landed in %s, want failed/ (no upload token)", where)
	}
	block()
	r.drop("open", aholoFiles(t, 4, 4096))
	if _, where := r.waitResult("open", 60*time.Second); where != "done" {
		t.Fatalf("open landed in %s, want done/", where)
	}
	uploading := map[string]int{}
	retries := 0
	for _, l := range r.logLines() {
		if l.Msg == "aholo: uploading" {
			uploading[l.Folder]++
		}
		if l.Folder == "blocked" && strings.Contains(l.Raw, "token: HTTP 503") {
			retries++
		}
	}
	if retries == 0 || r.ahProxy.Stats().Faults[faultproxy.Status] < 2 {
		t.Fatalf("the token was refused %d times, %d log lines about it: the test did not retry", r.ahProxy.Stats().Faults[faultproxy.Status], retries)
	}
	if uploading["blocked"] != 0 || uploading["open"] != 1 {
		t.Errorf(`"aholo: uploading" said %d times for a job that never sent a byte (want 0) and %d times for one upload (want 1)`, uploading["blocked"], uploading["open"])
	}
}
