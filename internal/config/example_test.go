package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
	"time"
)

// The example at the repository root must stay valid and complete.
func TestExampleFile(t *testing.T) {
	path := filepath.Join("..", "..", "config.yaml.example")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"REALSEE_APP_KEY":    "rk",
		"REALSEE_APP_SECRET": "rs",
		"AHOLO_APP_KEY":      "ak",
		"AHOLO_APP_SECRET":   "as",
		"AHOLO_APPUID":       "au",
	}
	c, err := ParseEnv(data, path, envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Watches) != 1 || c.Realsee == nil || c.Aholo == nil {
		t.Fatalf("example: %d watches, realsee %v, aholo %v", len(c.Watches), c.Realsee, c.Aholo)
	}
	if c.Realsee.AppKey != "rk" || c.Realsee.AppSecret.Reveal() != "rs" || c.Aholo.AppUID != "au" || c.Aholo.AppSecret.Reveal() != "as" {
		t.Errorf("variables not expanded: %+v %+v", c.Realsee, c.Aholo)
	}

	// The values it shows are the defaults, so that copying it changes
	// nothing but the credentials and the folder.
	d := Default()
	d.Watches = []Watch{{Dir: c.Watches[0].Dir}}
	d.Realsee, d.Aholo = &Realsee{}, &Aholo{}
	d.SetDefaults()
	d.Path = c.Path
	d.Realsee.AppKey, d.Realsee.AppSecret = "rk", "rs"
	d.Aholo.AppKey, d.Aholo.AppSecret, d.Aholo.AppUID = "ak", "as", "au"
	if !reflect.DeepEqual(c, d) {
		t.Errorf("example values differ from the defaults:\n got %+v %+v %+v\nwant %+v %+v %+v", c, c.Realsee, c.Aholo, d, d.Realsee, d.Aholo)
	}
	if c.Watches[0].Settle != Duration(10*time.Second) {
		t.Errorf("settle %v", c.Watches[0].Settle)
	}

	// Every key appears, set or commented out.
	for _, key := range allKeys(reflect.TypeFor[Config]()) {
		if !regexp.MustCompile(`(?m)^[ #-]*` + regexp.QuoteMeta(key) + `:`).Match(data) {
			t.Errorf("config.yaml.example does not show %q", key)
		}
	}
	for _, s := range []string{"https://app-gateway.realsee.cn", "https://app-gateway.realsee.ai", "app_secret_file:"} {
		if !regexp.MustCompile(regexp.QuoteMeta(s)).Match(data) {
			t.Errorf("config.yaml.example does not mention %s", s)
		}
	}
}

// allKeys returns the YAML keys of t and of the structs below it.
func allKeys(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	keys, index := fieldsOf(t)
	all := append([]string(nil), keys...)
	for _, k := range keys {
		all = append(all, allKeys(t.FieldByIndex(index[k]).Type)...)
	}
	return all
}
