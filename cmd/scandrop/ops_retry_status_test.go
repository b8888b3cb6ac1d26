package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/ops"
	"github.com/scandrop/scandrop/internal/testkit/faultproxy"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// runNoSecrets runs the binary with an environment holding none of the
// daemon's secrets (nor anything else but PATH and HOME), and returns its
// stdout, stderr and exit code.
func runNoSecrets(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// offlineConfig writes a config for the rig's watch whose vendor sections
// need secrets this process has not got: an unset ${VAR} and a secret file
// that does not exist, as a shell without the service's environment sees
// the service's config.
func offlineConfig(t *testing.T, dirs ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("watches:\n")
	for _, d := range dirs {
		fmt.Fprintf(&b, "  - dir: %s\n", d)
	}
	b.WriteString("realsee:\n  app_key: ${SCANDROP_TEST_UNSET_APP_KEY}\n  app_secret_file: /nonexistent/realsee.secret\n" +
		"aholo:\n  app_key: ${SCANDROP_TEST_UNSET_APP_KEY}\n  app_secret: ${SCANDROP_TEST_UNSET_SECRET}\n  appuid: ${SCANDROP_TEST_UNSET_UID}\n" +
		"http:\n  token: ${SCANDROP_TEST_UNSET_TOKEN}\n")
	p := filepath.Join(t.TempDir(), "offline.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func statusJSON(t *testing.T, cfg string) ops.Report {
	t.Helper()
	out, errs, code := runNoSecrets(t, "status", "--json", "--config", cfg)
	if code != 0 {
		t.Fatalf("status --json: exit %d: %s", code, errs)
	}
	var rep ops.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return rep
}

// status runs with no secret in its environment; shows a job retrying a
// vendor's 503 with the reason and the next attempt, in text and JSON; and,
// once the daemon is killed, shows the job orphaned.
func TestStatusOfflineRetryingOrphaned(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, gatewayProxy: true, extraConfig: "http:\n  listen: 127.0.0.1:0\n"})
	cfg := offlineConfig(t, r.watchDir)
	// The premise: the daemon's own loading refuses this config here.
	if _, errs, code := runNoSecrets(t, "run", "--config", cfg); code != 2 || !strings.Contains(errs, "SCANDROP_TEST_UNSET_APP_KEY") {
		t.Fatalf("run with the offline config: exit %d, %s; want it refused for the unset variables", code, errs)
	}
	out, errs, code := runNoSecrets(t, "status", "--config", cfg)
	if code != 0 || !strings.Contains(out, "watch "+r.watchDir) {
		t.Fatalf("status without secrets: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}

	r.gwProxy.Add(faultproxy.Rule{Match: faultproxy.Path(pathStatus), Fault: faultproxy.Status, Status: 503})
	d := r.start()
	r.drop("retrying", realseeFiles(t, 2, 0))
	var job ops.Job
	eventually(t, "status --json to show the job retrying", 60*time.Second, func() bool {
		rep := statusJSON(t, cfg)
		if len(rep.Watches) != 1 || len(rep.Watches[0].Processing) != 1 {
			return false
		}
		job = rep.Watches[0].Processing[0]
		return job.Retrying != "" && !job.NextAttempt.IsZero()
	})
	if job.RetryStage != "wait" || !strings.Contains(job.Retrying, "transient") || !strings.Contains(job.Retrying, "503") || job.Retries < 1 {
		t.Errorf("retrying job: stage %q, %d retries, reason %q; want wait, the 503 named", job.RetryStage, job.Retries, job.Retrying)
	}
	if job.Orphaned || job.Owner == nil || !job.Owner.Live || job.Owner.PID != d.cmd.Process.Pid || !strings.HasPrefix(job.NextAttemptIn, "in ") && job.NextAttemptIn != "now" {
		t.Errorf("job of a live daemon: orphaned %v, owner %+v, next attempt %q", job.Orphaned, job.Owner, job.NextAttemptIn)
	}
	if job.NextAttempt.Before(job.RetryingSince) || job.NextAttempt.After(time.Now().Add(10*time.Minute)) {
		t.Errorf("next attempt %s, retrying since %s", job.NextAttempt, job.RetryingSince)
	}
	// The daemon's own page and /status say the same.
	var live ops.Report
	if err := json.Unmarshal([]byte(string(getBody(t, rigHTTPAddr(t, r)+"/status"))), &live); err != nil {
		t.Fatal(err)
	}
	if lj := live.Watches[0].Processing[0]; lj.RetryStage != job.RetryStage || lj.Retrying == "" || lj.NextAttempt.IsZero() || lj.Orphaned || lj.Owner == nil || lj.Owner.PID != job.Owner.PID {
		t.Errorf("/status of the daemon: %+v\nstatus --json: %+v", lj, job)
	}
	if page := string(getBody(t, rigHTTPAddr(t, r)+"/")); !strings.Contains(page, "retrying: transient") || !strings.Contains(page, "(next attempt ") {
		t.Errorf("status page lacks the retry:\n%s", page)
	}
	out, _, _ = runNoSecrets(t, "status", "--config", cfg)
	if !strings.Contains(out, "retrying: wait failed") || !strings.Contains(out, "503") || !strings.Contains(out, "; next attempt ") || strings.Contains(out, "orphaned") {
		t.Errorf("status text of a retrying job:\n%s", out)
	}

	d.kill()
	rep := statusJSON(t, cfg)
	job = rep.Watches[0].Processing[0]
	if !job.Orphaned || job.Owner == nil || job.Owner.Live || job.Owner.PID != d.cmd.Process.Pid || !strings.Contains(job.Orphan, "is gone") {
		t.Errorf("job of a killed daemon: orphaned %v (%q), owner %+v", job.Orphaned, job.Orphan, job.Owner)
	}
	if job.Retrying == "" || job.NextAttemptIn != "when resumed" {
		t.Errorf("orphan's retry: %q, next %q", job.Retrying, job.NextAttemptIn)
	}
	out, _, _ = runNoSecrets(t, "status", "--config", cfg)
	if !strings.Contains(out, "orphaned: its scandrop") || !strings.Contains(out, "next attempt when a scandrop resumes it") {
		t.Errorf("status text of an orphaned job:\n%s", out)
	}

	// The next daemon resumes it, as status said.
	r.gwProxy.Clear()
	r.start()
	mustSucceed(t, r, "retrying", 60*time.Second)
}

// status --watch redraws until Ctrl-C, which ends it with exit 0: plain
// reports one after another into a pipe, in place on a terminal.
func TestStatusWatch(t *testing.T) {
	dir := t.TempDir()
	cfg := offlineConfig(t, dir)
	for _, tc := range []struct {
		name string
		cmd  *exec.Cmd
	}{
		{"pipe", exec.Command(binPath, "status", "--interval", "150ms", "--config", cfg)}, // --interval implies --watch
		// script(1) gives the command a terminal.
		{"terminal", exec.Command("script", "-qfec", binPath+" status --watch --interval 150ms --config "+cfg, "/dev/null")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "terminal" {
				if _, err := exec.LookPath("script"); err != nil {
					t.Skip("script (util-linux) not installed: it provides the terminal")
				}
			}
			var out bytes.Buffer
			tc.cmd.Stdout, tc.cmd.Stderr = &out, &out
			tc.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := tc.cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1200 * time.Millisecond)
			syscall.Kill(-tc.cmd.Process.Pid, syscall.SIGINT) // Ctrl-C: the terminal's whole process group
			err := tc.cmd.Wait()
			if err != nil {
				t.Fatalf("status --watch after Ctrl-C: %v\n%q", err, out.String())
			}
			n := strings.Count(out.String(), "scandrop status at ")
			clears := strings.Count(out.String(), "\x1b[H\x1b[2J")
			if n < 3 || !strings.Contains(out.String(), "watch "+dir) {
				t.Errorf("%d reports in 1.2s at 150ms:\n%q", n, out.String())
			}
			if tc.name == "pipe" && clears != 0 || tc.name == "terminal" && clears != n {
				t.Errorf("%s: %d screen clears for %d reports", tc.name, clears, n)
			}
		})
	}
	if _, errs, code := runNoSecrets(t, "status", "--interval", "1ms", "--config", cfg); code != 2 || !strings.Contains(errs, "--interval must be at least 100ms") {
		t.Errorf("--interval 1ms: exit %d, %s", code, errs)
	}
}
