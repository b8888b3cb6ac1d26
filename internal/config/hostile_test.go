package config

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// Issue 12, classes 6 and 7: what a command hook may be handed, and the
// risky settings reported at start.

const (
	hostileRealseeSecret = "cfg-realsee-secret-0a1b2c"
	hostileAholoSecret   = "cfg-aholo-secret-3d4e5f"
	hostileHookSecret    = "cfg-webhook-secret-6a7b8c"
	hostileToken         = "cfg-http-token-9d0e1f2a3b"
	hostileHookURL       = "https://hooks.example.com/x?token=cfg-url-token-77"
)

// hostileBase is a config with every kind of secret: realsee's inline
// through ${RS_SECRET}, aholo's from a file, a webhook's URL and secret
// from a file, and the listener's token.
func hostileBase(t *testing.T) (dir, file, yaml string) {
	dir = t.TempDir()
	file = filepath.Join(dir, "config.yaml")
	for name, v := range map[string]string{"aholo.secret": hostileAholoSecret, "hook.secret": hostileHookSecret} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	yaml = minimal + `realsee:
  app_key: rk
  app_secret: ${RS_SECRET}
aholo:
  app_key: ak
  app_secret_file: aholo.secret
  appuid: u
http:
  token: ${HTTP_TOKEN}
notify:
  webhooks:
    - url: ${HOOK_URL}
      secret_file: hook.secret
  commands:
`
	return dir, file, yaml
}

var hostileEnv = map[string]string{
	"RS_SECRET":  hostileRealseeSecret,
	"HTTP_TOKEN": hostileToken,
	"HOOK_URL":   hostileHookURL,
	"AHOLO_COPY": hostileAholoSecret,
	"HOOK_COPY":  "prefix-" + hostileHookSecret,
	"PLAIN":      "plain value",
	"EMPTY":      "",
}

func TestCommandEnv(t *testing.T) {
	_, file, y := hostileBase(t)
	y += `    - run: [notify.sh, --flag]
      env: [PLAIN, EMPTY, "SITE=north ${PLAIN}", "EQ=a=b"]
    - run: [other.sh]
`
	c, err := ParseEnv([]byte(y), file, envMap(hostileEnv))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PLAIN=plain value", "EMPTY=", "SITE=north plain value", "EQ=a=b"}
	if got := c.Notify.Commands[0].Env; !reflect.DeepEqual(got, want) {
		t.Errorf("env = %q, want %q", got, want)
	}
	if got := c.Notify.Commands[1].Env; got != nil {
		t.Errorf("default env = %q, want none", got)
	}
	if got := c.Notify.Commands[0].Run; !reflect.DeepEqual(got, []string{"notify.sh", "--flag"}) {
		t.Errorf("run = %q", got)
	}
	var secrets []string
	for _, s := range c.Secrets() {
		secrets = append(secrets, s.Reveal())
	}
	slices.Sort(secrets)
	wantSecrets := []string{hostileAholoSecret, hostileRealseeSecret, hostileToken, hostileHookSecret, hostileHookURL}
	slices.Sort(wantSecrets)
	if !reflect.DeepEqual(secrets, wantSecrets) {
		t.Errorf("Secrets() = %q, want %q", secrets, wantSecrets)
	}
}

// A secret reaches a hook by no road: passed on by name, set through
// ${VAR}, copied into a variable the operator made, inside a longer value,
// or as an argument. The error names the secret's key, never its value.
func TestCommandSecretRefused(t *testing.T) {
	cases := []struct {
		name, cmd, want string
	}{
		{"passed by name", `env: [RS_SECRET]`,
			`notify.commands[0].env[0]: RS_SECRET holds realsee.app_secret; scandrop never hands its secrets to a hook (give the hook a credential of its own)`},
		{"set through ${VAR}", `env: ["KEY=${RS_SECRET}"]`,
			`notify.commands[0].env[0]: KEY holds realsee.app_secret;`},
		{"app_secret_file's content in a variable", `env: [PLAIN, AHOLO_COPY]`,
			`notify.commands[0].env[1]: AHOLO_COPY holds aholo.app_secret;`},
		{"webhook secret file inside a longer value", `env: [HOOK_COPY]`,
			`notify.commands[0].env[0]: HOOK_COPY holds notify.webhooks[0].secret;`},
		{"webhook URL", `env: ["URL=${HOOK_URL}"]`,
			`notify.commands[0].env[0]: URL holds notify.webhooks[0].url;`},
		{"http token", `env: [HTTP_TOKEN]`,
			`notify.commands[0].env[0]: HTTP_TOKEN holds http.token;`},
		{"argument", `run: [notify.sh, "--secret=${RS_SECRET}"]`,
			`notify.commands[0].run[1]: holds realsee.app_secret;`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, file, y := hostileBase(t)
			if !strings.HasPrefix(tc.cmd, "run:") {
				y += "    - run: [notify.sh]\n      " + tc.cmd + "\n"
			} else {
				y += "    - " + tc.cmd + "\n"
			}
			_, err := ParseEnv([]byte(y), file, envMap(hostileEnv))
			if err == nil {
				t.Fatal("loaded; want the secret refused")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Count(err.Error(), "\n") != 0 {
				t.Errorf("error:\n%v\nwant one line containing %q", err, tc.want)
			}
			for _, s := range []string{hostileRealseeSecret, hostileAholoSecret, hostileHookSecret, hostileToken, "cfg-url-token"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the error shows a secret: %v", err)
				}
			}
		})
	}
}

func TestCommandEnvErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	cases := []struct{ env, want string }{
		{`[UNSET_VAR]`, `{file}:6: notify.commands[0].env[0]: UNSET_VAR is not set in scandrop's environment; set it, or write UNSET_VAR=value`},
		{`["1X=y"]`, `{file}:6: notify.commands[0].env[0]: "1X" is not a variable name: write NAME or NAME=value, NAME of letters, digits and _`},
		{`["=y"]`, `{file}:6: notify.commands[0].env[0]: "" is not a variable name: write NAME or NAME=value, NAME of letters, digits and _`},
		{`[SCANDROP_STATUS]`, `{file}:6: notify.commands[0].env[0]: SCANDROP_STATUS: names starting SCANDROP_ are set by scandrop`},
		{`["scandrop_dir=x"]`, `{file}:6: notify.commands[0].env[0]: scandrop_dir: names starting SCANDROP_ are set by scandrop`},
		{`[PLAIN, "PLAIN=x"]`, `{file}:6: notify.commands[0].env[1]: PLAIN is already set by env[0]`},
	}
	for _, tc := range cases {
		t.Run(tc.env, func(t *testing.T) {
			y := minimal + "notify:\n  commands:\n    - run: [x]\n      env: " + tc.env + "\n"
			env := map[string]string{"PLAIN": "p", "SCANDROP_STATUS": "s"}
			_, err := ParseEnv([]byte(y), file, envMap(env))
			wantLines(t, err, file, dir, []string{tc.want})
		})
	}
}

func TestSecretFoundIn(t *testing.T) {
	cases := []struct {
		secret, v string
		want      bool
	}{
		{"", "anything", false},
		{"abc", "abc", true},
		{"abc", "/opt/abc/hook", false}, // short: whole only
		{"12345678", "x=12345678;", true},
		{"12345678", "1234567", false},
	}
	for _, c := range cases {
		if got := Secret(c.secret).FoundIn(c.v); got != c.want {
			t.Errorf("Secret(%q).FoundIn(%q) = %v, want %v", c.secret, c.v, got, c.want)
		}
	}
}

func TestHTTPToken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	os.WriteFile(filepath.Join(dir, "http.token"), []byte(hostileToken+"\r\n"), 0o600)
	c, err := ParseEnv([]byte(minimal+"http:\n  token_file: http.token\n"), file, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Token.Reveal() != hostileToken || c.HTTP.TokenFile != filepath.Join(dir, "http.token") {
		t.Errorf("http: token from file not read: %q", c.HTTP.TokenFile)
	}
	for y, want := range map[string]string{
		"http:\n  token: short-token\n":                                    `{file}:4: http.token: 11 characters is too short to resist guessing; use at least 16 (e.g. openssl rand -hex 32)`,
		"http:\n  token: " + hostileToken + "\n  token_file: http.token\n": `{file}:5: http: token and token_file are both set; keep one`,
		"http:\n  token_file: missing\n":                                   `{file}:4: http.token_file: cannot read {dir}/missing: no such file or directory`,
	} {
		_, err := ParseEnv([]byte(minimal+y), file, envMap(nil))
		wantLines(t, err, file, dir, []string{want})
		if err != nil && strings.Contains(err.Error(), "short-token") {
			t.Error("the error shows the token")
		}
	}
}

func TestWarnings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("a-secret-of-some-length\n"), 0o600)
		os.Chmod(p, mode) // whatever the umask
		return p
	}
	cases := []struct {
		name, yaml string
		want       []Warning // nil: none
		unixOnly   bool
	}{
		{name: "safe: loopback everywhere, private files", yaml: `realsee: {app_key: k, app_secret_file: ` + write("ok.secret", 0o600) + `, endpoint: "http://127.0.0.1:8080"}
aholo: {app_key: k, app_secret: s, appuid: u, endpoint: "http://localhost:9/v2/aholo"}
http: {listen: "127.0.0.1:9180"}
notify:
  webhooks:
    - {url: "http://[::1]:9/h", secret: s}
    - {url: "https://hooks.example.com/h", secret: s}
    - {url: "http://hooks.example.com/unsigned"}
`},
		{name: "safe: https endpoints, listener on every interface with a token", yaml: `realsee: {app_key: k, app_secret: s, endpoint: "https://gw.example.com"}
http: {listen: ":9180", token: a-long-enough-token-123}
`},
		{name: "app_secret_file readable by others", unixOnly: true,
			yaml: "realsee: {app_key: k, app_secret_file: " + write("rs.secret", 0o644) + "}\n",
			want: []Warning{{"realsee.app_secret_file", filepath.Join(dir, "rs.secret") + " can be read by users other than its owner (mode 0644)", "chmod 600 " + filepath.Join(dir, "rs.secret")}}},
		{name: "aholo app_secret_file readable by its group", unixOnly: true,
			yaml: "aholo: {app_key: k, appuid: u, app_secret_file: " + write("ah.secret", 0o640) + "}\n",
			want: []Warning{{"aholo.app_secret_file", filepath.Join(dir, "ah.secret") + " can be read by users other than its owner (mode 0640)", "chmod 600 " + filepath.Join(dir, "ah.secret")}}},
		{name: "webhook secret_file and http token_file", unixOnly: true,
			yaml: "http: {token_file: " + write("tok", 0o604) + "}\nnotify: {webhooks: [{url: 'https://h.example.com/', secret_file: " + write("wh.secret", 0o660) + "}]}\n",
			want: []Warning{
				{"notify.webhooks[0].secret_file", filepath.Join(dir, "wh.secret") + " can be read by users other than its owner (mode 0660)", "chmod 600 " + filepath.Join(dir, "wh.secret")},
				{"http.token_file", filepath.Join(dir, "tok") + " can be read by users other than its owner (mode 0604)", "chmod 600 " + filepath.Join(dir, "tok")},
			}},
		{name: "vendor endpoints over plain http", yaml: `realsee: {app_key: k, app_secret: s, endpoint: "http://gw.example.com"}
aholo: {app_key: k, app_secret: s, appuid: u, endpoint: "HTTP://10.0.0.7:8080/v2/aholo"}
`, want: []Warning{
			{"realsee.endpoint", "plain http:// to gw.example.com: the app key, signed requests and access tokens cross the network unencrypted", "use the https:// endpoint"},
			{"aholo.endpoint", "plain http:// to 10.0.0.7: the app key, signed requests and access tokens cross the network unencrypted", "use the https:// endpoint"},
		}},
		{name: "signed webhook over plain http", yaml: "notify: {webhooks: [{url: 'http://hooks.example.com/x?token=t0k', secret: s}]}\n",
			want: []Warning{{"notify.webhooks[0].url", "a signed webhook over plain http:// to hooks.example.com: results and any token in the URL cross the network unencrypted, and a captured request can be replayed", "use an https:// URL"}}},
		{name: "listener on every interface", yaml: "http: {listen: ':9180'}\n",
			want: []Warning{{"http.listen", "the status listener on every interface answers anyone who reaches it, without authentication; /status shows folder paths, links and errors", "set http.token_file (or http.token), or listen on 127.0.0.1"}}},
		{name: "listener on 0.0.0.0", yaml: "http: {listen: '0.0.0.0:9180'}\n",
			want: []Warning{{"http.listen", "the status listener on every interface answers anyone who reaches it, without authentication; /status shows folder paths, links and errors", "set http.token_file (or http.token), or listen on 127.0.0.1"}}},
		{name: "listener on a LAN address", yaml: "http: {listen: '192.168.1.5:9180'}\n",
			want: []Warning{{"http.listen", "the status listener on 192.168.1.5 answers anyone who reaches it, without authentication; /status shows folder paths, links and errors", "set http.token_file (or http.token), or listen on 127.0.0.1"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.unixOnly && runtime.GOOS == "windows" {
				t.Skip("file modes are Unix")
			}
			c, err := ParseEnv([]byte(minimal+tc.yaml), file, envMap(nil))
			if err != nil {
				t.Fatal(err)
			}
			got := c.Warnings()
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("warnings:\n got %q\nwant %q", got, tc.want)
			}
			for _, w := range got {
				if strings.Contains(w.Problem+w.Fix, "t0k") {
					t.Errorf("a warning shows the webhook URL's token: %q", w)
				}
			}
		})
	}
}
