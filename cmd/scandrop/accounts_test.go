//go:build linux

package main

// Accounts (issue 10): watches that name an account reach that account's
// vendor gateways with its credentials, through the real binary, against
// two gateways of each vendor; a watch whose account lacks a vendor is a
// configuration error; max_jobs is shared by the watches in turns.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/ops"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// Credentials of the two accounts: each fake accepts only its own.
const (
	ownRSKey, ownRSSecret   = "own-rs-key", "own-rs-secret-NEVER-LOGGED-11"
	ownAHKey, ownAHSecret   = "own-ah-key", "own-ah-secret-NEVER-LOGGED-22"
	ownAHUID                = "own-uid"
	acmeRSKey, acmeRSSecret = "acme-rs-key", "acme-rs-secret-NEVER-LOGGED-33"
	acmeAHKey, acmeAHSecret = "acme-ah-key", "acme-ah-secret-NEVER-LOGGED-44"
	acmeAHUID               = "acme-uid"
)

// acctRig is a daemon with two watches, "own" (the top-level sections) and
// "acme" (account acme), each vendor's gateway twice.
type acctRig struct {
	*rig
	ownRS, acmeRS *realseetest.Server
	ownAH, acmeAH *aholotest.Server
	own, acme     string // watch dirs
}

func newAcctRig(t *testing.T) *acctRig {
	r := newRig(t, rigOptions{})
	a := &acctRig{rig: r, own: filepath.Join(r.root, "own"), acme: filepath.Join(r.root, "acme")}
	a.ownRS = realseetest.NewServer(realseetest.Options{AppKey: ownRSKey, AppSecret: ownRSSecret, ProcessingPolls: 2})
	a.acmeRS = realseetest.NewServer(realseetest.Options{AppKey: acmeRSKey, AppSecret: acmeRSSecret, ProcessingPolls: 2})
	a.ownAH = aholotest.NewServer(aholotest.Options{AppKey: ownAHKey, AppSecret: ownAHSecret, AppUID: ownAHUID})
	a.acmeAH = aholotest.NewServer(aholotest.Options{AppKey: acmeAHKey, AppSecret: acmeAHSecret, AppUID: acmeAHUID})
	for _, c := range []func(){a.ownRS.Close, a.acmeRS.Close, a.ownAH.Close, a.acmeAH.Close} {
		t.Cleanup(c)
	}
	// acme's Realsee secret comes from a file, as the contract shows.
	if err := os.WriteFile(filepath.Join(r.root, "acme-realsee.secret"), []byte(acmeRSSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`watches:
  - dir: acme
    account: acme
    poll_interval: 200ms
    settle: 600ms
  - dir: own
    poll_interval: 200ms
    settle: 600ms
max_jobs: 4
state_dir: state
log:
  level: debug
realsee:
  endpoint: %s
  app_key: %s
  app_secret: %s
  poll_interval: 100ms
  part_size: 5MiB
aholo:
  endpoint: %s
  app_key: %s
  app_secret: %s
  appuid: %s
  poll_interval: 100ms
accounts:
  - name: acme
    realsee:
      endpoint: %s
      app_key: %s
      app_secret_file: acme-realsee.secret
      poll_interval: 100ms
      part_size: 5MiB
    aholo:
      endpoint: %s
      app_key: %s
      app_secret: %s
      appuid: %s
      poll_interval: 100ms
`, a.ownRS.URL, ownRSKey, ownRSSecret, a.ownAH.URL, ownAHKey, ownAHSecret, ownAHUID,
		a.acmeRS.URL, acmeRSKey, a.acmeAH.URL, acmeAHKey, acmeAHSecret, acmeAHUID)
	if err := os.WriteFile(r.cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return a
}

// dropIn renames a built folder into watch's inbox/.
func dropIn(t *testing.T, watch, name string, files map[string][]byte) {
	t.Helper()
	tmp := filepath.Join(watch, ".staging-"+name)
	writeTree(t, tmp, files)
	os.MkdirAll(filepath.Join(watch, "inbox"), 0o755)
	if err := os.Rename(tmp, filepath.Join(watch, "inbox", name)); err != nil {
		t.Fatal(err)
	}
}

// resultIn waits for name's result.json in watch's done/ or failed/.
func resultIn(t *testing.T, watch, name string, within time.Duration) (map[string]any, string) {
	t.Helper()
	var out map[string]any
	where := ""
	eventually(t, name+" to finish", within, func() bool {
		for _, sub := range []string{"done", "failed"} {
			if b, err := os.ReadFile(filepath.Join(watch, sub, name, "result.json")); err == nil {
				where = sub
				return json.Unmarshal(b, &out) == nil
			}
		}
		return false
	})
	return out, where
}

// realseeNamed is a valid Realsee drop whose project is called name.
func realseeNamed(t *testing.T, name string) map[string][]byte {
	files := realseeFiles(t, 2, 0)
	files["manifest.json"] = []byte(strings.Replace(string(files["manifest.json"]), `"rel-{{timestamp}}"`, `"`+name+`"`, 1))
	return files
}

// TestAccountsTwoWatchesReachTheirOwnGateways: each watch's drops of both
// vendors are carried by its own account's gateways, which accept only
// their own credentials; result.json, status and metrics name the account
// of acme's jobs and leave the default's unnamed; no secret is logged.
func TestAccountsTwoWatchesReachTheirOwnGateways(t *testing.T) {
	a := newAcctRig(t)
	a.start()
	dropIn(t, a.acme, "acme-house", realseeNamed(t, "acme-house"))
	dropIn(t, a.acme, "acme-chair", aholoFiles(t, 3, 0))
	dropIn(t, a.own, "own-house", realseeNamed(t, "own-house"))
	dropIn(t, a.own, "own-chair", aholoFiles(t, 3, 0))

	for _, c := range []struct{ watch, name, vendor, account string }{
		{a.acme, "acme-house", "realsee", "acme"},
		{a.acme, "acme-chair", "aholo", "acme"},
		{a.own, "own-house", "realsee", ""},
		{a.own, "own-chair", "aholo", ""},
	} {
		res, where := resultIn(t, c.watch, c.name, 60*time.Second)
		if where != "done" || res["status"] != "success" {
			t.Fatalf("%s landed in %s: %v", c.name, where, res)
		}
		if res["vendor"] != c.vendor {
			t.Errorf("%s: vendor %v, want %s", c.name, res["vendor"], c.vendor)
		}
		acct, has := res["account"]
		if c.account == "" && has {
			t.Errorf("%s: result.json names account %v; the default's must not", c.name, acct)
		}
		if c.account != "" && acct != c.account {
			t.Errorf("%s: result.json account %v, want %s", c.name, acct, c.account)
		}
	}

	// Each task went to its own account's gateway, and only there.
	projects := func(s *realseetest.Server) []string {
		var out []string
		for _, sub := range s.Submits() {
			out = append(out, sub.ProjectName)
		}
		return out
	}
	if got := projects(a.acmeRS); !slices.Equal(got, []string{"acme-house"}) {
		t.Errorf("acme's Realsee gateway got tasks %q, want [acme-house]", got)
	}
	if got := projects(a.ownRS); !slices.Equal(got, []string{"own-house"}) {
		t.Errorf("the default Realsee gateway got tasks %q, want [own-house]", got)
	}
	if a.acmeAH.Creates() != 1 || a.ownAH.Creates() != 1 {
		t.Errorf("Aholo tasks: acme's gateway %d, the default's %d; want 1 each", a.acmeAH.Creates(), a.ownAH.Creates())
	}

	// status --json names acme's watch and its finished jobs.
	out, code := runBin(t, "status", "--json", "--config", a.cfgPath)
	if code != 0 {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	var rep ops.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	for _, w := range rep.Watches {
		want := ""
		if w.Dir == a.acme {
			want = "acme"
		}
		if w.Account != want {
			t.Errorf("status: watch %s has account %q, want %q", w.Dir, w.Account, want)
		}
		for _, f := range w.Recent {
			if f.Account != want {
				t.Errorf("status: %s has account %q, want %q", f.Folder, f.Account, want)
			}
		}
	}
	text, _ := runBin(t, "status", "--config", a.cfgPath)
	if !strings.Contains(text, "watch "+a.acme+" (account acme)") {
		t.Errorf("status does not name acme's account:\n%s", text)
	}

	for _, s := range []string{ownRSSecret, ownAHSecret, acmeRSSecret, acmeAHSecret} {
		if strings.Contains(a.logText(), s) {
			t.Errorf("a secret (%.12s…) appears in the log", s)
		}
	}
}

// TestAccountsMissingVendorIsConfigError: a watch whose account lacks a
// vendor that is configured elsewhere stops the daemon at start, naming
// the watch, the account and the vendor; so do an unknown account and bad
// or duplicate names.
func TestAccountsMissingVendorIsConfigError(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	write := func(s string) {
		if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const top = `state_dir: state
realsee: {app_key: k, app_secret: s}
aholo: {app_key: k, app_secret: s, appuid: u}
`
	write(`watches:
  - dir: own
  - dir: acme
    account: acme
` + top + `accounts:
  - name: acme
    realsee: {app_key: ak, app_secret: as}
`)
	out, code := runBin(t, "run", "--config", cfg)
	if code != 2 {
		t.Fatalf("run: exit %d, want 2 (configuration error)\n%s", code, out)
	}
	for _, want := range []string{"watches[1]", filepath.Join(dir, "acme"), `account "acme"`, "no aholo: section"} {
		if !strings.Contains(out, want) {
			t.Errorf("the error does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "watches[0]") {
		t.Errorf("the error blames the default watch too:\n%s", out)
	}

	write(`watches:
  - dir: acme
    account: acmee
` + top + `accounts:
  - name: acme
    realsee: {app_key: ak, app_secret: as}
    aholo: {app_key: k, app_secret: s, appuid: u}
  - name: acme
    realsee: {app_key: ak, app_secret: as}
  - name: "a b"
    realsee: {app_key: ak, app_secret: as}
  - name: empty
`)
	out, code = runBin(t, "run", "--config", cfg)
	if code != 2 {
		t.Fatalf("run: exit %d, want 2\n%s", code, out)
	}
	for _, want := range []string{
		`watches[0].account: no account is named "acmee" (accounts: acme, acme, a b, empty)`,
		`accounts[1].name: "acme" is already the name of accounts[0]`,
		`accounts[2].name: "a b" is not a valid account name`,
		`accounts[3]: account "empty" has no vendor section`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the error does not say %q:\n%s", want, out)
		}
	}
}

// TestAccountsREADMESingleAccountConfigRuns: the single-account
// configuration README shows (top-level sections, no accounts) still runs
// a drop to done/, and its result names no account.
func TestAccountsREADMESingleAccountConfigRuns(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}})
	r.start()
	r.drop("house", realseeFiles(t, 2, 0))
	res, where := r.waitResult("house", 30*time.Second)
	if where != "done" || !res.Success() {
		t.Fatalf("landed in %s: %+v", where, res.Error)
	}
	if res.Account != "" {
		t.Errorf("result.json names account %q", res.Account)
	}
}

// TestAccountsFairTurns: max_jobs 1, five drops in one watch, then one in
// another: the second watch's drop runs next after the job under way,
// not after the first watch's backlog.
func TestAccountsFairTurns(t *testing.T) {
	// Tasks take a few seconds (25 polls), so that the second watch's
	// drop settles while the first job runs.
	r := newRig(t, rigOptions{realsee: &realseetest.Options{ProcessingPolls: 25}, maxJobs: 1})
	b := filepath.Join(r.root, "b")
	cfg, err := os.ReadFile(r.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	// A second watch, the same account.
	second := fmt.Sprintf("watches:\n  - dir: %s\n    poll_interval: 200ms\n    settle: 600ms\n", b)
	cfgText := strings.Replace(string(cfg), "watches:\n", second, 1)
	if err := os.WriteFile(r.cfgPath, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	r.start()
	for i := 1; i <= 5; i++ {
		r.drop(fmt.Sprintf("a%d", i), realseeFiles(t, 2, 0))
	}
	eventually(t, "a first claim", 20*time.Second, func() bool {
		return strings.Contains(r.logText(), `"msg":"claimed folder"`)
	})
	dropIn(t, b, "b1", realseeFiles(t, 2, 0))
	resultIn(t, b, "b1", 90*time.Second)
	for i := 1; i <= 5; i++ {
		r.waitResult(fmt.Sprintf("a%d", i), 90*time.Second)
	}

	var order []string
	var moved time.Time
	var idle time.Duration // the longest a freed slot stayed free
	for _, l := range r.logLines() {
		switch l.Msg {
		case "claimed folder":
			order = append(order, l.Folder)
			if !moved.IsZero() {
				idle = max(idle, l.Time.Sub(moved))
			}
		case "moved":
			moved = l.Time
		}
	}
	t.Logf("longest wait from a job's end to the next claim: %s", idle)
	pos := slices.Index(order, "b1")
	t.Logf("claim order: %v", order)
	if len(order) != 6 || pos < 0 {
		t.Fatalf("claims: %v, want six", order)
	}
	// One job of the first watch ran (or was claimed) before b1 was
	// ready; b1 is next.
	if pos > 1 {
		t.Errorf("b1 was claimed %d-th, after %v: the busy watch took the turns", pos+1, order[:pos])
	}
}

// TestAccountsCredentialGateAndDoctor: the credential probe and doctor
// cover every account's clients. With acme's Realsee secret wrong, doctor
// exits 1 naming acme's client and its keys while the default's passes;
// the daemon holds acme's Realsee drop in inbox/ while the default's
// Realsee drop finishes, and fixing acme's secret file releases it
// without a restart.
func TestAccountsCredentialGateAndDoctor(t *testing.T) {
	a := newAcctRig(t)
	secretFile := filepath.Join(a.root, "acme-realsee.secret")
	if err := os.WriteFile(secretFile, []byte("wrong-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runBin(t, "doctor", "--config", a.cfgPath)
	if code != 1 {
		t.Fatalf("doctor with acme's secret wrong: exit %d, want 1\n%s", code, out)
	}
	var acmeLine, ownLine string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.Contains(l, "realsee (account acme) credentials"):
			acmeLine = l
		case strings.Contains(l, "realsee credentials"):
			ownLine = l
		}
	}
	if !strings.HasPrefix(strings.TrimSpace(acmeLine), "FAIL") || !strings.Contains(out, "accounts[acme].realsee.app_secret_file") {
		t.Errorf("doctor does not fail acme's Realsee credentials naming its keys:\n%s", out)
	}
	if !strings.HasPrefix(strings.TrimSpace(ownLine), "OK") {
		t.Errorf("doctor does not pass the default account's Realsee credentials:\n%s", out)
	}

	a.start()
	dropIn(t, a.acme, "acme-house", realseeNamed(t, "acme-house"))
	dropIn(t, a.own, "own-house", realseeNamed(t, "own-house"))
	if res, where := resultIn(t, a.own, "own-house", 60*time.Second); where != "done" {
		t.Fatalf("the default account's drop landed in %s: %v", where, res)
	}
	eventually(t, "the ERROR line naming acme's Realsee client", 10*time.Second, func() bool {
		return strings.Contains(a.logText(), "realsee (account acme)") && strings.Contains(a.logText(), "accounts[acme].realsee.app_secret_file")
	})
	if _, err := os.Stat(filepath.Join(a.acme, "inbox", "acme-house")); err != nil {
		t.Fatalf("acme's drop left inbox/ while its credentials are refused: %v", err)
	}
	if n := len(a.acmeRS.Submits()); n != 0 {
		t.Fatalf("acme's gateway got %d submits while refusing the credentials", n)
	}
	if err := os.WriteFile(secretFile, []byte(acmeRSSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if res, where := resultIn(t, a.acme, "acme-house", 60*time.Second); where != "done" || res["account"] != "acme" {
		t.Fatalf("acme's drop after the fix landed in %s: %v", where, res)
	}
	if strings.Contains(a.logText(), acmeRSSecret) || strings.Contains(out, acmeRSSecret) {
		t.Error("acme's secret appears in the log or doctor's output")
	}
}
