package main

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// waitCall is a wait in runtime code: a sleep, a timer, or a wait on an
// injected clock.
var waitCall = regexp.MustCompile(`time\.(Sleep|After|NewTimer|NewTicker|Tick)\(|[cC]lock\.After\(`)

// waitsAllowed are the waits runtime code may hold outside the pacer
// (internal/backoff), by file, with how many and why: none of them repeats
// a failed call. Any other wait is a retry loop in the making: use a
// backoff.Pacer (its package doc says who waits).
var waitsAllowed = map[string]struct {
	n   int
	why string
}{
	"internal/backoff/backoff.go": {2, "the pacer itself, and the system clock"},
	"pipeline/pipeline.go":        {1, "the grace a submit under way gets after a stop"},
	"pipeline/handle.go":          {1, "the owner file's heartbeat period"},
	"watcher/watcher.go":          {4, "the scan schedule (full rescans, rechecks, event debounce) and waiting for an unmounted root"},
	"cmd/scandrop/daemon.go":      {1, "the period of the search for orphaned jobs"},
	"cmd/scandrop/progress.go":    {1, "the progress display's refresh"},
	"cmd/scandrop/demo.go":        {2, "the demo's wait for its results, and its bound"},
	"cmd/scandrop/doctor.go":      {1, "how long doctor waits for a file event"},
	"pipeline/credgate.go":        {2, "the bound on the start-up probe, and the period a refused secret file is re-read"},
	"cmd/scandrop/retention.go":   {1, "the period of the retention sweep"},
	"cmd/scandrop/status.go":      {1, "status --watch's refresh period"},
	"cmd/scandrop/service.go":     {1, "how long a started service must keep running to count as started"},
}

// TestOneBackoff: no retry loop exists outside the pacer — runtime code
// (not tests, not the test kit and vendor fakes, not the bench tool) waits
// only where waitsAllowed says, and no more often.
func TestOneBackoff(t *testing.T) {
	root := filepath.Join("..", "..")
	got := map[string]int{}
	where := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || rel == "internal/testkit" || rel == "cmd/scandrop-bench" ||
				rel == "tools" || strings.HasSuffix(rel, "test") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			code, _, _ := strings.Cut(sc.Text(), "//")
			if waitCall.MatchString(code) {
				got[rel]++
				where[rel] = append(where[rel], strings.TrimSpace(code))
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	for file, n := range got {
		if a, ok := waitsAllowed[file]; !ok || n > a.n {
			t.Errorf("%s waits %d times (allowed %d): %q; a call repeated after a failure waits under a backoff.Pacer (internal/backoff)",
				file, n, a.n, where[file])
		}
	}
	for file, a := range waitsAllowed {
		if got[file] < a.n {
			t.Errorf("%s: %d waits allowed (%s) but %d found: shrink the allowance", file, a.n, a.why, got[file])
		}
	}
}
