package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Find returns the absolute path of the configuration file used when none is
// given: the first that exists of
//
//   - ./config.yaml (the working directory),
//   - os.UserConfigDir()/scandrop/config.yaml (e.g. ~/.config/scandrop/ on
//     Linux, ~/Library/Application Support/scandrop/ on macOS,
//     %AppData%\scandrop\ on Windows),
//   - /etc/scandrop/config.yaml on Unix, %ProgramData%\scandrop\config.yaml
//     on Windows (where a service running as LocalSystem looks).
//
// When none exists, the error lists every place it looked. A candidate that
// exists but cannot be read, or is not a regular file, is an error rather
// than skipped, so that a permission problem is not mistaken for absence.
func Find() (string, error) {
	looked := findCandidates()
	for _, p := range looked {
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			if pe, ok := errors.AsType[*fs.PathError](err); ok {
				err = pe.Err
			}
			return "", fmt.Errorf("%s: %w", p, err)
		case !fi.Mode().IsRegular():
			return "", fmt.Errorf("%s: not a regular file", p)
		}
		return p, nil
	}
	return "", fmt.Errorf("no configuration file found; looked for %s", strings.Join(looked, ", "))
}

func findCandidates() []string {
	var c []string
	if p, err := filepath.Abs("config.yaml"); err == nil {
		c = append(c, p)
	}
	if dir, err := os.UserConfigDir(); err == nil {
		c = append(c, filepath.Join(dir, "scandrop", "config.yaml"))
	}
	if runtime.GOOS == "windows" {
		if pd := os.Getenv("ProgramData"); pd != "" {
			c = append(c, filepath.Join(pd, "scandrop", "config.yaml"))
		}
	} else {
		c = append(c, "/etc/scandrop/config.yaml")
	}
	return c
}
