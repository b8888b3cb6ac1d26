package main

import (
	"testing"

	"github.com/scandrop/scandrop/vendors/dropfs"
	"github.com/scandrop/scandrop/watcher"
)

// The watcher keeps its own copy of dropfs.Ignored so as not to import
// vendors/; this test, which may see both, keeps the two in step.
func TestIgnoredRulesAgree(t *testing.T) {
	for _, n := range []string{".DS_Store", "._x", "~$doc.docx", "a.tmp", "a.TMP", "b.part", "B.Part",
		"Thumbs.db", "THUMBS.DB", "desktop.ini", "Desktop.INI", "scan", "nave 2026", "x.tmpl", "part", "tmp"} {
		if watcher.Ignored(n) != dropfs.Ignored(n) {
			t.Errorf("watcher.Ignored(%q) = %v, dropfs.Ignored = %v", n, watcher.Ignored(n), dropfs.Ignored(n))
		}
	}
}
