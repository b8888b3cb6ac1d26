//go:build linux

package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// chromiumPath finds Debian's chromium, or skips naming it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not installed (scripts/install-test-deps installs it: apt-get install chromium)")
	return ""
}

// chromium runs headless chromium with args and the page url, and returns
// its stdout.
func chromium(t *testing.T, bin, url string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(append(base, args...), url)...)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return string(out)
}

// saveArtifact copies file into $SCANDROP_ARTIFACTS, when set.
func saveArtifact(t *testing.T, file string) {
	t.Helper()
	dir := os.Getenv("SCANDROP_ARTIFACTS")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(filepath.Join(dir, filepath.Base(file)))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	t.Logf("saved %s", out.Name())
}

// The status page as a person sees it in a real browser: a daemon with a
// job waiting for the vendor and one failed, whose name is an HTML
// injection attempt; the DOM chromium built and a screenshot.
func TestStatusPageInBrowser(t *testing.T) {
	bin := chromiumPath(t)
	r := newRig(t, rigOptions{
		realsee:        &realseetest.Options{ProcessingPolls: 1 << 20}, // never finishes while the test looks
		realseeTimeout: 10 * time.Minute,
		extraConfig:    "http:\n  listen: 127.0.0.1:0\n",
	})
	const running, hostile = "nave-2026-11-20", `<i>evil<img src=x onerror=alert(1)>&amp;`
	r.drop(running, realseeDrop(t, 2, 128))
	r.drop(hostile, map[string][]byte{"manifest.json": []byte(`{"version":"1.0","floor_map":{"0":0},"scan_list":[{"id":"a","floor":0}]}`)})
	r.start()
	base := rigHTTPAddr(t, r)
	if _, where := r.waitResult(hostile, 30*time.Second); where != "failed" {
		t.Fatalf("the invalid drop landed in %s", where)
	}
	eventually(t, running+" waiting for the vendor", 30*time.Second, func() bool {
		var rep struct {
			Watches []struct {
				Processing []struct{ Folder, Stage string }
			}
		}
		json.Unmarshal(getBody(t, base+"/status"), &rep)
		for _, w := range rep.Watches {
			for _, p := range w.Processing {
				if p.Folder == running && p.Stage == "wait" {
					return true
				}
			}
		}
		return false
	})

	dom := chromium(t, bin, base+"/", "--dump-dom")
	section := func(title string) string {
		_, rest, ok := strings.Cut(dom, "<h3>"+title)
		if !ok {
			t.Fatalf("no %q section in the page:\n%s", title, dom)
		}
		s, _, _ := strings.Cut(rest, "<h3>")
		return s
	}
	processing, recent := section("Processing (1)"), section("Recent results")
	for _, want := range []string{running, "realsee", "wait", "vendor: processing"} {
		if !strings.Contains(processing, want) {
			t.Errorf("the Processing section does not show %q:\n%s", want, processing)
		}
	}
	for _, want := range []string{html.EscapeString(hostile), ">failed<", "images/a.jpg: missing"} {
		if !strings.Contains(recent, want) {
			t.Errorf("the Recent results section does not show %q:\n%s", want, recent)
		}
	}
	// The hostile name is text: chromium built no element from it.
	if strings.Contains(dom, "<i>evil") || strings.Contains(dom, "onerror") && !strings.Contains(dom, "onerror=alert(1)&gt;") {
		t.Errorf("the folder name became markup:\n%s", dom)
	}

	shot := filepath.Join(t.TempDir(), "status-page.png")
	chromium(t, bin, base+"/", "--screenshot="+shot, "--window-size=1280,900", "--hide-scrollbars")
	fi, err := os.Stat(shot)
	if err != nil || fi.Size() < 10<<10 {
		t.Fatalf("screenshot: %v (%d bytes)", err, fi.Size())
	}
	saveArtifact(t, shot)
}
