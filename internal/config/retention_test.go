package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRetentionOffByDefault(t *testing.T) {
	c, err := ParseEnv([]byte("watches: [{dir: /srv/scans}]\n"), "/etc/scandrop/config.yaml", envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	r := c.RetentionOf(c.Watches[0])
	if r.On() || r.Action != RetentionDelete || r.Interval != Duration(time.Hour) {
		t.Errorf("default retention %+v: want off, delete, every 1h", r)
	}
}

// A watch's section overrides the top-level one key by key; the keys it
// leaves out come from the top level, an explicit 0 included.
func TestRetentionPerWatchOverride(t *testing.T) {
	y := `retention:
  done: 720h
  failed: 48h
  action: archive
  archive_dir: archive
  interval: 10m
watches:
  - dir: /srv/a
  - dir: /srv/b
    retention: {done: 24h, failed: 0s}
  - dir: /srv/c
    retention: {action: delete}
`
	c, err := ParseEnv([]byte(y), "/etc/scandrop/config.yaml", envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []Retention{
		{Done: Duration(720 * time.Hour), Failed: Duration(48 * time.Hour), Action: RetentionArchive, ArchiveDir: "/etc/scandrop/archive", Interval: Duration(10 * time.Minute)},
		{Done: Duration(24 * time.Hour), Failed: 0, Action: RetentionArchive, ArchiveDir: "/etc/scandrop/archive", Interval: Duration(10 * time.Minute)},
		{Done: Duration(720 * time.Hour), Failed: Duration(48 * time.Hour), Action: RetentionDelete, ArchiveDir: "/etc/scandrop/archive", Interval: Duration(10 * time.Minute)},
	}
	for i, w := range c.Watches {
		if got := c.RetentionOf(w); got != want[i] {
			t.Errorf("watch %d: %+v, want %+v", i, got, want[i])
		}
	}
}

func TestRetentionInvalid(t *testing.T) {
	for _, tc := range []struct{ y, want string }{
		{"retention: {done: -1h}\n", "retention.done: must not be negative"},
		{"retention: {failed: -1h}\n", "retention.failed: must not be negative"},
		{"retention: {action: shred}\n", `retention.action: "shred" is not one of delete, archive`},
		{"retention: {done: 1h, action: archive}\n", "action archive needs archive_dir"},
		{"retention: {interval: 0s}\n", "retention.interval: must be more than 0"},
		{"retention: {done: 1h, action: archive, archive_dir: /srv/scans/done/old}\n", "inside watches[0]'s done/"},
		{"retention: {done: 1h, action: archive, archive_dir: /srv/scans/inbox}\n", "inside watches[0]'s inbox/"},
		{"retention: {keep: 1h}\n", `unknown key "keep" in retention`},
	} {
		_, err := ParseEnv([]byte("watches: [{dir: /srv/scans}]\n"+tc.y), "c.yaml", envMap(nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.y, err, tc.want)
		}
	}
	y := "watches:\n  - dir: /srv/scans\n    retention: {interval: 5m}\n"
	if _, err := ParseEnv([]byte(y), "c.yaml", envMap(nil)); err == nil || !strings.Contains(err.Error(), "watches[0].retention.interval: interval is set in the top-level retention section only") {
		t.Errorf("per-watch interval: %v", err)
	}
	// An archive beside the watch's folders is fine.
	if _, err := ParseEnv([]byte("watches: [{dir: /srv/scans}]\nretention: {done: 1h, action: archive, archive_dir: /srv/scans/archive}\n"), "c.yaml", envMap(nil)); err != nil {
		t.Errorf("archive beside the watch folders: %v", err)
	}
}

// LoadOffline reads what status and retry need with no secret available:
// unset ${VAR}s and unreadable secret files in the sections it skips are
// no error, while the watches are read and checked as Load does.
func TestLoadOffline(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	y := `watches:
  - dir: scans
    settle: 2s
retention: {done: 1h}
realsee:
  app_key: ${SCANDROP_TEST_UNSET_KEY}
  app_secret_file: /nonexistent/realsee.secret
aholo:
  app_key: ${SCANDROP_TEST_UNSET_KEY}
  app_secret: ${SCANDROP_TEST_UNSET_SECRET}
  appuid: ${SCANDROP_TEST_UNSET_UID}
http:
  token: ${SCANDROP_TEST_UNSET_TOKEN}
notify:
  commands:
    - run: [hook]
      env: [SCANDROP_TEST_UNSET_ENV]
`
	if err := os.WriteFile(file, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(file); err == nil || !strings.Contains(err.Error(), "SCANDROP_TEST_UNSET_KEY") {
		t.Fatalf("Load: %v; want the unset variables named (the test's premise)", err)
	}
	c, err := LoadOffline(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Watches) != 1 || c.Watches[0].Dir != filepath.Join(dir, "scans") || c.Watches[0].Settle != Duration(2*time.Second) {
		t.Errorf("watches %+v", c.Watches)
	}
	if c.Realsee != nil || c.Aholo != nil || c.HTTP != nil || len(c.Notify.Commands) != 0 {
		t.Errorf("skipped sections were read: %+v %+v %+v %+v", c.Realsee, c.Aholo, c.HTTP, c.Notify)
	}
	if c.Retention.Done != Duration(time.Hour) {
		t.Errorf("retention %+v", c.Retention)
	}

	// What it reads is checked as strictly as ever.
	for _, tc := range []struct{ y, want string }{
		{"watches: [{dir: \"${SCANDROP_TEST_UNSET_DIR}\"}]\n", "${SCANDROP_TEST_UNSET_DIR} is not set"},
		{"watches: [{dir: /srv, settle: -1s}]\n", "settle: must not be negative"},
		{"watches: [{dir: /srv}]\nrealsee: {}\nbogus: 1\n", `unknown key "bogus"`},
	} {
		if err := os.WriteFile(file, []byte(tc.y), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOffline(file); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.y, err, tc.want)
		}
	}
}
