//go:build linux

package main

// Vendor and network faults, from the fakes and from internal/testkit/faultproxy
// placed between the daemon and the fakes: outages are waited out with
// backoff and do not fail jobs; real job failures do, saying so; a stalled
// connection does not hang a job; a long outage is logged once per
// interval, not once per request.

import (
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/faultproxy"
	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

const (
	pathToken  = "/auth/access_token"
	pathFile   = "/open/v1/pano/file/token"
	pathSubmit = "/open/v1/pano/task/submit"
	pathStatus = "/open/v1/pano/task/status"
)

// mustSucceed waits for name in done/ with exactly one submit.
func mustSucceed(t *testing.T, r *rig, name string, within time.Duration) *pipeline.Result {
	t.Helper()
	res, where := r.waitResult(name, within)
	if where != "done" || !res.Success() {
		t.Fatalf("landed in %s: %+v", where, res.Error)
	}
	if r.gw != nil {
		if n := len(r.gw.Submits()); n != 1 {
			t.Errorf("%d submits, want 1", n)
		}
	}
	return res
}

// warnLines are the WARN lines of the log, and how many say an outage
// began or went on.
func warnLines(r *rig) (all []logLine, outage int) {
	for _, l := range r.logLines() {
		if l.Level != "WARN" {
			continue
		}
		all = append(all, l)
		if strings.Contains(l.Msg, "retrying") || strings.Contains(l.Msg, "unreachable") {
			outage++
		}
	}
	return all, outage
}

func waitTask(t *testing.T, r *rig, name string) string {
	t.Helper()
	var code string
	eventually(t, "the task to be created", 60*time.Second, func() bool {
		rec, err := pipeline.ReadRecord(r.path("processing", name))
		if err == nil {
			code = rec.IDs["task_code"]
		}
		return code != ""
	})
	return code
}

func TestReliabilityFaults(t *testing.T) {
	t.Parallel() // most of it waits: it runs beside the crash matrix

	bigDrop := realseeFiles(t, 3, 4<<20) // ~12 MiB: three 5 MiB parts

	// Every scenario has its own fakes and daemon, and most of them wait
	// (for a stall timeout, an outage, backoff): they all run at once, as
	// subtests started from goroutines, which -parallel does not limit.
	var wg sync.WaitGroup
	scenario := func(name string, fn func(t *testing.T)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(name, fn)
		}()
	}
	defer wg.Wait()

	scenario("gateway-5xx-bursts", func(t *testing.T) {
		r := newRig(t, rigOptions{realsee: &realseetest.Options{}, gatewayProxy: true})
		r.gwProxy.Add(faultproxy.Rule{Match: faultproxy.Path(pathFile), Fault: faultproxy.Status, Status: 502, Times: 4})
		r.gwProxy.Add(faultproxy.Rule{Match: faultproxy.Path(pathStatus), Fault: faultproxy.Status, Status: 503, Times: 6})
		r.gwProxy.Add(faultproxy.Rule{Match: faultproxy.Path(pathToken), Fault: faultproxy.Status, Status: 504, Times: 2})
		r.start()
		start := time.Now()
		r.drop("bursts", realseeFiles(t, 2, 0))
		mustSucceed(t, r, "bursts", 90*time.Second)
		st := r.gwProxy.Stats()
		report(t, "gateway 5xx bursts (%d × 502/503/504 HTML pages): done, 1 submit, in %s", st.Faults[faultproxy.Status], time.Since(start).Round(100*time.Millisecond))
	})

	scenario("gateway-connection-resets", func(t *testing.T) {
		r := newRig(t, rigOptions{realsee: &realseetest.Options{}, gatewayProxy: true})
		r.gwProxy.Add(faultproxy.Rule{Match: faultproxy.Path(pathToken), Fault: faultproxy.Reset, Times: 2})
		r.gwProxy.Add(faultproxy.Rule{Match: faultproxy.Path(pathFile), Fault: faultproxy.Reset, Times: 3})
		r.gwProxy.Add(faultproxy.Rule{Match: faultproxy.Path(pathStatus), Fault: faultproxy.ResetAnswer, After: 10, Times: 3})
		r.start()
		start := time.Now()
		r.drop("resets", realseeFiles(t, 2, 0))
		mustSucceed(t, r, "resets", 90*time.Second)
		report(t, "gateway connection resets (%d: before the request, and after the answer began): done, 1 submit, in %s",
			r.gwProxy.Stats().Faults[faultproxy.Reset]+r.gwProxy.Stats().Faults[faultproxy.ResetAnswer], time.Since(start).Round(100*time.Millisecond))
	})

	scenario("store-resets-mid-part", func(t *testing.T) {
		r := newRig(t, rigOptions{realsee: &realseetest.Options{MinPartSize: 1 << 20}, storeProxy: true})
		r.s3Proxy.Add(faultproxy.Rule{Match: faultproxy.Method("PUT", "partNumber"), Fault: faultproxy.Reset, After: 1 << 20, Times: 4})
		r.start()
		start := time.Now()
		r.drop("s3resets", bigDrop)
		mustSucceed(t, r, "s3resets", 90*time.Second)
		report(t, "store connection resets 1 MiB into a part (%d): done, 1 submit, in %s",
			r.s3Proxy.Stats().Faults[faultproxy.Reset], time.Since(start).Round(100*time.Millisecond))
	})

	scenario("store-503-slowdown", func(t *testing.T) {
		r := newRig(t, rigOptions{realsee: &realseetest.Options{MinPartSize: 1 << 20}})
		r.gw.Storage().FailNext(6, 503, "SlowDown")
		r.start()
		start := time.Now()
		r.drop("slowdown", bigDrop)
		mustSucceed(t, r, "slowdown", 120*time.Second)
		_, outage := warnLines(r)
		report(t, "store 503 SlowDown × 6: done, 1 submit, %d outage WARN lines, in %s", outage, time.Since(start).Round(100*time.Millisecond))
	})

	scenario("credentials-expire-mid-upload", func(t *testing.T) {
		r := newRig(t, rigOptions{realsee: &realseetest.Options{MinPartSize: 1 << 20}, uploadConc: 1})
		r.start()
		r.drop("rotate", bigDrop)
		eventually(t, "the first part to land", 60*time.Second, func() bool { return r.gw.Storage().Stats().PartsUploaded >= 1 })
		tokensBefore := r.gw.Requests()[pathFile]
		r.gw.RotateCredentials() // the store now refuses the temporary credentials: ExpiredToken
		r.gw.ExpireTokens()      // and the gateway the access token
		mustSucceed(t, r, "rotate", 90*time.Second)
		if after := r.gw.Requests()[pathFile]; after <= tokensBefore {
			t.Errorf("no new file token after the credentials expired (%d → %d)", tokensBefore, after)
		}
		report(t, "temporary S3 credentials and access token expire mid-upload: new ones fetched (%d file tokens), done, 1 submit",
			r.gw.Requests()[pathFile])
	})

	scenario("token-expires-mid-poll", func(t *testing.T) {
		r := newRig(t, rigOptions{realsee: &realseetest.Options{}})
		r.gw.HoldTasks(true)
		r.start()
		r.drop("expire", realseeFiles(t, 2, 0))
		waitTask(t, r, "expire")
		before := r.gw.Requests()[pathToken]
		r.gw.ExpireTokens()
		time.Sleep(500 * time.Millisecond)
		r.gw.HoldTasks(false)
		mustSucceed(t, r, "expire", 60*time.Second)
		if after := r.gw.Requests()[pathToken]; after <= before {
			t.Errorf("no new access token (%d → %d)", before, after)
		}
		report(t, "access token expires while polling: refreshed, done, 1 submit")
	})

	scenario("vendor-failed-task", func(t *testing.T) {
		r := newRig(t, rigOptions{realsee: &realseetest.Options{}})
		r.gw.FailTasks(true)
		r.start()
		r.drop("vfail", realseeFiles(t, 2, 0))
		res, where := r.waitResult("vfail", 60*time.Second)
		if where != "failed" || res.Error == nil || res.Error.Kind != "vendor_failed" || res.Error.Stage != "wait" || !res.Error.Retryable || res.VendorIDs["task_code"] == "" {
			t.Fatalf("landed in %s: %+v ids %v", where, res.Error, res.VendorIDs)
		}
		if n := len(r.gw.Submits()); n != 1 {
			t.Errorf("%d submits, want 1", n)
		}
		report(t, "vendor fails the task: failed/ with kind vendor_failed, stage wait, task_code kept, 1 submit")
	})

	scenario("task-never-finishes", func(t *testing.T) {
		r := newRig(t, rigOptions{realsee: &realseetest.Options{}, realseeTimeout: 3 * time.Second})
		r.gw.HoldTasks(true)
		r.start()
		r.drop("held", realseeFiles(t, 2, 0))
		res, where := r.waitResult("held", 60*time.Second)
		if where != "failed" || res.Error == nil || res.Error.Kind != "timeout" || !res.Error.Retryable || res.VendorIDs["task_code"] == "" {
			t.Fatalf("landed in %s: %+v ids %v", where, res.Error, res.VendorIDs)
		}
		code := res.VendorIDs["task_code"]
		// Moved back, it is checked again with the same task, not submitted
		// anew, and waits a timeout again before giving up.
		if err := os.Rename(r.path("failed", "held"), r.path("inbox", "held")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the retry to be claimed", 30*time.Second, func() bool {
			_, err := os.Stat(r.path("processing", "held"))
			return err == nil
		})
		time.Sleep(time.Second)
		r.gw.HoldTasks(false)
		res2, where := r.waitResult("held", 60*time.Second)
		if where != "done" || res2.VendorIDs["task_code"] != code {
			t.Fatalf("retry landed in %s: %+v, task %q (was %q)", where, res2.Error, res2.VendorIDs["task_code"], code)
		}
		if n := len(r.gw.Submits()); n != 1 {
			t.Errorf("%d submits, want 1", n)
		}
		report(t, "task never finishes (timeout 3s): failed/ with kind timeout, retryable, task_code kept; moved back: same task polled again, done, 1 submit")
	})

	scenario("long-outage-logged-once", func(t *testing.T) {
		r := newRig(t, rigOptions{realsee: &realseetest.Options{}, gatewayProxy: true})
		r.gw.HoldTasks(true)
		r.start()
		r.drop("outage", realseeFiles(t, 2, 0))
		waitTask(t, r, "outage")
		warnBefore, _ := warnLines(r)
		before := r.gwProxy.Stats().Requests
		remove := r.gwProxy.Add(faultproxy.Rule{Fault: faultproxy.Status, Status: 502})
		const outage = 15 * time.Second
		time.Sleep(outage)
		remove()
		failedReqs := r.gwProxy.Stats().Requests - before
		r.gw.HoldTasks(false)
		mustSucceed(t, r, "outage", 90*time.Second)
		warns, outageWarns := warnLines(r)
		recovered := 0
		for _, l := range r.logLines() {
			if l.Msg == "vendor reachable again" {
				recovered++
			}
		}
		if outageWarns != 1 || len(warns)-len(warnBefore) != 1 || recovered != 1 {
			t.Errorf("%d outage WARN lines (%d WARN in all) and %d recoveries for one outage of %d failed requests; want 1, 1 and 1", outageWarns, len(warns)-len(warnBefore), recovered, failedReqs)
		}
		report(t, "gateway down %s while waiting (%d failed requests): %d WARN line, %d recovery line, job done, 1 submit", outage, failedReqs, outageWarns, recovered)
	})

	scenario("gateway-stall", func(t *testing.T) {
		r := newRig(t, rigOptions{realsee: &realseetest.Options{}, gatewayProxy: true, realseeTimeout: 5 * time.Minute})
		r.gw.HoldTasks(true)
		r.start()
		r.drop("stall", realseeFiles(t, 2, 0))
		waitTask(t, r, "stall")
		// The next status poll is swallowed whole: the request is taken and
		// never answered, the connection kept open.
		r.gwProxy.Add(faultproxy.Rule{Match: faultproxy.Path(pathStatus), Fault: faultproxy.Stall, Times: 1})
		start := time.Now()
		eventually(t, "the poll to stall", 30*time.Second, func() bool { return r.gwProxy.Stats().Faults[faultproxy.Stall] == 1 })
		r.gw.HoldTasks(false)
		mustSucceed(t, r, "stall", 3*time.Minute)
		report(t, "gateway takes a status poll and never answers, connection left open: given up after the stall timeout, job done %s later, 1 submit",
			time.Since(start).Round(time.Second))
	})

	scenario("gateway-stall-mid-answer", func(t *testing.T) {
		r := newRig(t, rigOptions{realsee: &realseetest.Options{}, gatewayProxy: true, realseeTimeout: 5 * time.Minute})
		r.gw.HoldTasks(true)
		r.start()
		r.drop("stall2", realseeFiles(t, 2, 0))
		waitTask(t, r, "stall2")
		r.gwProxy.Add(faultproxy.Rule{Match: faultproxy.Path(pathStatus), Fault: faultproxy.StallAnswer, After: 20, Times: 1})
		start := time.Now()
		eventually(t, "the poll to stall", 30*time.Second, func() bool { return r.gwProxy.Stats().Faults[faultproxy.StallAnswer] == 1 })
		r.gw.HoldTasks(false)
		mustSucceed(t, r, "stall2", 3*time.Minute)
		report(t, "gateway answer stops after its headers and 20 bytes, connection left open: given up after the stall timeout, job done %s later, 1 submit",
			time.Since(start).Round(time.Second))
	})

	scenario("store-stall-mid-part", func(t *testing.T) {
		r := newRig(t, rigOptions{realsee: &realseetest.Options{MinPartSize: 1 << 20}, storeProxy: true})
		r.s3Proxy.Add(faultproxy.Rule{Match: faultproxy.Method("PUT", "partNumber"), Fault: faultproxy.Stall, After: 1 << 20, Times: 1})
		r.start()
		start := time.Now()
		r.drop("s3stall", bigDrop)
		mustSucceed(t, r, "s3stall", 3*time.Minute)
		report(t, "store stalls 1 MiB into a part, connection left open: part sent again after the client's stall timeout, job done in %s, 1 submit",
			time.Since(start).Round(time.Second))
	})

	scenario("stop-during-submit", func(t *testing.T) {
		r := newRig(t, rigOptions{realsee: &realseetest.Options{}, gatewayProxy: true})
		r.gwProxy.Add(faultproxy.Rule{Match: faultproxy.Path(pathSubmit), Fault: faultproxy.Delay, For: 2 * time.Second, Times: 1})
		d := r.start()
		r.drop("sigterm", realseeFiles(t, 2, 0))
		eventually(t, "the submit to be under way", 60*time.Second, func() bool { return r.gwProxy.Stats().Faults[faultproxy.Delay] == 1 })
		d.cmd.Process.Signal(syscall.SIGTERM)
		d.waitExit(t, 30*time.Second)
		r.start()
		res := mustSucceed(t, r, "sigterm", 60*time.Second)
		_ = res
		report(t, "SIGTERM while a submit is in flight: the daemon lets the submit finish, records the task and stops; restarted, it polls that task: done, 1 submit")
	})

	scenario("aholo-asset-download-stall", func(t *testing.T) {
		// The first asset request is taken and never answered: the
		// download must be given up and tried again, not wait for ever.
		var once sync.Once
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		r := newRig(t, rigOptions{aholo: &aholotest.Options{Hook: func(req *http.Request) {
			if strings.HasPrefix(req.URL.Path, "/assets/") {
				once.Do(func() {
					select {
					case <-release:
					case <-req.Context().Done():
					}
				})
			}
		}}})
		r.start()
		start := time.Now()
		files := aholoFiles(t, 2, 0)
		files["recon.yaml"] = []byte("scene: model\ndownload_assets: true\n")
		r.drop("aholo-stall", files)
		res, where := r.waitResult("aholo-stall", 3*time.Minute)
		if where != "done" || !res.Success() {
			t.Fatalf("landed in %s: %+v", where, res.Error)
		}
		if ents, _ := os.ReadDir(r.path("done", "aholo-stall", "assets")); len(ents) < 2 {
			t.Errorf("assets/ holds %d files, want ply and spz", len(ents))
		}
		report(t, "Aholo asset download stalls (connection open, no answer): given up after the stall timeout and fetched again, done in %s, 1 create",
			time.Since(start).Round(time.Second))
	})

	scenario("aholo-5xx-and-token-expiry", func(t *testing.T) {
		var (
			fake   atomic.Pointer[aholotest.Server]
			expire sync.Once
		)
		r := newRig(t, rigOptions{aholo: &aholotest.Options{BlockSize: 1 << 20, OnBlock: func(md5 string, index int) {
			if index == 2 {
				expire.Do(func() { go fake.Load().ExpireTokens() }) // upload tokens die mid-file
			}
		}}, aholoProxy: true})
		fake.Store(r.ah)
		r.ah.FailNext(6, 503)
		r.ahProxy.Add(faultproxy.Rule{Match: faultproxy.Path("/v2/aholo/project/task/list/by-ids"), Fault: faultproxy.Reset, Times: 2})
		r.start()
		start := time.Now()
		r.drop("aholo-faults", aholoFiles(t, 3, 3<<20))
		res, where := r.waitResult("aholo-faults", 90*time.Second)
		if where != "done" || !res.Success() {
			t.Fatalf("landed in %s: %+v", where, res.Error)
		}
		if n := r.ah.Creates(); n != 1 {
			t.Errorf("%d creates, want 1", n)
		}
		report(t, "Aholo: 6 × 503, 2 resets while polling, upload tokens expired mid-file: done, 1 create, in %s", time.Since(start).Round(100*time.Millisecond))
	})
}
