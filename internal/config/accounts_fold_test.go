package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Account names are compared ignoring case: "Default" is reserved like
// "default", and "Acme" beside "acme" is a duplicate. A watch still names
// its account in its own spelling.
func TestAccountsNamesFoldCase(t *testing.T) {
	_, err := parseAccounts(t, `watches:
  - dir: own
realsee: {app_key: k, app_secret: s}
accounts:
  - name: Default
    realsee: {app_key: k, app_secret: s}
  - name: acme
    realsee: {app_key: k, app_secret: s}
  - name: Acme
    realsee: {app_key: k, app_secret: s}
`)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{`accounts[0].name: "Default" names the top-level sections`, `accounts[2].name: "Acme" is already the name of accounts[1] ("acme"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := parseAccounts(t, `watches:
  - dir: own
    account: Acme
realsee: {app_key: k, app_secret: s}
accounts:
  - name: Acme
    realsee: {app_key: k, app_secret: s}
`); err != nil {
		t.Errorf("a mixed-case name refused: %v", err)
	}
}

// Two watches on one folder, one of them through a symlink, are refused,
// naming both: they would race for its drops, each with its own account.
func TestWatchesSameFolderThroughALink(t *testing.T) {
	base := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, "w1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("w1", filepath.Join(base, "w1link")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	if err := os.Mkdir(filepath.Join(base, "w1", "nested"), 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := `watches:
  - dir: w1
  - dir: w1link
    account: acme
  - dir: w1/nested
realsee: {app_key: k, app_secret: s}
accounts:
  - name: acme
    realsee: {app_key: k, app_secret: s}
`
	_, err := ParseEnv([]byte(yaml), filepath.Join(base, "config.yaml"), func(string) (string, bool) { return "", false })
	if err == nil {
		t.Fatal("two watches on one folder accepted")
	}
	want := "watches[1].dir: " + filepath.Join(base, "w1link") + " is the same folder as watches[0].dir " + filepath.Join(base, "w1")
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error lacks %q:\n%v", want, err)
	}
	if strings.Contains(err.Error(), "watches[2]") {
		t.Errorf("a nested watch refused:\n%v", err)
	}
}
