package main

import (
	"os"
	"strconv"
	"strings"
	"sync"
)

// crashHook reads SCANDROP_TEST_CRASH=point[:n] and returns a hook that
// kills this process with SIGKILL — no deferred calls, no flushing, like a
// power cut — the n-th time (default 1) the pipeline reaches point. The
// crash-safety tests use it to stop the daemon at exact steps of a job;
// without the variable the hook does nothing.
func crashHook() func(string) {
	spec := os.Getenv("SCANDROP_TEST_CRASH")
	if spec == "" {
		return nil
	}
	point, nth := spec, 1
	if i := strings.LastIndex(spec, ":"); i > 0 {
		if n, err := strconv.Atoi(spec[i+1:]); err == nil {
			point, nth = spec[:i], n
		}
	}
	var mu sync.Mutex
	seen := 0
	return func(p string) {
		if p != point {
			return
		}
		mu.Lock()
		seen++
		hit := seen == nth
		mu.Unlock()
		if hit {
			killSelf()
		}
	}
}
