package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// envMap makes a lookup function for ParseEnv.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const minimal = "watches:\n  - dir: /srv/scans\n"

// wantLines checks that err has exactly the lines want, after replacing
// {file} and {dir} there, and that each line starts with the file name.
func wantLines(t *testing.T, err error, file, dir string, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want:\n%s", strings.Join(want, "\n"))
	}
	r := strings.NewReplacer("{file}", file, "{dir}", dir)
	var exp []string
	for _, w := range want {
		exp = append(exp, r.Replace(w))
	}
	got := strings.Split(err.Error(), "\n")
	for _, l := range got {
		if !strings.HasPrefix(l, file+":") {
			t.Errorf("error line does not start with %q: %q", file+":", l)
		}
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("error lines:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(exp, "\n      "))
	}
}

func TestParseErrors(t *testing.T) {
	env := map[string]string{
		"REALSEE_APP_KEY":    "rk",
		"REALSEE_APP_SECRET": "S3CR3T-from-env",
		"EMPTY":              "",
		"TEN":                "10",
	}
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		{"empty file", "", []string{`{file}: no watches; add at least one under "watches:" with a dir`}},
		{"only comments", "# nothing\n", []string{`{file}: no watches; add at least one under "watches:" with a dir`}},
		{"null document", "~\n", []string{`{file}: no watches; add at least one under "watches:" with a dir`}},
		{"empty watches", "watches: []\n", []string{`{file}:1: no watches; add at least one under "watches:" with a dir`}},
		{"null watches", "watches:\nmax_jobs: 3\n", []string{`{file}:1: no watches; add at least one under "watches:" with a dir`}},
		{
			"unknown key in watch",
			"watches:\n  - dir: /a\n    polll_interval: 10s\n",
			[]string{`{file}:3: unknown key "polll_interval" in watches[0] (known: dir, mode, poll_interval, settle, retention, account)`},
		},
		{
			"unknown top-level key",
			minimal + "watch: x\n",
			[]string{`{file}:3: unknown key "watch" at the top level (known: watches, max_jobs, crash_limit, state_dir, log, realsee, aholo, accounts, http, notify, retention)`},
		},
		{
			"unknown key in section",
			minimal + "log:\n  lvl: debug\n",
			[]string{`{file}:4: unknown key "lvl" in log (known: level, format)`},
		},
		{
			"unknown key in second watch",
			"watches:\n  - dir: /a\n  - dir: /b\n    setle: 1s\n",
			[]string{`{file}:4: unknown key "setle" in watches[1] (known: dir, mode, poll_interval, settle, retention, account)`},
		},
		{
			"Path is not a key",
			minimal + "path: /x\n",
			[]string{`{file}:3: unknown key "path" at the top level (known: watches, max_jobs, crash_limit, state_dir, log, realsee, aholo, accounts, http, notify, retention)`},
		},
		{
			"keys are case-sensitive",
			minimal + "Max_Jobs: 3\n",
			[]string{`{file}:3: unknown key "Max_Jobs" at the top level (known: watches, max_jobs, crash_limit, state_dir, log, realsee, aholo, accounts, http, notify, retention)`},
		},
		{
			"duplicate key",
			"watches:\n  - dir: /a\n    settle: 1s\n    settle: 2s\n",
			[]string{`{file}:4: duplicate key "settle" in watches[0] (first at line 3)`},
		},
		{
			"duplicate top-level key",
			minimal + "max_jobs: 1\nmax_jobs: 2\n",
			[]string{`{file}:4: duplicate key "max_jobs" at the top level (first at line 3)`},
		},
		{
			"merge key",
			"watches:\n  - &w\n    dir: /a\n  - <<: *w\n    dir: /b\n",
			[]string{`{file}:4: merge keys (<<) are not supported in watches[1]; write the keys out`},
		},
		{
			"bare number duration",
			"watches:\n  - dir: /a\n    poll_interval: 10\n",
			[]string{`{file}:3: watches[0].poll_interval: "10" is not a duration; write it with a unit, e.g. 10s`},
		},
		{
			"quoted bare number duration",
			"watches:\n  - dir: /a\n    settle: \"2.5\"\n",
			[]string{`{file}:3: watches[0].settle: "2.5" is not a duration; write it with a unit, e.g. 2.5s`},
		},
		{
			"bare number from env",
			"watches:\n  - dir: /a\n    settle: ${TEN}\n",
			[]string{`{file}:3: watches[0].settle: "10" is not a duration; write it with a unit, e.g. 10s`},
		},
		{
			"garbage duration",
			minimal + "realsee:\n  app_key: k\n  app_secret: s\n  timeout: two hours\n",
			[]string{`{file}:6: realsee.timeout: "two hours" is not a duration; write it like 10s, 5m or 2h`},
		},
		{
			"int type",
			minimal + "max_jobs: two\n",
			[]string{`{file}:3: max_jobs: "two" is not a whole number`},
		},
		{
			"float is not an int",
			minimal + "max_jobs: 1.5\n",
			[]string{`{file}:3: max_jobs: "1.5" is not a whole number`},
		},
		{
			"bool type",
			minimal + "aholo:\n  app_key: k\n  app_secret: s\n  appuid: u\n  download_assets: yes\n",
			[]string{`{file}:7: aholo.download_assets: "yes" is not a boolean; write true or false`},
		},
		{
			"size type",
			minimal + "realsee:\n  app_key: k\n  app_secret: s\n  part_size: 16XB\n",
			[]string{`{file}:6: realsee.part_size: "16XB" is not a size; write it like 16MiB, 8MB or a number of bytes`},
		},
		{
			"list where a mapping belongs",
			minimal + "log:\n  - debug\n",
			[]string{`{file}:4: log: expected a mapping (key: value lines), found a list (- item lines)`},
		},
		{
			"value where the watch list belongs",
			"watches: /srv/scans\n",
			[]string{`{file}:1: watches: expected a list (- item lines), found a single value`},
		},
		{
			"mapping where a value belongs",
			"watches:\n  - dir:\n      path: /a\n",
			[]string{`{file}:3: watches[0].dir: expected a single value, found a mapping (key: value lines)`},
		},
		{
			"scalar section does not show its value",
			minimal + "realsee: S3CR3T-inline\n",
			[]string{`{file}:3: realsee: expected a mapping (key: value lines), found a single value`},
		},
		{
			"top level is a list",
			"- dir: /a\n",
			[]string{`{file}:1: expected a mapping (key: value lines), found a list (- item lines)`},
		},
		{
			"yaml syntax error",
			"watches:\n  - dir: \"/a\n",
			[]string{`{file}:2: found unexpected end of stream`},
		},
		{
			"tab indentation",
			"watches:\n\t- dir: /a\n",
			[]string{`{file}:2: found character that cannot start any token (a tab? YAML indents with spaces only)`},
		},
		{
			"two documents",
			minimal + "---\nmax_jobs: 1\n",
			[]string{`{file}:3: a second YAML document (---) is not allowed`},
		},
		{
			"unset variable",
			minimal + "realsee:\n  app_key: ${REALSEE_APP_KEY}\n  app_secret: ${REALSEE_APP_SECRET_X}\n",
			[]string{`{file}:5: realsee.app_secret: ${REALSEE_APP_SECRET_X} is not set in the environment`},
		},
		{
			"unterminated variable",
			"watches:\n  - dir: /a/${HOME\n",
			[]string{`{file}:2: watches[0].dir: "${" without a closing "}"; write $$ for a literal $`},
		},
		{
			"invalid variable name",
			"watches:\n  - dir: /a/${HOME:-/x}\n",
			[]string{`{file}:2: watches[0].dir: ${HOME:-/x} is not a valid variable reference: write ${NAME} with letters, digits and _, or $$ for a literal $`},
		},
		{
			"bad mode, level and format",
			"watches:\n  - dir: /a\n    mode: inotify\nlog:\n  level: verbose\n  format: xml\n",
			[]string{
				`{file}:3: watches[0].mode: "inotify" is not one of auto, notify, poll`,
				`{file}:5: log.level: "verbose" is not one of debug, info, warn, error`,
				`{file}:6: log.format: "xml" is not one of text, json`,
			},
		},
		{
			"explicit zero durations and counts",
			"watches:\n  - dir: /a\n    poll_interval: 0s\n    settle: -1s\nmax_jobs: 0\n",
			[]string{
				`{file}:3: watches[0].poll_interval: must be more than 0 (got 0s)`,
				`{file}:4: watches[0].settle: must not be negative (got -1s)`,
				`{file}:5: max_jobs: must be at least 1 (got 0)`,
			},
		},
		{
			"vendor durations and concurrency",
			minimal + "realsee:\n  app_key: k\n  app_secret: s\n  poll_interval: -5s\n  timeout: 0s\n  upload_concurrency: 0\n" +
				"aholo:\n  app_key: k\n  app_secret: s\n  appuid: u\n  poll_interval: 0s\n  timeout: -1h\n  upload_concurrency: -2\n",
			[]string{
				`{file}:6: realsee.poll_interval: must be more than 0 (got -5s)`,
				`{file}:7: realsee.timeout: must be more than 0 (got 0s)`,
				`{file}:8: realsee.upload_concurrency: must be at least 1 (got 0)`,
				`{file}:13: aholo.poll_interval: must be more than 0 (got 0s)`,
				`{file}:14: aholo.timeout: must be more than 0 (got -1h0m0s)`,
				`{file}:15: aholo.upload_concurrency: must be at least 1 (got -2)`,
			},
		},
		{
			"missing dir",
			"watches:\n  - mode: poll\n  -\n",
			[]string{
				`{file}:2: watches[0]: dir is required`,
				`{file}:3: watches[1]: dir is required`,
			},
		},
		{
			"dir from an empty variable",
			"watches:\n  - dir: ${EMPTY}\n",
			[]string{`{file}:2: watches[0]: dir is required`},
		},
		{
			"duplicate dirs after cleaning and resolving",
			"watches:\n  - dir: /srv/scans\n  - dir: /srv/./scans/\n  - dir: scans\n  - dir: ./x/../scans\n",
			[]string{
				`{file}:3: watches[1].dir: /srv/scans is already watched by watches[0]`,
				`{file}:5: watches[3].dir: {dir}/scans is already watched by watches[2]`,
			},
		},
		{
			"empty vendor sections",
			minimal + "realsee:\naholo: {}\n",
			[]string{
				`{file}:3: realsee: app_key is required (or remove the realsee section if you do not use it)`,
				`{file}:3: realsee: app_secret or app_secret_file is required (or remove the realsee section if you do not use it)`,
				`{file}:4: aholo: app_key is required (or remove the aholo section if you do not use it)`,
				`{file}:4: aholo: app_secret or app_secret_file is required (or remove the aholo section if you do not use it)`,
				`{file}:4: aholo: appuid is required (or remove the aholo section if you do not use it)`,
			},
		},
		{
			"unset variable is reported once, not again as missing",
			minimal + "realsee:\n  app_key: k\n  app_secret: ${NOPE}\n",
			[]string{`{file}:5: realsee.app_secret: ${NOPE} is not set in the environment`},
		},
		{
			"endpoints",
			minimal + "realsee:\n  endpoint: app-gateway.realsee.cn\n  app_key: k\n  app_secret: s\n" +
				"aholo:\n  endpoint: ftp://openapi.kujiale.com\n  app_key: k\n  app_secret: s\n  appuid: u\n",
			[]string{
				`{file}:4: realsee.endpoint: "app-gateway.realsee.cn" is not an absolute http(s) URL, e.g. https://host/path`,
				`{file}:8: aholo.endpoint: "ftp://openapi.kujiale.com" is not an absolute http(s) URL, e.g. https://host/path`,
			},
		},
		{
			"endpoint with credentials hides them",
			minimal + "realsee:\n  endpoint: https://user:S3CR3T-pw@gw.example\n  app_key: k\n  app_secret: s\n",
			[]string{`{file}:4: realsee.endpoint: must not contain a user or password`},
		},
		{
			"endpoint with query",
			minimal + "realsee:\n  endpoint: https://gw.example/?a=b\n  app_key: k\n  app_secret: s\n",
			[]string{`{file}:4: realsee.endpoint: "https://gw.example/?a=b" must not have a query or fragment`},
		},
		{
			"part size bounds",
			minimal + "realsee:\n  app_key: k\n  app_secret: s\n  part_size: 4MiB\n",
			[]string{`{file}:6: realsee.part_size: 4MiB is outside 5MiB..5GiB`},
		},
		{
			"part size above the maximum",
			minimal + "realsee:\n  app_key: k\n  app_secret: s\n  part_size: 6GB\n",
			[]string{`{file}:6: realsee.part_size: 6GB is outside 5MiB..5GiB`},
		},
		{
			"both secret and secret file",
			minimal + "realsee:\n  app_key: k\n  app_secret: ${REALSEE_APP_SECRET}\n  app_secret_file: secret.txt\n",
			[]string{`{file}:6: realsee: app_secret and app_secret_file are both set; keep one`},
		},
		{
			"missing secret file",
			minimal + "aholo:\n  app_key: k\n  app_secret_file: nope/aholo.secret\n  appuid: u\n",
			[]string{`{file}:5: aholo.app_secret_file: cannot read {dir}/nope/aholo.secret: no such file or directory`},
		},
		{
			"empty secret file",
			minimal + "aholo:\n  app_key: k\n  app_secret_file: empty.secret\n  appuid: u\n",
			[]string{`{file}:5: aholo.app_secret_file: {dir}/empty.secret is empty`},
		},
		{
			"keys are not expanded",
			minimal + "${KEY}: 1\n",
			[]string{`{file}:3: unknown key "${KEY}" at the top level (known: watches, max_jobs, crash_limit, state_dir, log, realsee, aholo, accounts, http, notify, retention)`},
		},
		{
			"a key that is not a name",
			minimal + "? [a, b]\n: 1\n",
			[]string{`{file}:3: a key at the top level is a list (- item lines); keys are plain names`},
		},
		{
			"empty and numeric variable names",
			"watches:\n  - dir: /${}\n  - dir: /${1X}\n",
			[]string{
				`{file}:2: watches[0].dir: ${} is not a valid variable reference: write ${NAME} with letters, digits and _, or $$ for a literal $`,
				`{file}:3: watches[1].dir: ${1X} is not a valid variable reference: write ${NAME} with letters, digits and _, or $$ for a literal $`,
			},
		},
		{
			"unparsable endpoint",
			minimal + "realsee:\n  endpoint: \"https://gw example\"\n  app_key: k\n  app_secret: s\n",
			[]string{`{file}:4: realsee.endpoint: not a URL: invalid character " " in host name`},
		},
		{
			"endpoint with fragment",
			minimal + "aholo:\n  endpoint: https://gw.example/v2#x\n  app_key: k\n  app_secret: s\n  appuid: u\n",
			[]string{`{file}:4: aholo.endpoint: "https://gw.example/v2#x" must not have a query or fragment`},
		},
		{
			"several problems, in line order",
			"max_jobs: x\nwatches:\n  - dir: /a\n    mode: fast\n    extra: 1\nlog:\n  level: loud\n",
			[]string{
				`{file}:1: max_jobs: "x" is not a whole number`,
				`{file}:4: watches[0].mode: "fast" is not one of auto, notify, poll`,
				`{file}:5: unknown key "extra" in watches[0] (known: dir, mode, poll_interval, settle, retention, account)`,
				`{file}:7: log.level: "loud" is not one of debug, info, warn, error`,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "empty.secret"), []byte("\r\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, "config.yaml")
			c, err := ParseEnv([]byte(tc.yaml), file, envMap(env))
			if c != nil {
				t.Errorf("config returned along with the error")
			}
			wantLines(t, err, file, dir, tc.want)
			if err != nil && strings.Contains(err.Error(), "S3CR3T") {
				t.Errorf("error contains a secret: %v", err)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	y := minimal + "realsee:\n  app_key: k\n  app_secret: s\naholo:\n  app_key: k\n  app_secret: s\n  appuid: u\n"
	c, err := ParseEnv([]byte(y), file, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	video := 1
	want := &Config{
		Watches: []Watch{{Dir: filepath.Clean("/srv/scans"), Mode: "auto", PollInterval: Duration(10 * time.Second), Settle: Duration(10 * time.Second)}},
		MaxJobs: 2, CrashLimit: 3,
		Log: Log{Level: "info", Format: "text"},
		Vendors: Vendors{
			Realsee: &Realsee{
				Endpoint: "https://app-gateway.realsee.cn", AppKey: "k", AppSecret: "s",
				PollInterval: Duration(5 * time.Second), Timeout: Duration(2 * time.Hour),
				PartSize: 16 * MiB, UploadConcurrency: 4,
			},
			Aholo: &Aholo{
				Endpoint: "https://openapi.kujiale.com/v2/aholo", AppKey: "k", AppSecret: "s", AppUID: "u",
				PollInterval: Duration(5 * time.Second), Timeout: Duration(6 * time.Hour),
				UploadConcurrency: 4, VideoType: &video,
			},
		},
		Retention: Retention{Action: "delete", Interval: Duration(time.Hour)},
		Path:      file,
	}
	if filepath.IsAbs("/srv/scans") {
		if !reflect.DeepEqual(c, want) {
			t.Errorf("got  %+v\nwant %+v", c, want)
		}
	}

	// Absent sections stay nil.
	c, err = ParseEnv([]byte(minimal), file, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Realsee != nil || c.Aholo != nil {
		t.Errorf("absent vendor sections: realsee=%v aholo=%v, want nil", c.Realsee, c.Aholo)
	}
}

// TestParseValues checks values that are accepted, each against the field it
// lands in.
func TestParseValues(t *testing.T) {
	env := map[string]string{
		"REALSEE_APP_SECRET": `p"a:s's #w$rd`,
		"SCANS":              "/data/scans",
		"JOBS":               "5",
		"EMPTY":              "",
		"NESTED":             "${SCANS}",
	}
	realsee := minimal + "realsee:\n  app_key: k\n  app_secret: s\n"
	aholo := minimal + "aholo:\n  app_key: k\n  app_secret: s\n  appuid: u\n"
	cases := []struct {
		name  string
		yaml  string
		check func(c *Config) (got, want any)
	}{
		{"explicit settle 0s is kept", "watches:\n  - dir: /a\n    settle: 0s\n",
			func(c *Config) (any, any) { return c.Watches[0].Settle, Duration(0) }},
		{"bare 0 is a duration", "watches:\n  - dir: /a\n    settle: 0\n",
			func(c *Config) (any, any) { return c.Watches[0].Settle, Duration(0) }},
		{"empty settle takes the default", "watches:\n  - dir: /a\n    settle:\n",
			func(c *Config) (any, any) { return c.Watches[0].Settle, Duration(10 * time.Second) }},
		{"empty string takes the default", "watches:\n  - dir: /a\n    mode: \"\"\n",
			func(c *Config) (any, any) { return c.Watches[0].Mode, "auto" }},
		{"empty variable takes the default", minimal + "max_jobs: ${EMPTY}\n",
			func(c *Config) (any, any) { return c.MaxJobs, 2 }},
		{"compound duration", "watches:\n  - dir: /a\n    poll_interval: 1m30s\n",
			func(c *Config) (any, any) { return c.Watches[0].PollInterval, Duration(90 * time.Second) }},
		{"mode poll", "watches:\n  - dir: /a\n    mode: poll\n",
			func(c *Config) (any, any) { return c.Watches[0].Mode, "poll" }},
		{"int from env", minimal + "max_jobs: ${JOBS}\n",
			func(c *Config) (any, any) { return c.MaxJobs, 5 }},
		{"quoted int", minimal + "max_jobs: \"3\"\n",
			func(c *Config) (any, any) { return c.MaxJobs, 3 }},
		{"dir from env", "watches:\n  - dir: ${SCANS}/team-a\n",
			func(c *Config) (any, any) { return c.Watches[0].Dir, filepath.Clean("/data/scans/team-a") }},
		{"expanded value is not expanded again", "watches:\n  - dir: /x/${NESTED}\n",
			func(c *Config) (any, any) { return c.Watches[0].Dir, filepath.Clean("/x/${SCANS}") }},
		{"secret with quotes, colon and # from env", minimal + "realsee:\n  app_key: k\n  app_secret: ${REALSEE_APP_SECRET}\n",
			func(c *Config) (any, any) { return c.Realsee.AppSecret.Reveal(), `p"a:s's #w$rd` }},
		{"$$ is a literal $, a lone $ stays", minimal + "realsee:\n  app_key: a$$b$c$\n  app_secret: s\n",
			func(c *Config) (any, any) { return c.Realsee.AppKey, "a$b$c$" }},
		{"$${X} is not a reference", minimal + "realsee:\n  app_key: $${NOPE}\n  app_secret: s\n",
			func(c *Config) (any, any) { return c.Realsee.AppKey, "${NOPE}" }},
		{"keys are not expanded, numbers are strings", minimal + "realsee:\n  app_key: 0123\n  app_secret: 1e3\n",
			func(c *Config) (any, any) { return c.Realsee.AppKey + "/" + c.Realsee.AppSecret.Reveal(), "0123/1e3" }},
		{"global endpoint, trailing slash trimmed", realsee + "  endpoint: https://app-gateway.realsee.ai/\n",
			func(c *Config) (any, any) { return c.Realsee.Endpoint, "https://app-gateway.realsee.ai" }},
		{"http endpoint with port and path", aholo + "  endpoint: http://127.0.0.1:8080/v2/aholo//\n",
			func(c *Config) (any, any) { return c.Aholo.Endpoint, "http://127.0.0.1:8080/v2/aholo" }},
		{"part size in MB", realsee + "  part_size: 8MB\n",
			func(c *Config) (any, any) { return c.Realsee.PartSize, ByteSize(8e6) }},
		{"part size in bytes", realsee + "  part_size: 5242880\n",
			func(c *Config) (any, any) { return c.Realsee.PartSize, 5 * MiB }},
		{"part size at the maximum", realsee + "  part_size: 5 GiB\n",
			func(c *Config) (any, any) { return c.Realsee.PartSize, 5 * GiB }},
		{"video type 0 is kept", aholo + "  video_type: 0\n",
			func(c *Config) (any, any) { return *c.Aholo.VideoType, 0 }},
		{"empty video type takes the default", aholo + "  video_type: ~\n",
			func(c *Config) (any, any) { return *c.Aholo.VideoType, 1 }},
		{"download assets", aholo + "  download_assets: true\n",
			func(c *Config) (any, any) { return c.Aholo.DownloadAssets, true }},
		{"log json debug", minimal + "log:\n  level: debug\n  format: json\n",
			func(c *Config) (any, any) { return c.Log, Log{Level: "debug", Format: "json"} }},
		{"flow style", "{watches: [{dir: /a, mode: notify}], max_jobs: 1}\n",
			func(c *Config) (any, any) { return c.Watches[0].Mode + "/" + c.Log.Level, "notify/info" }},
		{"aliases", "watches:\n  - dir: /a\n    settle: &s 3s\n  - dir: /b\n    settle: *s\n",
			func(c *Config) (any, any) { return c.Watches[1].Settle, Duration(3 * time.Second) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "config.yaml")
			c, err := ParseEnv([]byte(tc.yaml), file, envMap(env))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := tc.check(c); !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}
}

func TestRelativePaths(t *testing.T) {
	dir := t.TempDir()
	etc := filepath.Join(dir, "etc")
	if err := os.MkdirAll(filepath.Join(etc, "secrets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "secrets", "realsee"), []byte("from-file\r\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(etc, "config.yaml")
	y := "watches:\n  - dir: scans\n  - dir: ../shared/scans/\n" +
		"realsee:\n  app_key: k\n  app_secret_file: secrets/realsee\n"
	if err := os.WriteFile(file, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}

	// The working directory must not matter.
	t.Chdir(t.TempDir())
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(etc, "scans"); c.Watches[0].Dir != want {
		t.Errorf("watches[0].dir = %q, want %q", c.Watches[0].Dir, want)
	}
	if want := filepath.Join(dir, "shared", "scans"); c.Watches[1].Dir != want {
		t.Errorf("watches[1].dir = %q, want %q", c.Watches[1].Dir, want)
	}
	if got := c.Realsee.AppSecret.Reveal(); got != "from-file" {
		t.Errorf("secret from file = %q, want %q", got, "from-file")
	}
	if want := filepath.Join(etc, "secrets", "realsee"); c.Realsee.AppSecretFile != want {
		t.Errorf("app_secret_file = %q, want %q", c.Realsee.AppSecretFile, want)
	}
	if c.Path != file {
		t.Errorf("Path = %q, want %q", c.Path, file)
	}

	// A relative config path is relative to the working directory, and
	// errors name it as given.
	t.Chdir(dir)
	c, err = Load(filepath.Join("etc", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != file || c.Watches[0].Dir != filepath.Join(etc, "scans") {
		t.Errorf("Path = %q, dir = %q", c.Path, c.Watches[0].Dir)
	}
	_, err = Load(filepath.Join("etc", "missing.yaml"))
	if want := filepath.Join("etc", "missing.yaml") + ": "; err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want an fs.ErrNotExist starting with %q", err, want)
	}
}

func TestLoadUsesEnvironment(t *testing.T) {
	t.Setenv("SCANDROP_TEST_SECRET", "env-secret")
	file := filepath.Join(t.TempDir(), "config.yaml")
	y := minimal + "aholo:\n  app_key: k\n  app_secret: ${SCANDROP_TEST_SECRET}\n  appuid: u\n"
	if err := os.WriteFile(file, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Aholo.AppSecret.Reveal(); got != "env-secret" {
		t.Errorf("secret = %q", got)
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	if len(c.Watches) != 0 || c.Path != "" {
		t.Errorf("Default has watches %v, path %q", c.Watches, c.Path)
	}
	if c.MaxJobs != 2 || c.Log.Level != "info" || c.Log.Format != "text" {
		t.Errorf("Default top level: %+v", c)
	}
	if c.Realsee != nil || c.Aholo != nil {
		t.Errorf("Default has vendor sections: %+v %+v", c.Realsee, c.Aholo)
	}

	// Watches added by hand get their defaults from SetDefaults, and what
	// was set stays.
	c.Watches = append(c.Watches, Watch{Dir: "/x", Mode: ModePoll})
	c.SetDefaults()
	if w := c.Watches[0]; w.Mode != ModePoll || w.PollInterval != Duration(10*time.Second) || w.Settle != Duration(10*time.Second) {
		t.Errorf("watch after SetDefaults: %+v", w)
	}

	// Sections added by hand get the same defaults as parsed ones.
	c.Realsee, c.Aholo = &Realsee{PartSize: 8 * MiB}, &Aholo{}
	c.SetDefaults()
	p, err := ParseEnv([]byte(minimal+"realsee:\n  app_key: k\n  app_secret: s\n  part_size: 8MiB\naholo:\n  app_key: k\n  app_secret: s\n  appuid: u\n"), "config.yaml", envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	p.Realsee.AppKey, p.Realsee.AppSecret = "", ""
	p.Aholo.AppKey, p.Aholo.AppSecret, p.Aholo.AppUID = "", "", ""
	if !reflect.DeepEqual(p.Realsee, c.Realsee) || !reflect.DeepEqual(p.Aholo, c.Aholo) {
		t.Errorf("parsed %+v %+v\nby hand %+v %+v", p.Realsee, p.Aholo, c.Realsee, c.Aholo)
	}
}

func TestStateDir(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	c, err := ParseEnv([]byte(minimal+"state_dir: state\n"), path, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "state"); c.StateDir != want || c.StateDirectory() != want {
		t.Errorf("state_dir %q (%q), want %q resolved against the config's folder", c.StateDir, c.StateDirectory(), want)
	}

	// Inside a watch dir, drops could read the key.
	for _, sd := range []string{"/srv/scans", "/srv/scans/inbox/.state", "/srv/scans/state"} {
		_, err = ParseEnv([]byte(minimal+"state_dir: "+sd+"\n"), path, envMap(nil))
		wantLines(t, err, path, dir, []string{"{file}:3: state_dir: " + sd + " is inside watches[0].dir /srv/scans, where drops could read the claim key and forge journals; use a private folder outside every watch"})
	}
	if _, err := ParseEnv([]byte(minimal+"state_dir: /srv/scans-state\n"), path, envMap(nil)); err != nil {
		t.Errorf("a sibling of the watch dir: %v", err)
	}

	// The default: systemd's StateDirectory=, else the user's config folder.
	c, err = ParseEnv([]byte(minimal), path, envMap(nil))
	if err != nil || c.StateDir != "" {
		t.Fatalf("default state_dir %q, %v", c.StateDir, err)
	}
	t.Setenv("STATE_DIRECTORY", "/var/lib/scandrop:/var/lib/other")
	if got := c.StateDirectory(); got != "/var/lib/scandrop" {
		t.Errorf("with STATE_DIRECTORY: %q", got)
	}
	t.Setenv("STATE_DIRECTORY", "")
	if ucd, err := os.UserConfigDir(); err == nil {
		if got := c.StateDirectory(); got != filepath.Join(ucd, "scandrop") {
			t.Errorf("without STATE_DIRECTORY: %q", got)
		}
	}
}
