//go:build linux

package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// demoLeftovers lists what the demo left in tmp.
func demoLeftovers(t *testing.T, tmp string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(tmp, "scandrop-demo-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The demo says its links are the emulators', and leaves nothing behind
// unless --keep, which says where the folder is.
func TestDemoLabelsAndCleansUp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo")
	}
	tmp := t.TempDir()
	demo := func(args ...string) (string, int) {
		cmd := exec.Command(binPath, append([]string{"demo"}, args...)...)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}

	out, code := demo()
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"built-in emulators of the Aholo and Realsee APIs", "(fake vendors)", "not real tours or models",
		"VR link (the emulator's, not a real tour) https://", "3D assets (the emulator's, not real models)",
		"result: done/nave-2026-11-20/result.json", "removed the temporary watch folder " + tmp,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output does not say %q:\n%s", want, out)
		}
	}
	if left := demoLeftovers(t, tmp); len(left) > 0 {
		t.Errorf("demo left %v behind", left)
	}

	out, code = demo("--keep")
	if code != 0 {
		t.Fatalf("demo --keep: exit %d\n%s", code, out)
	}
	_, kept, ok := strings.Cut(out, "kept the watch folder: ")
	kept = strings.TrimSpace(kept)
	if !ok || !strings.HasPrefix(kept, filepath.Join(tmp, "scandrop-demo-")) {
		t.Fatalf("demo --keep does not say where the folder is:\n%s", out)
	}
	for _, r := range []string{"done/nave-2026-11-20/result.json", "done/chair/result.json"} {
		if _, err := os.Stat(filepath.Join(kept, r)); err != nil {
			t.Errorf("demo --keep: %v", err)
		}
	}
	if left := demoLeftovers(t, tmp); len(left) != 1 || left[0] != kept {
		t.Errorf("demo --keep left %v, want only %s", left, kept)
	}
	os.RemoveAll(kept)

	// Stopped half-way by Ctrl-C, it still cleans up.
	cmd := exec.Command(binPath, "demo")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var seen strings.Builder
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "dropped into inbox/") {
			break
		}
	}
	if len(demoLeftovers(t, tmp)) == 0 {
		t.Errorf("no watch folder while the demo runs:\n%s", seen.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("demo after Ctrl-C: %v\n%s", err, seen.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("demo did not stop on Ctrl-C")
	}
	if left := demoLeftovers(t, tmp); len(left) > 0 {
		t.Errorf("demo stopped by Ctrl-C left %v behind:\n%s", left, seen.String())
	}
}
