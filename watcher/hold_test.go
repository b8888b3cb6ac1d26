package watcher

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// A folder that Hold keeps waits in inbox/ with Hold's reason, takes no
// slot, and is claimed at the next check once Hold lets it go; a folder
// Hold does not keep is claimed meanwhile.
func TestHoldKeepsFoldersInInbox(t *testing.T) {
	dir := t.TempDir()
	mkdirs(t, dir)
	var holding atomic.Bool
	holding.Store(true)
	const why = "realsee credentials refused; waiting for them to be fixed"
	h := newHarness(t, dir, func(o *Options) {
		o.Hold = func(p string) string {
			if holding.Load() && filepath.Base(p) == "held" {
				return why
			}
			return ""
		}
	})
	h.start(NewSlots(1), nil)
	inbox := filepath.Join(dir, InboxDir)
	writeTree(t, filepath.Join(inbox, "held"), map[string]string{"manifest.json": "{}"})
	waitFor(t, 3*time.Second, "held shown as held", func() bool {
		s := h.w.Inbox()
		return len(s) == 1 && s[0].Name == "held" && s[0].Reason == why
	})
	// One slot only: a held folder must not sit on it.
	writeTree(t, filepath.Join(inbox, "free"), map[string]string{"recon.yaml": "x"})
	if c := h.waitClaim(3 * time.Second); filepath.Base(c.path) != "free" {
		t.Fatalf("claimed %s, want free", c.path)
	}
	h.expectNoClaim(testPoll + testSettle)
	if !exists(filepath.Join(inbox, "held")) {
		t.Fatal("held left inbox/")
	}
	holding.Store(false)
	if c := h.waitClaim(3 * time.Second); filepath.Base(c.path) != "held" {
		t.Fatalf("claimed %s, want held", c.path)
	}
	if n := h.logs.count("not claiming folder yet"); n != 1 {
		t.Errorf("the hold was logged %d times, want once", n)
	}
}
