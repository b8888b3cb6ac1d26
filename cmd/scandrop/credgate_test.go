//go:build linux

package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// `run` with a Realsee secret the gateway refuses: one ERROR line at start
// names Realsee and the keys to fix; a Realsee drop waits in inbox/ (not
// claimed, not failed) while an Aholo drop goes through; fixing the secret
// file lets the Realsee drop through without a restart.
func TestRunHoldsDropsWhileCredentialsRefused(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, aholo: &aholotest.Options{}})
	const wrong = "wrong-realsee-secret-NEVER-LOGGED"
	secretFile := filepath.Join(r.root, "realsee.secret")
	if err := os.WriteFile(secretFile, []byte(wrong+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := r.start()
	refusal := func() []logLine {
		var out []logLine
		for _, l := range parseLog(d.log.String()) {
			if l.Level == "ERROR" {
				out = append(out, l)
			}
		}
		return out
	}
	eventually(t, "an ERROR line about the refused credentials", 15*time.Second, func() bool { return len(refusal()) > 0 })
	errs := refusal()
	if len(errs) != 1 {
		t.Fatalf("%d ERROR lines at start, want 1: %v", len(errs), errs)
	}
	for _, want := range []string{`"vendor":"realsee"`, "realsee.app_key", "realsee.app_secret_file (" + secretFile + ")", "illegal app"} {
		if !strings.Contains(errs[0].Raw, want) {
			t.Errorf("the ERROR line does not say %q: %s", want, errs[0].Raw)
		}
	}
	if strings.Contains(d.log.String(), `"vendor":"aholo"`) && strings.Contains(d.log.String(), "aholo refuses") {
		t.Error("aholo's good credentials were taken as refused")
	}

	r.drop("rs", realseeFiles(t, 1, 0))
	r.drop("ah", aholoFiles(t, 1, 0))
	if res, where := r.waitResult("ah", 60*time.Second); where != "done" {
		t.Fatalf("the Aholo drop landed in %s: %+v", where, res.Error)
	}
	// The Aholo drop settled beside the Realsee one; a few more checks
	// must not take it either.
	time.Sleep(2 * time.Second)
	if !slices.Contains(r.entries("inbox"), "rs") || len(r.entries("processing")) != 0 || len(r.entries("failed")) != 0 {
		t.Fatalf("the Realsee drop did not wait in inbox/: inbox %v, processing %v, failed %v",
			r.entries("inbox"), r.entries("processing"), r.entries("failed"))
	}
	if n := len(r.gw.Submits()); n != 0 {
		t.Fatalf("%d Realsee submits while the credentials are refused", n)
	}
	if !strings.Contains(d.log.String(), "refuses the credentials (realsee.app_key") {
		t.Error("no line says why the Realsee drop waits")
	}

	fixed := time.Now()
	if err := os.WriteFile(secretFile, []byte(relRealseeSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if res, where := r.waitResult("rs", 60*time.Second); where != "done" {
		t.Fatalf("after the secret file was fixed, the Realsee drop landed in %s: %+v", where, res.Error)
	}
	t.Logf("Realsee drop done %s after the secret file was fixed", time.Since(fixed).Round(100*time.Millisecond))
	if !strings.Contains(d.log.String(), "vendor accepts the credentials now") {
		t.Error("no line says the credentials are accepted again")
	}
	if !d.alive() {
		t.Error("the daemon restarted or died")
	}
	for _, secret := range []string{wrong, relRealseeSecret, relAholoSecret} {
		if strings.Contains(r.logText(), secret) {
			t.Errorf("the log shows a secret (%.8s…)", secret)
		}
	}
}

// An outage at start is not a refusal: drops go ahead and retry as usual.
func TestRunOutageAtStartIsNotRefusal(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}})
	r.gw.FailNext(3, 503)
	d := r.start()
	eventually(t, "the probe's outage warning", 15*time.Second, func() bool {
		return strings.Contains(d.log.String(), "could not check the credentials")
	})
	r.drop("rs", realseeFiles(t, 1, 0))
	if res, where := r.waitResult("rs", 60*time.Second); where != "done" {
		t.Fatalf("landed in %s: %+v", where, res.Error)
	}
	for _, l := range r.logLines() {
		if l.Level == "ERROR" {
			t.Errorf("an outage logged an ERROR: %s", l.Raw)
		}
	}
}
