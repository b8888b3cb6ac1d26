//go:build linux

package main

// Secrets and paths: the app secrets, the temporary S3 credentials the
// gateway hands out (also after they are rotated), access and upload
// tokens never appear in the debug log, in result.json, in the journal or
// in error text — on the success path, through expiries and through an
// auth failure; and the daemon writes nothing outside the watch folder.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// currentStoreCredentials asks the gateway for a file token, as the daemon
// does, to learn the temporary credentials it hands out now.
func currentStoreCredentials(t *testing.T, gw *realseetest.Server) (secretKey, sessionToken string) {
	var accessToken string
	defer func() { lastAccessToken = accessToken }()
	resp, err := http.PostForm(gw.URL+"/auth/access_token", url.Values{"app_key": {relRealseeKey}, "app_secret": {relRealseeSecret}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Data struct {
			AccessToken string `json:"access_token"`
		} `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	accessToken = tok.Data.AccessToken
	req, _ := http.NewRequest("GET", gw.URL+"/open/v1/pano/file/token", nil)
	req.Header.Set("Authorization", tok.Data.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ft struct {
		Data struct {
			TmpSecretKey string `json:"tmpSecretKey"`
			SessionToken string `json:"sessionToken"`
		} `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&ft)
	if ft.Data.TmpSecretKey == "" || ft.Data.SessionToken == "" {
		t.Fatal("the gateway handed out no credentials")
	}
	return ft.Data.TmpSecretKey, ft.Data.SessionToken
}

// lastAccessToken is the access token currentStoreCredentials used.
var lastAccessToken string

// snapshot lists every file under dir (but the skip folders) with size and
// mtime.
func snapshot(dir string, skip ...string) map[string]string {
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if slices.Contains(skip, p) {
			return filepath.SkipDir
		}
		if fi, err := d.Info(); err == nil {
			out[p] = fmt.Sprintf("%v %d %s", fi.Mode(), fi.Size(), fi.ModTime())
		}
		return nil
	})
	return out
}

func TestReliabilitySecretsAndPaths(t *testing.T) {
	const (
		storeSecret  = "rel-s3-secret-NEVER-LOGGED-5d1e"
		storeSession = "rel-s3-session-NEVER-LOGGED-c0ff"
	)
	r := newRig(t, rigOptions{
		realsee:  &realseetest.Options{MinPartSize: 1 << 20, AccessKey: "AKIARELSECRETS", SecretKey: storeSecret, SessionToken: storeSession},
		aholo:    &aholotest.Options{BlockSize: 1 << 20},
		logLevel: "debug", uploadConc: 1,
	})
	before := snapshot(r.root, r.watchDir, r.stateDir)
	d := r.start()
	eventually(t, "the daemon to run", 15*time.Second, func() bool { return strings.Contains(d.log.String(), "scandrop running") })
	rootEvents := watchOutside(t, r.root, r.watchDir, r.stateDir) // the config folder: only watch/ and scandrop's state_dir may be touched from now on

	// A big Realsee drop whose credentials rotate mid-upload and whose
	// access token expires while it waits; an Aholo drop whose upload
	// tokens and first calls fail; a drop the vendor fails.
	r.gw.HoldTasks(true)
	r.drop("secret-realsee", realseeFiles(t, 3, 4<<20))
	eventually(t, "the first part", 60*time.Second, func() bool { return r.gw.Storage().Stats().PartsUploaded >= 1 })
	r.gw.RotateCredentials()
	r.gw.ExpireTokens()
	waitTask(t, r, "secret-realsee")
	r.gw.ExpireTokens()
	time.Sleep(300 * time.Millisecond)
	r.gw.HoldTasks(false)
	r.ah.FailNext(3, 503)
	r.drop("secret-aholo", aholoFiles(t, 2, 2<<20))
	mustSucceed(t, r, "secret-realsee", 60*time.Second)
	if res, where := r.waitResult("secret-aholo", 60*time.Second); where != "done" {
		t.Fatalf("aholo drop: %s %+v", where, res.Error)
	}
	r.ah.FailNext(1, 401)
	r.drop("secret-aholo-auth", aholoFiles(t, 1, 0))
	if res, where := r.waitResult("secret-aholo-auth", 60*time.Second); where != "failed" || res.Error.Kind != "auth" {
		t.Fatalf("aholo 401: %s %+v", where, res.Error)
	}
	r.gw.FailTasks(true)
	r.drop("secret-vendor-failed", realseeFiles(t, 1, 0))
	if _, where := r.waitResult("secret-vendor-failed", 60*time.Second); where != "failed" {
		t.Fatalf("vendor-failed drop landed in %s", where)
	}
	rotatedSecret, rotatedSession := currentStoreCredentials(t, r.gw)

	// And a daemon whose app secret is wrong: the refusal's text (the
	// ERROR line at start, the reason the drop waits in inbox/).
	bad := newRig(t, rigOptions{realsee: &realseetest.Options{}, logLevel: "debug"})
	const wrongSecret = "rel-wrong-secret-NEVER-LOGGED-e2a9"
	os.WriteFile(filepath.Join(bad.root, "realsee.secret"), []byte(wrongSecret+"\n"), 0o600)
	bad.start()
	bad.drop("secret-auth", realseeFiles(t, 1, 0))
	eventually(t, "the wrong secret's drop to wait", 60*time.Second, func() bool {
		return strings.Contains(bad.logText(), "vendor refuses the credentials") && strings.Contains(bad.logText(), "not claiming folder yet")
	})
	if e := bad.entries("failed"); len(e) != 0 {
		t.Fatalf("wrong secret: failed/ holds %v", e)
	}

	secrets := map[string]string{
		"realsee app secret":           relRealseeSecret,
		"aholo app secret":             relAholoSecret,
		"S3 secret key":                storeSecret,
		"S3 session token":             storeSession,
		"rotated S3 secret key":        rotatedSecret,
		"rotated S3 session token":     rotatedSession,
		"wrong app secret":             wrongSecret,
		"realsee app secret (escaped)": url.QueryEscape(relRealseeSecret),
	}
	patterns := map[string]*regexp.Regexp{
		"a Realsee access token":  regexp.MustCompile(`VE9LRU5f[0-9A-F]{16,}`),
		"an Aholo upload token":   regexp.MustCompile(`ous-\d{8}`),
		"an Aholo call signature": regexp.MustCompile(`sign=[0-9a-f]{32}`),
	}
	// Everything the daemons wrote: their logs (debug), every result.json and
	// journal in the watch folders.
	texts := map[string][]byte{"log": []byte(r.logText()), "log (wrong secret)": []byte(bad.logText())}
	for _, root := range []string{r.watchDir, bad.watchDir} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (d.Name() == "result.json" || strings.HasPrefix(d.Name(), "job.json") || d.Name() == "owner") {
				b, _ := os.ReadFile(p)
				texts[p] = b
			}
			return nil
		})
	}
	// The search is not blind: the rotated credentials are new ones, and
	// the token patterns match what the fakes issue.
	if rotatedSecret == storeSecret || rotatedSession == storeSession {
		t.Error("the credentials were not rotated")
	}
	if !patterns["a Realsee access token"].MatchString(lastAccessToken) {
		t.Errorf("the access token pattern does not match an access token (%.12s…)", lastAccessToken)
	}
	scanned, lines := 0, 0
	for where, b := range texts {
		scanned += len(b)
		lines += bytes.Count(b, []byte("\n"))
		for what, s := range secrets {
			if s != "" && bytes.Contains(b, []byte(s)) {
				t.Errorf("the %s appears in %s", what, where)
			}
		}
		for what, re := range patterns {
			if m := re.Find(b); m != nil {
				t.Errorf("%s (%s) appears in %s", what, m, where)
			}
		}
	}

	// Paths: nothing appeared, changed or was read outside watch/ (the
	// config and secret files are read once, at start, before the watch).
	d.stop()
	if ev := rootEvents(); len(ev) > 0 {
		var outside []string
		for _, e := range ev {
			if !strings.Contains(e, "/watch ") && !strings.HasSuffix(strings.Fields(e)[0], "/watch") {
				outside = append(outside, e)
			}
		}
		if len(outside) > 0 {
			t.Errorf("the daemon touched files beside the watch folder: %v", outside)
		}
	}
	after := snapshot(r.root, r.watchDir, r.stateDir)
	for p, s := range after {
		if before[p] != s {
			t.Errorf("%s appeared or changed outside the watch folder", p)
		}
	}
	if ents, _ := os.ReadDir(r.tmpDir); len(ents) != 0 {
		t.Errorf("the daemon left %d files in its TMPDIR", len(ents))
	}
	report(t, "secrets: %d secret values and 3 token patterns searched in %d KiB of debug log, result.json, job.json and owner files (%d files, %d lines; uploads with rotated credentials, expired tokens, 503s, a vendor failure, two auth failures): 0 found; nothing written, changed or read beside the watch folder, TMPDIR empty",
		len(secrets), scanned/1024, len(texts), lines)
}
