//go:build linux

package main

// Hostile networks at the daemon level: a vendor whose task-status answer
// trickles in a byte at a time (never idle long enough for the stall
// guard, never finishing). The vendor timeout bounds the job: it lands in
// failed/ as timeout, with its ids kept, within seconds of the timeout,
// and a drop for the other vendor finishes meanwhile.

import (
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/faultproxy"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

func TestHostileSlow(t *testing.T) {
	const timeout = 5 * time.Second
	pano := smallJPEG(t, 64, 32, 1)
	photo := smallJPEG(t, 64, 48, 2)
	for _, slow := range []string{"realsee", "aholo"} {
		t.Run(slow+" poll trickles", func(t *testing.T) {
			r := newRig(t, rigOptions{
				realsee: &realseetest.Options{}, gatewayProxy: true, realseeTimeout: timeout,
				aholo: &aholotest.Options{}, aholoProxy: true, aholoTimeout: timeout,
			})
			trickle := faultproxy.Rule{Fault: faultproxy.Trickle, For: time.Second}
			slowDrop, fastDrop := withPano2("hall", pano), withPhoto("name: chair\n", photo)
			if slow == "realsee" {
				trickle.Match = faultproxy.Path("/open/v1/pano/task/status")
				r.gwProxy.Add(trickle)
			} else {
				trickle.Match = faultproxy.Path("/v2/aholo/project/task/list/by-ids")
				r.ahProxy.Add(trickle)
				slowDrop, fastDrop = fastDrop, slowDrop
			}
			r.start()
			r.drop("slow", slowDrop)
			r.drop("fast", fastDrop)

			res, where := r.waitResult("fast", 60*time.Second)
			if where != "done" || !res.Success() {
				t.Errorf("the other vendor's drop landed in %s: %+v", where, res.Error)
			}
			res, where = r.waitResult("slow", 60*time.Second)
			if where != "failed" || res.Error == nil || res.Error.Kind != "timeout" || !strings.Contains(res.Error.Message, slow+" timeout") {
				t.Fatalf("the trickled drop landed in %s with %+v; want failed, kind timeout, naming %s's timeout", where, res.Error, slow)
			}
			if len(res.VendorIDs) == 0 {
				t.Errorf("the timed-out result keeps no vendor ids: %+v", res)
			}
			var waitAt, failedAt time.Time
			for _, l := range r.logLines() {
				if l.Folder != "slow" {
					continue
				}
				if l.Msg == "stage" && l.Stage == "wait" && waitAt.IsZero() {
					waitAt = l.Time
				}
				failedAt = l.Time // the last line about the job: its failure
			}
			if waitAt.IsZero() || failedAt.IsZero() || failedAt.Sub(waitAt) > timeout+10*time.Second {
				t.Errorf("wait began %v, the job failed %v: want within %s of each other", waitAt, failedAt, timeout+10*time.Second)
			}
			t.Logf("%s: wait stage to failure: %s (timeout %s)", slow, failedAt.Sub(waitAt).Round(time.Millisecond), timeout)
		})
	}
}
