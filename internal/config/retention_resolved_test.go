package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// archive_dir is checked against the watches by where it really is: the
// watch folder itself, a symlink to its done/ or to the watch, and a
// parent of a watch are refused; a real folder elsewhere is fine.
func TestArchiveDirResolved(t *testing.T) {
	base := t.TempDir()
	watch := filepath.Join(base, "scans")
	for _, d := range []string{"done", "failed"} {
		if err := os.MkdirAll(filepath.Join(watch, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(base, "elsewhere"), 0o755)
	os.Symlink(filepath.Join(watch, "done"), filepath.Join(base, "to-done"))
	os.Symlink(watch, filepath.Join(base, "to-watch"))
	for _, tc := range []struct{ archive, want string }{
		{watch, "is watches[0]'s folder itself"},
		{watch + "/", "is watches[0]'s folder itself"},
		{filepath.Join(base, "to-watch"), "is watches[0]'s folder itself"},
		{filepath.Join(base, "to-done"), "inside watches[0]'s done/"},
		{filepath.Join(base, "to-done", "not-yet"), "inside watches[0]'s done/"},
		{filepath.Join(base, "to-watch", "failed"), "inside watches[0]'s failed/"},
		{base, "watches[0] (" + watch + ") is inside " + base},
	} {
		y := "watches: [{dir: " + watch + "}]\nretention: {done: 1h, action: archive, archive_dir: " + tc.archive + "}\n"
		_, err := ParseEnv([]byte(y), "c.yaml", envMap(nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("archive_dir %s: error %v, want one containing %q", tc.archive, err, tc.want)
		}
	}
	y := "watches: [{dir: " + watch + "}]\nretention: {done: 1h, action: archive, archive_dir: " + filepath.Join(base, "elsewhere") + "}\n"
	if _, err := ParseEnv([]byte(y), "c.yaml", envMap(nil)); err != nil {
		t.Errorf("archive elsewhere: %v", err)
	}
}
