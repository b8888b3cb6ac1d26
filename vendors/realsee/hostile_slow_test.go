package realsee_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/faultproxy"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/realsee"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// TestHostileSlowPoll: a status poll whose answer trickles in a byte at a
// time — never idle long enough for the stall guard, never finishing — is
// cut off at vendors.CallTimeout, a Transient error naming the bound (the
// pipeline's deadline then acts); it no longer holds the job for ever.
func TestHostileSlowPoll(t *testing.T) {
	old := vendors.CallTimeout
	vendors.CallTimeout = time.Second
	t.Cleanup(func() { vendors.CallTimeout = old })
	s := realseetest.NewServer(realseetest.Options{AppKey: "k", AppSecret: "s"})
	t.Cleanup(s.Close)
	p := faultproxy.New(s.URL)
	t.Cleanup(p.Close)
	p.Add(faultproxy.Rule{Match: faultproxy.Path("/open/v1/pano/task/status"), Fault: faultproxy.Trickle, For: 50 * time.Millisecond})
	dir := t.TempDir()
	copyTree(t, "../../examples/realsee/nave-2026-11-20", dir)
	v := realsee.New(realsee.Config{Endpoint: p.URL, AppKey: "k", AppSecret: "s", HTTPClient: &http.Client{}, Clock: instantClock{}})
	job, err := v.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = job.Poll(context.Background(), vendors.IDs{"task_code": "t-1"})
	if vendors.KindOf(err) != vendors.Transient || !strings.Contains(fmt.Sprint(err), "no complete answer within 1s") {
		t.Errorf("trickled poll: %v, want a Transient error naming the 1s call bound", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("trickled poll returned after %s, want a few 1s tries", d)
	}
}

// TestHostileSlowHugeAnswer: a status answer past the size bound is named
// as such, not as "not JSON".
func TestHostileSlowHugeAnswer(t *testing.T) {
	s := realseetest.NewServer(realseetest.Options{AppKey: "k", AppSecret: "s"})
	t.Cleanup(s.Close)
	p := faultproxy.New(s.URL)
	t.Cleanup(p.Close)
	p.Add(faultproxy.Rule{Match: faultproxy.Path("/open/v1/pano/task/status"), Fault: faultproxy.Status, Status: 200,
		Body: `{"code":0,"data":{"status":"` + strings.Repeat("x", 10<<20) + `"}}`})
	dir := t.TempDir()
	copyTree(t, "../../examples/realsee/nave-2026-11-20", dir)
	v := realsee.New(realsee.Config{Endpoint: p.URL, AppKey: "k", AppSecret: "s", HTTPClient: &http.Client{}, Clock: instantClock{}})
	job, err := v.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = job.Poll(context.Background(), vendors.IDs{"task_code": "t-1"})
	if err == nil || !strings.Contains(err.Error(), "answer larger than") || strings.Contains(err.Error(), "not JSON") {
		t.Errorf("10 MiB status answer: %v, want the size bound named", err)
	}
}
