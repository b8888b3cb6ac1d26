//go:build linux

package main

import (
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// TestSettleZeroRuns: "settle: 0s", which config.yaml.example documents
// ("0s picks up at the second scan"), is accepted by the daemon — it used
// to exit 2 when the watcher refused it — and a drop goes through to done/.
func TestSettleZeroRuns(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}})
	r.editConfig("settle: 600ms", "settle: 0s")
	d := r.start()
	r.drop("quick", realseeFiles(t, 2, 0))
	mustSucceed(t, r, "quick", 60*time.Second)
	if !d.alive() {
		t.Fatalf("the daemon exited:\n%s", r.logText())
	}
}
