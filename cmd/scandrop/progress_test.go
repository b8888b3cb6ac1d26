package main

import (
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scandrop/scandrop/pipeline"
)

// screen replays what a terminal shows: \r returns to the line's start,
// ESC[K erases the line.
func screen(raw string) []string {
	var lines []string
	cur := ""
	for i := 0; i < len(raw); i++ {
		if r, size := utf8.DecodeRuneInString(raw[i:]); size > 1 {
			cur += string(r)
			i += size - 1
			continue
		}
		switch {
		case raw[i] == '\r':
			cur = ""
		case strings.HasPrefix(raw[i:], "\033[K"):
			cur = ""
			i += 2
		case raw[i] == '\n':
			lines = append(lines, cur)
			cur = ""
		default:
			cur += string(raw[i])
		}
	}
	return append(lines, cur)
}

func TestProgressBar(t *testing.T) {
	var out lockedBuffer
	now := time.Unix(0, 0)
	var mu sync.Mutex
	p := newProgressBar(&out)
	p.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	p.Stage("nave", "realsee", pipeline.StageUpload)
	p.Uploaded("nave", "realsee", 0, 40<<20)
	advance(2 * time.Second)
	p.Uploaded("nave", "realsee", 10<<20, 40<<20)
	if got := screen(out.String()); !strings.Contains(got[len(got)-1], "25%") || !strings.Contains(got[len(got)-1], "10.0 MiB/40.0 MiB") ||
		!strings.Contains(got[len(got)-1], "5.0 MiB/s") || !strings.Contains(got[len(got)-1], "~6s left") {
		t.Errorf("upload bar: %q", got[len(got)-1])
	}
	// A log line scrolls above the bar, whole.
	p.Write([]byte("level=INFO msg=\"part uploaded\" folder=nave\n"))
	got := screen(out.String())
	if len(got) != 2 || got[0] != `level=INFO msg="part uploaded" folder=nave` || !strings.Contains(got[1], "25%") {
		t.Errorf("screen after a log line: %q", got)
	}
	p.Stage("nave", "realsee", pipeline.StageWait)
	advance(90 * time.Second)
	p.VendorStatus("nave", "realsee", "processing")
	got = screen(out.String())
	if last := got[len(got)-1]; !strings.Contains(last, "vendor working for 1m30s (processing)") {
		t.Errorf("wait line: %q", last)
	}
	p.Close()
	got = screen(out.String())
	if got[len(got)-1] != "" {
		t.Errorf("bar left on screen after Close: %q", got[len(got)-1])
	}
}
