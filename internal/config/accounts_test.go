package config

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// accountsYAML is a config with the default account and acme, each with
// both vendors; acme's secrets come from a file and from ${ACME_AH}.
const accountsYAML = `watches:
  - dir: own
  - dir: acme
    account: acme
realsee: {app_key: rk, app_secret: own-rs-secret}
aholo: {app_key: ak, app_secret: own-ah-secret, appuid: u}
accounts:
  - name: acme
    realsee:
      app_key: acme-rk
      app_secret_file: acme.secret
      endpoint: https://app-gateway.realsee.ai/
    aholo: {app_key: acme-ak, app_secret: "${ACME_AH}", appuid: acme-u, timeout: 1h}
`

func parseAccounts(t *testing.T, yaml string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "acme.secret"), []byte("acme-rs-secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ACME_AH": "acme-ah-secret"}
	return ParseEnv([]byte(yaml), filepath.Join(dir, "config.yaml"), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
}

// An account's sections are read like the top-level ones: defaults,
// secret files, ${VAR}, endpoint normalization; each watch finds its own.
func TestAccountsParse(t *testing.T) {
	c, err := parseAccounts(t, accountsYAML)
	if err != nil {
		t.Fatal(err)
	}
	acme := c.AccountVendors(c.Watches[1].Account)
	if acme == nil || acme.Realsee == nil || acme.Aholo == nil {
		t.Fatalf("acme: %+v", acme)
	}
	if got := acme.Realsee.AppSecret.Reveal(); got != "acme-rs-secret" {
		t.Errorf("acme realsee secret from its file = %q", got)
	}
	if got := acme.Aholo.AppSecret.Reveal(); got != "acme-ah-secret" {
		t.Errorf("acme aholo secret from ${ACME_AH} = %q", got)
	}
	if acme.Realsee.Endpoint != "https://app-gateway.realsee.ai" || acme.Realsee.PartSize != defaultPartSize {
		t.Errorf("acme realsee not normalized/defaulted: %+v", acme.Realsee)
	}
	if acme.Aholo.Timeout.String() != "1h0m0s" || c.Aholo.Timeout != defaultAholoTimeout {
		t.Errorf("timeouts: acme %s, default %s", acme.Aholo.Timeout, c.Aholo.Timeout)
	}
	if own := c.AccountVendors(c.Watches[0].Account); own != &c.Vendors {
		t.Error("a watch without account does not use the top-level sections")
	}
	if c.AccountVendors("nope") != nil {
		t.Error("an unknown account has sections")
	}
	if got := acme.Section("aholo"); got != acme.Aholo {
		t.Errorf("Section(aholo) = %v", got)
	}
	if !slices.Equal(VendorNames(), []string{"realsee", "aholo"}) {
		t.Errorf("VendorNames = %v", VendorNames())
	}
}

// Every account's secrets are scandrop's secrets: refused in hooks, and
// listed by Secrets (the redaction list).
func TestAccountsSecretsAreSecrets(t *testing.T) {
	c, err := parseAccounts(t, accountsYAML+`notify:
  commands:
    - run: [hook, acme-rs-secret]
      env: ["X=${ACME_AH}"]
`)
	if err == nil {
		t.Fatal("a hook handed account secrets was accepted")
	}
	for _, want := range []string{"notify.commands[0].run[1]: holds accounts[0].realsee.app_secret", "notify.commands[0].env[0]: X holds accounts[0].aholo.app_secret"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	for _, s := range []string{"acme-rs-secret", "acme-ah-secret"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("the error shows a secret: %v", err)
		}
	}
	c, err = parseAccounts(t, accountsYAML)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range c.Secrets() {
		got = append(got, s.Reveal())
	}
	for _, want := range []string{"own-rs-secret", "own-ah-secret", "acme-rs-secret", "acme-ah-secret"} {
		if !slices.Contains(got, want) {
			t.Errorf("Secrets() lacks %s", want)
		}
	}
}

// An account's risky settings are warned about like the top level's.
func TestAccountsWarnings(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes: Unix only")
	}
	c, err := parseAccounts(t, strings.Replace(accountsYAML, "endpoint: https://app-gateway.realsee.ai/", "endpoint: http://gw.example.com", 1))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, w := range c.Warnings() {
		keys = append(keys, w.Key)
	}
	for _, want := range []string{"accounts[0].realsee.app_secret_file", "accounts[0].realsee.endpoint"} {
		if !slices.Contains(keys, want) {
			t.Errorf("no warning for %s (got %v)", want, keys)
		}
	}
}

// Each problem with accounts is one line naming the key.
func TestAccountsErrors(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		want       []string
	}{
		{"a watch's account lacks a vendor configured elsewhere", `watches:
  - dir: acme
    account: acme
realsee: {app_key: k, app_secret: s}
accounts:
  - name: acme
    aholo: {app_key: k, app_secret: s, appuid: u}
`, []string{`watches[0] (` + "{dir}" + `/acme): account "acme" (accounts[0]) has no realsee: section, but realsee is configured elsewhere`}},
		{"the default lacks a vendor an account has", `watches:
  - dir: own
aholo: {app_key: k, app_secret: s, appuid: u}
accounts:
  - name: acme
    realsee: {app_key: k, app_secret: s}
    aholo: {app_key: k, app_secret: s, appuid: u}
`, []string{`watches[0] ({dir}/own): the default account (the top-level sections) has no realsee: section`}},
		{"reserved, bad and missing names", `watches:
  - dir: own
realsee: {app_key: k, app_secret: s}
accounts:
  - name: default
    realsee: {app_key: k, app_secret: s}
  - name: ../x
    realsee: {app_key: k, app_secret: s}
  - realsee: {app_key: k, app_secret: s}
`, []string{`accounts[0].name: "default" names the top-level sections`, `accounts[1].name: "../x" is not a valid account name`, `accounts[2]: name is required`}},
		{"an account section is validated like the top level's", `watches:
  - dir: own
    account: acme
accounts:
  - name: acme
    realsee: {app_key: k, poll_interval: 0s}
`, []string{`accounts[0].realsee: app_secret or app_secret_file is required`, `accounts[0].realsee.poll_interval: must be more than 0`}},
		{"unknown key in an account", `watches:
  - dir: own
accounts:
  - name: acme
    realsee: {app_key: k, app_secret: s}
    realse: {}
`, []string{`unknown key "realse" in accounts[0] (known: name, realsee, aholo)`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseAccounts(t, c.yaml)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				found := false
				for _, line := range strings.Split(err.Error(), "\n") {
					// Each line starts with the file's path; {dir} is its folder.
					if i := strings.Index(line, "config.yaml"); i >= 0 {
						dir := filepath.Dir(line[:i+len("config.yaml")])
						found = found || strings.Contains(line, strings.ReplaceAll(w, "{dir}", dir))
					}
				}
				if !found {
					t.Errorf("no line says %q:\n%v", w, err)
				}
			}
		})
	}
}
