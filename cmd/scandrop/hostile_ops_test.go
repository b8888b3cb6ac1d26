//go:build linux

package main

// Hostile operations (issue 12, classes 6 and 7), through the real binary:
//
//   - a command hook sees a clean environment — the base variables, the
//     ones its config lists, the SCANDROP_ ones — and none of scandrop's
//     secrets, however they were configured (app_secret: ${VAR},
//     app_secret_file, a webhook's secret and URL, the listener's token, the
//     S3 credentials the gateway hands out, AWS_* in the environment);
//   - a config that would hand a hook one of those secrets is refused at
//     start, naming the key and never the value;
//   - each risky setting is a WARN at start naming the key and the fix, and
//     safe settings (everything on loopback) say nothing;
//   - with http.token, the listener answers 401 to every route but /healthz
//     without the token.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// hostileHookScript writes, per job, its environment exactly as it got it
// (/proc/self/environ: not the shell's view) and its arguments, NUL
// separated, to the folder given as its first argument.
const hostileHookScript = `#!/bin/sh
out="$1"
cat /proc/$$/environ > "$out/.env-$SCANDROP_FOLDER"
printf '%s\0' "$0" "$@" > "$out/.args-$SCANDROP_FOLDER"
mv "$out/.env-$SCANDROP_FOLDER" "$out/env-$SCANDROP_FOLDER"
mv "$out/.args-$SCANDROP_FOLDER" "$out/args-$SCANDROP_FOLDER"
`

// The variables a hook may get besides those its config lists: the base
// (internal/notify hookBase) and the SCANDROP_ event variables.
var hookAllowed = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR",
	"SCANDROP_RESULT", "SCANDROP_STATUS", "SCANDROP_EVENT", "SCANDROP_FOLDER", "SCANDROP_DIR", "SCANDROP_ACCOUNT"}

// editConfig replaces old, which must be there, with new in the rig's config.
func (r *rig) editConfig(old, new string) {
	r.t.Helper()
	b, err := os.ReadFile(r.cfgPath)
	if err != nil {
		r.t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		r.t.Fatalf("config lacks %q:\n%s", old, b)
	}
	os.WriteFile(r.cfgPath, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644)
}

func writeHookScript(t *testing.T, dir string) (script, out string) {
	script, out = filepath.Join(dir, "hook.sh"), filepath.Join(dir, "hook-out")
	os.MkdirAll(out, 0o755)
	if err := os.WriteFile(script, []byte(hostileHookScript), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, out
}

// hookSaw waits for the hook's record of folder: its environment, as a
// map, and its arguments.
func hookSaw(t *testing.T, out, folder string) (map[string]string, []string) {
	t.Helper()
	var envb, argb []byte
	eventually(t, "the command hook for "+folder, 30*time.Second, func() bool {
		var err error
		envb, err = os.ReadFile(filepath.Join(out, "env-"+folder))
		if err != nil {
			return false
		}
		argb, err = os.ReadFile(filepath.Join(out, "args-"+folder))
		return err == nil
	})
	env := map[string]string{}
	for _, kv := range strings.Split(strings.TrimRight(string(envb), "\x00"), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := env[k]; dup {
			t.Errorf("%s: the hook got %s twice", folder, k)
		}
		env[k] = v
	}
	return env, strings.Split(strings.TrimRight(string(argb), "\x00"), "\x00")
}

// TestHostileHookEnv: one daemon holding every kind of secret, three jobs
// (a Realsee success, an Aholo success, a bad drop that fails), a hook for
// each; what every hook got is checked whole.
func TestHostileHookEnv(t *testing.T) {
	const (
		rsSecret     = relRealseeSecret // the fake gateway's; configured as ${RS_SECRET}
		whSecret     = "hostile-webhook-secret-9e2d"
		whURLToken   = "hostile-url-token-77c1"
		httpToken    = "hostile-http-token-from-file-31aa"
		storeSecret  = "hostile-s3-secret-key-0d5e"
		storeSession = "hostile-s3-session-token-6f70"
		awsSecret    = "hostile-aws-secret-in-env-a1b2"
		awsSession   = "hostile-aws-session-in-env-c3d4"
		unlisted     = "hostile-unlisted-value-e5f6"
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer recv.Close()
	r := newRig(t, rigOptions{
		realsee: &realseetest.Options{AccessKey: "AKIAHOSTILEHOOK", SecretKey: storeSecret, SessionToken: storeSession},
		aholo:   &aholotest.Options{},
	})
	// realsee's secret through ${RS_SECRET}, the way the issue found it.
	r.editConfig("app_secret_file: realsee.secret", "app_secret: ${RS_SECRET}")
	os.WriteFile(filepath.Join(r.root, "http.token"), []byte(httpToken+"\n"), 0o600)
	os.WriteFile(filepath.Join(r.root, "webhook.secret"), []byte(whSecret+"\n"), 0o600)
	script, out := writeHookScript(t, r.root)
	os.WriteFile(r.cfgPath, append(must(os.ReadFile(r.cfgPath)), fmt.Sprintf(`http:
  listen: 127.0.0.1:0
  token_file: http.token
notify:
  webhooks:
    - url: %s/hook?token=${WH_URL_TOKEN}
      secret_file: webhook.secret
  commands:
    - run: [sh, %s, %s, --flag]
      env: [LISTED_VAR, EMPTY_VAR, "SET_VAR=set ${OTHER_VAR}", "AWS_REGION=eu-west-1"]
`, recv.URL, script, out)...), 0o644)

	d := r.start("RS_SECRET="+rsSecret, "WH_URL_TOKEN="+whURLToken,
		"AWS_ACCESS_KEY_ID=AKIAHOSTILEENV", "AWS_SECRET_ACCESS_KEY="+awsSecret, "AWS_SESSION_TOKEN="+awsSession,
		"UNLISTED_VAR="+unlisted, "LISTED_VAR=listed value", "EMPTY_VAR=", "OTHER_VAR=other", "LC_TIME=C.UTF-8")
	eventually(t, "the daemon to run", 15*time.Second, func() bool { return strings.Contains(d.log.String(), "scandrop running") })
	r.drop("hook-realsee", realseeFiles(t, 2, 0))
	r.drop("hook-aholo", aholoFiles(t, 2, 0))
	r.drop("hook-bad", map[string][]byte{"manifest.json": []byte(`{"version":`)})

	secrets := map[string]string{
		"realsee app_secret (${RS_SECRET})":       rsSecret,
		"aholo app_secret_file":                   relAholoSecret,
		"webhook secret_file":                     whSecret,
		"webhook URL token":                       whURLToken,
		"http token_file":                         httpToken,
		"S3 secret key from the gateway":          storeSecret,
		"S3 session token from the gateway":       storeSession,
		"AWS_SECRET_ACCESS_KEY in the daemon env": awsSecret,
		"AWS_SESSION_TOKEN in the daemon env":     awsSession,
		"an unlisted variable":                    unlisted,
	}
	for _, c := range []struct{ folder, status, event string }{
		{"hook-realsee", "success", "done"},
		{"hook-aholo", "success", "done"},
		{"hook-bad", "failed", "failed"},
	} {
		t.Run(c.folder, func(t *testing.T) {
			_, where := r.waitResult(c.folder, 60*time.Second)
			env, args := hookSaw(t, out, c.folder)
			dir := r.path(where, c.folder)
			result := filepath.Join(dir, "result.json")
			for k, want := range map[string]string{
				"LISTED_VAR": "listed value", "EMPTY_VAR": "", "SET_VAR": "set other", "AWS_REGION": "eu-west-1",
				"SCANDROP_STATUS": c.status, "SCANDROP_EVENT": c.event, "SCANDROP_FOLDER": c.folder,
				"SCANDROP_DIR": dir, "SCANDROP_RESULT": result, "SCANDROP_ACCOUNT": "", "TMPDIR": r.tmpDir,
				"PATH": os.Getenv("PATH"), "LC_TIME": "C.UTF-8",
			} {
				if got, ok := env[k]; !ok || got != want {
					t.Errorf("the hook's %s = %q (set %v), want %q", k, got, ok, want)
				}
			}
			listed := []string{"LISTED_VAR", "EMPTY_VAR", "SET_VAR", "AWS_REGION"}
			for k := range env {
				if !slices.Contains(hookAllowed, k) && !slices.Contains(listed, k) && !strings.HasPrefix(k, "LC_") {
					t.Errorf("the hook got %s, which is neither base nor listed", k)
				}
			}
			if want := []string{script, out, "--flag", result}; !slices.Equal(args, want) {
				t.Errorf("the hook's arguments %q, want %q", args, want)
			}
			all := strings.Join(args, "\x00")
			for k, v := range env {
				all += "\x00" + k + "=" + v
			}
			for what, s := range secrets {
				if strings.Contains(all, s) {
					t.Errorf("the hook got the %s", what)
				}
			}
		})
	}
	// The hooks really ran with a daemon that used those secrets: the
	// Realsee job signed in with ${RS_SECRET} and uploaded with the S3
	// credentials.
	if res, where := r.result("hook-realsee"); where != "done" {
		t.Errorf("the realsee drop landed in %s: %+v", where, res.Error)
	}
	if l := r.logText(); strings.Contains(l, "left out") || strings.Contains(l, "risky setting") {
		t.Errorf("a safe config logged a warning:\n%s", l)
	}
}

// TestHostileHookSecretRefused: every road by which a config could hand a
// hook one of scandrop's secrets is refused at start, naming the key and
// not the value; the daemon does not run.
func TestHostileHookSecretRefused(t *testing.T) {
	const (
		rsSecret = "refused-rs-secret-2c3d4e"
		ahSecret = "refused-aholo-secret-file-5f6a"
		whSecret = "refused-webhook-secret-7b8c"
		token    = "refused-http-token-9d0e1f"
		urlToken = "refused-url-token-a2b3"
	)
	cases := []struct{ name, cmd, want string }{
		{"app_secret from the environment passed by name", "env: [RS_SECRET]",
			"notify.commands[0].env[0]: RS_SECRET holds realsee.app_secret; scandrop never hands its secrets to a hook"},
		{"app_secret from the environment set under another name", `env: ["VENDOR_KEY=${RS_SECRET}"]`,
			"notify.commands[0].env[0]: VENDOR_KEY holds realsee.app_secret"},
		{"app_secret_file's content in a variable", "env: [AH_COPY]",
			"notify.commands[0].env[0]: AH_COPY holds aholo.app_secret"},
		{"webhook secret_file inside a longer value", `env: ["AUTH=hmac:${WH_COPY}:v1"]`,
			"notify.commands[0].env[0]: AUTH holds notify.webhooks[0].secret"},
		{"webhook URL with its token", "env: [WH_URL]",
			"notify.commands[0].env[0]: WH_URL holds notify.webhooks[0].url"},
		{"http token", "env: [HTTP_TOKEN]",
			"notify.commands[0].env[0]: HTTP_TOKEN holds http.token"},
		{"secret as an argument", "", // run gets it
			"notify.commands[0].run[3]: holds realsee.app_secret"},
		{"variable unset", "env: [NOT_SET_ANYWHERE]",
			"notify.commands[0].env[0]: NOT_SET_ANYWHERE is not set in scandrop's environment"},
		{"SCANDROP_ name", `env: ["SCANDROP_STATUS=success"]`,
			"notify.commands[0].env[0]: SCANDROP_STATUS: names starting SCANDROP_ are set by scandrop"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "aholo.secret"), []byte(ahSecret+"\n"), 0o600)
			os.WriteFile(filepath.Join(dir, "webhook.secret"), []byte(whSecret+"\n"), 0o600)
			run := "[sh, -c, 'true']"
			if tc.cmd == "" {
				run = "[sh, -c, 'true', '--key=${RS_SECRET}']"
			}
			cfg := fmt.Sprintf(`watches:
  - dir: %s
realsee:
  endpoint: http://127.0.0.1:9
  app_key: k
  app_secret: ${RS_SECRET}
aholo:
  endpoint: http://127.0.0.1:9/v2/aholo
  app_key: k
  app_secret_file: aholo.secret
  appuid: u
http:
  listen: 127.0.0.1:0
  token: ${HTTP_TOKEN}
notify:
  webhooks:
    - url: http://127.0.0.1:9/hook?token=%s
      secret_file: webhook.secret
  commands:
    - run: %s
      %s
`, filepath.Join(dir, "watch"), urlToken, run, tc.cmd)
			cfgPath := filepath.Join(dir, "config.yaml")
			os.WriteFile(cfgPath, []byte(cfg), 0o644)
			// A daemon that accepted the config would run until killed.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binPath, "run", "--config", cfgPath)
			cmd.Env = append(os.Environ(), "RS_SECRET="+rsSecret, "AH_COPY="+ahSecret, "WH_COPY="+whSecret,
				"WH_URL=http://127.0.0.1:9/hook?token="+urlToken, "HTTP_TOKEN="+token)
			b, err := cmd.CombinedOutput()
			got := string(b)
			if err == nil || ctx.Err() != nil {
				t.Fatalf("the daemon did not refuse the config (%v):\n%s", err, got)
			}
			if !strings.Contains(got, tc.want) || strings.Count(got, "config.yaml:") != 1 {
				t.Errorf("output is not the one problem %q:\n%s", tc.want, got)
			}
			for _, s := range []string{rsSecret, ahSecret, whSecret, token, urlToken} {
				if strings.Contains(got, s) {
					t.Errorf("the error shows a secret:\n%s", got)
				}
			}
			if strings.Contains(got, "scandrop running") {
				t.Errorf("the daemon ran:\n%s", got)
			}
		})
	}
}

// riskyLines are the daemon's "risky setting" warnings, by key.
func riskyLines(log string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, l := range parseLog(log) {
		if l.Msg != "risky setting" {
			continue
		}
		var full map[string]any
		json.Unmarshal([]byte(l.Raw), &full)
		w := map[string]string{"level": l.Level}
		for _, k := range []string{"key", "problem", "fix"} {
			w[k], _ = full[k].(string)
		}
		out[w["key"]] = w
	}
	return out
}

// TestHostileRiskyWarnings: each risky setting gets a WARN at start naming
// the key and the fix; the daemon runs anyway. A daemon whose every
// endpoint is on loopback, whose files are private and whose off-loopback
// listener has a token says nothing.
func TestHostileRiskyWarnings(t *testing.T) {
	const webhookToken = "risky-url-token-5e6f"
	root := t.TempDir()
	secretFile := func(name string, mode os.FileMode) string {
		p := filepath.Join(root, name)
		os.WriteFile(p, []byte("risky-"+name+"-secret-value\n"), 0o600)
		os.Chmod(p, mode)
		return p
	}
	cfgPath := filepath.Join(root, "config.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`watches:
  - dir: %s
    poll_interval: 200ms
    settle: 600ms
realsee:
  endpoint: http://192.0.2.10:8080
  app_key: k
  app_secret_file: %s
aholo:
  endpoint: http://aholo.example.invalid/v2/aholo
  app_key: k
  app_secret_file: %s
  appuid: u
http:
  listen: 0.0.0.0:0
notify:
  webhooks:
    - url: http://hooks.example.invalid/h?token=%s
      secret_file: %s
`, filepath.Join(root, "watch"), secretFile("realsee.secret", 0o644), secretFile("aholo.secret", 0o640),
		webhookToken, secretFile("webhook.secret", 0o604))), 0o644)
	cmd := exec.Command(binPath, "run", "--config", cfgPath, "--log-format", "json")
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemonProc{cmd: cmd, log: log, done: make(chan struct{})}
	go func() { cmd.Wait(); close(d.done) }()
	defer d.stop()
	eventually(t, "the daemon to run", 15*time.Second, func() bool { return strings.Contains(log.String(), "scandrop running") })
	got := riskyLines(log.String())

	for _, want := range []struct{ key, problem, fix string }{
		{"realsee.app_secret_file", filepath.Join(root, "realsee.secret") + " can be read by users other than its owner (mode 0644)", "chmod 600 " + filepath.Join(root, "realsee.secret")},
		{"aholo.app_secret_file", filepath.Join(root, "aholo.secret") + " can be read by users other than its owner (mode 0640)", "chmod 600 " + filepath.Join(root, "aholo.secret")},
		{"notify.webhooks[0].secret_file", filepath.Join(root, "webhook.secret") + " can be read by users other than its owner (mode 0604)", "chmod 600 " + filepath.Join(root, "webhook.secret")},
		{"realsee.endpoint", "plain http:// to 192.0.2.10:", "use the https:// endpoint"},
		{"aholo.endpoint", "plain http:// to aholo.example.invalid:", "use the https:// endpoint"},
		{"notify.webhooks[0].url", "a signed webhook over plain http:// to hooks.example.invalid:", "use an https:// URL"},
		{"http.listen", "the status listener on every interface answers anyone who reaches it, without authentication", "set http.token_file (or http.token), or listen on 127.0.0.1"},
	} {
		t.Run(want.key, func(t *testing.T) {
			w, ok := got[want.key]
			if !ok {
				t.Fatalf("no WARN for %s; risky lines: %v", want.key, got)
			}
			if w["level"] != "WARN" || !strings.HasPrefix(w["problem"], want.problem) || w["fix"] != want.fix {
				t.Errorf("WARN for %s = %v, want problem %q…, fix %q", want.key, w, want.problem, want.fix)
			}
		})
	}
	if len(got) != 7 {
		t.Errorf("%d risky settings logged, want 7: %v", len(got), got)
	}
	if strings.Contains(log.String(), webhookToken) {
		t.Error("the log shows the webhook URL's token")
	}

	t.Run("safe settings say nothing", func(t *testing.T) {
		recv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		defer recv.Close()
		r := newRig(t, rigOptions{realsee: &realseetest.Options{}, aholo: &aholotest.Options{}}) // fakes on loopback over http, 0600 files
		os.WriteFile(filepath.Join(r.root, "http.token"), []byte("safe-listener-token-0123456789\n"), 0o600)
		os.WriteFile(filepath.Join(r.root, "webhook.secret"), []byte("safe-webhook-secret\n"), 0o600)
		os.WriteFile(r.cfgPath, append(must(os.ReadFile(r.cfgPath)), fmt.Sprintf(`http:
  listen: 0.0.0.0:0
  token_file: http.token
notify:
  webhooks:
    - url: %s/h
      secret_file: webhook.secret
    - url: http://localhost:9/unsigned
`, recv.URL)...), 0o644)
		d := r.start()
		eventually(t, "the daemon to run", 15*time.Second, func() bool { return strings.Contains(d.log.String(), "scandrop running") })
		if got := riskyLines(r.logText()); len(got) != 0 {
			t.Errorf("safe settings logged risky ones: %v", got)
		}
	})
}

// TestHostileListenerAuth: with http.token_file, the daemon's listener
// answers /healthz to anyone and everything else only with the token (401
// otherwise), and the token never reaches the log.
func TestHostileListenerAuth(t *testing.T) {
	const token = "hostile-listener-token-from-file-8c9d"
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}})
	os.WriteFile(filepath.Join(r.root, "http.token"), []byte(token+"\n"), 0o600)
	os.WriteFile(r.cfgPath, append(must(os.ReadFile(r.cfgPath)), "http:\n  listen: 127.0.0.1:0\n  token_file: http.token\n"...), 0o644)
	d := r.start()
	var addr string
	eventually(t, "the HTTP listener", 15*time.Second, func() bool {
		for _, l := range parseLog(d.log.String()) {
			if l.Msg == "http listening" {
				var f struct{ Addr string }
				json.Unmarshal([]byte(l.Raw), &f)
				addr = f.Addr
			}
		}
		return addr != ""
	})
	r.drop("listener-job", realseeFiles(t, 1, 0))
	mustSucceed(t, r, "listener-job", 60*time.Second)
	base := "http://" + addr
	get := func(path string, auth func(*http.Request)) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if auth != nil {
			auth(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	for _, c := range []struct {
		name, path string
		auth       func(*http.Request)
		code       int
		body       string // a substring of a 200's body
	}{
		{"healthz without token", "/healthz", nil, 200, "ok"},
		{"status without token", "/status", nil, 401, ""},
		{"page without token", "/", nil, 401, ""},
		{"metrics without token", "/metrics", nil, 401, ""},
		{"status with a wrong token", "/status", bearer(token[:len(token)-1] + "x"), 401, ""},
		{"status with the token in the wrong header form", "/status", func(r *http.Request) { r.Header.Set("Authorization", token) }, 401, ""},
		{"status with the token", "/status", bearer(token), 200, `"folder": "done/listener-job"`},
		{"page with the token", "/", bearer(token), 200, "listener-job"},
		{"metrics with the token (Prometheus authorization)", "/metrics", bearer(token), 200, `scandrop_jobs_finished_total{vendor="realsee",status="success"} 1`},
		{"page with Basic auth (a browser)", "/", func(r *http.Request) { r.SetBasicAuth("ops", token) }, 200, "listener-job"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := get(c.path, c.auth)
			if code != c.code || (c.code == 200 && !strings.Contains(body, c.body)) {
				t.Errorf("GET %s = %d, want %d with %q:\n%.2000q", c.path, code, c.code, c.body, body)
			}
			if c.code == 401 && strings.Contains(body, "listener-job") {
				t.Errorf("a 401 shows the status:\n%s", body)
			}
		})
	}
	if strings.Contains(r.logText(), token) {
		t.Error("the log shows the listener's token")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
