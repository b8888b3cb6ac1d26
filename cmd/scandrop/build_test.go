package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// Every released platform builds, without cgo.
func TestCrossCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiling takes a while")
	}
	for _, target := range []string{"linux/amd64", "linux/arm64", "windows/amd64", "darwin/arm64"} {
		t.Run(strings.ReplaceAll(target, "/", "-"), func(t *testing.T) {
			t.Parallel()
			goos, goarch, _ := strings.Cut(target, "/")
			cmd := exec.Command("go", "build", "-o", os.DevNull, ".")
			cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("GOOS=%s GOARCH=%s go build: %v\n%s", goos, goarch, err, out)
			}
		})
	}
}

// `scandrop version` carries the version, commit and date the Makefile
// (and goreleaser) pass with -X.
func TestVersionCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	mk, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`LDFLAGS\s*:=.*-X main\.commit=\$\(COMMIT\)`).Match(mk) || !regexp.MustCompile(`-X main\.version=\$\(VERSION\)`).Match(mk) || !regexp.MustCompile(`-X main\.date=\$\(DATE\)`).Match(mk) {
		t.Error("the Makefile does not pass -X main.commit, main.version and main.date")
	}
	bin := filepath.Join(t.TempDir(), "scandrop")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := exec.Command("go", "build", "-ldflags", "-X main.version=v1.2.3 -X main.commit=0123abcd -X main.date=2026-01-02T03:04:05Z", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err = exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "scandrop v1.2.3 (commit 0123abcd, built 2026-01-02T03:04:05Z, " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if string(out) != want {
		t.Errorf("version: %q, want %q", out, want)
	}
}
