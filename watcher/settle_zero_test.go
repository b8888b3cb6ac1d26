package watcher

import (
	"path/filepath"
	"testing"
	"time"
)

// TestSettleZero: settle 0 (config.yaml.example: "0s picks up at the
// second scan") is accepted, and a finished drop is claimed at the second
// walk that finds it unchanged: within a second, whatever PollInterval is.
func TestSettleZero(t *testing.T) {
	dir := t.TempDir()
	mkdirs(t, dir)
	h := newHarness(t, dir, func(o *Options) { o.Settle = 0; o.PollInterval = time.Hour })
	h.start(NewSlots(1), nil)
	time.Sleep(100 * time.Millisecond) // the first scan of the empty inbox
	start := time.Now()
	writeTree(t, filepath.Join(dir, InboxDir, "quick"), map[string]string{"manifest.json": "{}", "a.jpg": "x"})
	c := h.waitClaim(5 * time.Second)
	if filepath.Base(c.path) != "quick" {
		t.Fatalf("claimed %s", c.path)
	}
	if d := c.at.Sub(start); d > time.Second {
		t.Errorf("claimed %s after the drop, want within a second with settle 0", d)
	}
	t.Logf("settle 0: claimed %s after the drop", c.at.Sub(start).Round(time.Millisecond))
}
