//go:build windows

package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// Windows path semantics, which only a Windows build of filepath has: drive
// letters, UNC shares, rooted paths without a drive, drive-relative paths
// and case-insensitive names.
func TestWindowsPaths(t *testing.T) {
	cases := []struct {
		base, p, want string
	}{
		{`C:\ProgramData\scandrop`, `D:\scans`, `D:\scans`},
		{`C:\ProgramData\scandrop`, `d:/scans/`, `d:\scans`},
		{`C:\ProgramData\scandrop`, `\\nas\scans\inbox`, `\\nas\scans\inbox`},
		{`C:\ProgramData\scandrop`, `//nas/scans`, `\\nas\scans`},
		{`C:\ProgramData\scandrop`, `\scans`, `C:\scans`},
		{`C:\ProgramData\scandrop`, `/scans`, `C:\scans`},
		{`C:\ProgramData\scandrop`, `scans`, `C:\ProgramData\scandrop\scans`},
		{`C:\ProgramData\scandrop`, `..\scans`, `C:\ProgramData\scans`},
		{`\\nas\config\scandrop`, `\scans`, `\\nas\config\scans`},
		{`\\nas\config\scandrop`, `scans`, `\\nas\config\scandrop\scans`},
	}
	for _, tc := range cases {
		if got := absPath(tc.base, tc.p); got != tc.want {
			t.Errorf("absPath(%q, %q) = %q, want %q", tc.base, tc.p, got, tc.want)
		}
	}
	if msg := driveRelative(`C:scans`); !strings.Contains(msg, `C:\scans`) {
		t.Errorf("driveRelative(C:scans) = %q", msg)
	}
	for _, p := range []string{`C:\scans`, `\\nas\scans`, `scans`, `\scans`} {
		if msg := driveRelative(p); msg != "" {
			t.Errorf("driveRelative(%q) = %q, want none", p, msg)
		}
	}
	if filepath.VolumeName(`\\nas\scans\inbox`) != `\\nas\scans` {
		t.Errorf("VolumeName of a UNC path: %q", filepath.VolumeName(`\\nas\scans\inbox`))
	}

	// One folder spelt in two cases is one watch.
	_, err := ParseEnv([]byte("watches:\n  - dir: C:\\Scans\n  - dir: c:\\scans\n"), `C:\etc\config.yaml`, envMap(nil))
	if err == nil || !strings.Contains(err.Error(), "already watched by watches[0]") {
		t.Errorf("case-folded duplicate: %v", err)
	}
	_, err = ParseEnv([]byte("watches:\n  - dir: C:scans\n"), `C:\etc\config.yaml`, envMap(nil))
	if err == nil || !strings.Contains(err.Error(), "relative to the current folder of drive C:") {
		t.Errorf("drive-relative dir: %v", err)
	}
}
