package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// isolate points the working directory and the user config directory at
// empty temporary folders and returns them.
func isolate(t *testing.T) (cwd, userDir string) {
	t.Helper()
	cwd, home := t.TempDir(), t.TempDir()
	t.Chdir(cwd)
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("AppData", filepath.Join(home, "AppData"))
	t.Setenv("ProgramData", filepath.Join(home, "ProgramData"))
	base, err := os.UserConfigDir()
	if err != nil {
		t.Fatal(err)
	}
	return cwd, filepath.Join(base, "scandrop")
}

func write(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(minimal), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFind(t *testing.T) {
	if _, err := os.Stat("/etc/scandrop/config.yaml"); runtime.GOOS != "windows" && err == nil {
		t.Skip("/etc/scandrop/config.yaml exists on this machine")
	}
	t.Run("working directory first", func(t *testing.T) {
		cwd, user := isolate(t)
		write(t, filepath.Join(cwd, "config.yaml"))
		write(t, filepath.Join(user, "config.yaml"))
		got, err := Find()
		if err != nil || got != filepath.Join(cwd, "config.yaml") {
			t.Errorf("Find() = %q, %v", got, err)
		}
	})
	t.Run("then the user config dir", func(t *testing.T) {
		_, user := isolate(t)
		write(t, filepath.Join(user, "config.yaml"))
		got, err := Find()
		if err != nil || got != filepath.Join(user, "config.yaml") {
			t.Errorf("Find() = %q, %v", got, err)
		}
	})
	t.Run("a directory in the way is an error", func(t *testing.T) {
		cwd, _ := isolate(t)
		if err := os.Mkdir(filepath.Join(cwd, "config.yaml"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := Find()
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Find() error = %v", err)
		}
	})
	t.Run("none lists where it looked", func(t *testing.T) {
		cwd, user := isolate(t)
		_, err := Find()
		if err == nil {
			t.Fatal("no error")
		}
		want := []string{filepath.Join(cwd, "config.yaml"), filepath.Join(user, "config.yaml")}
		if runtime.GOOS == "windows" {
			want = append(want, filepath.Join(os.Getenv("ProgramData"), "scandrop", "config.yaml"))
		} else {
			want = append(want, "/etc/scandrop/config.yaml")
		}
		if got, w := err.Error(), "no configuration file found; looked for "+strings.Join(want, ", "); got != w {
			t.Errorf("error:\n got %s\nwant %s", got, w)
		}
	})
}
