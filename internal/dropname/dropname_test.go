package dropname

import "testing"

func TestIgnored(t *testing.T) {
	for n, want := range map[string]bool{
		".DS_Store": true, "._x": true, "~$doc.docx": true, "a.tmp": true, "a.TMP": true, "b.part": true, "B.Part": true,
		"Thumbs.db": true, "THUMBS.DB": true, "desktop.ini": true, "Desktop.INI": true,
		"scan": false, "nave 2026": false, "x.tmpl": false, "part": false, "tmp": false, "manifest.json": false, "a.partial": false,
	} {
		if got := Ignored(n); got != want {
			t.Errorf("Ignored(%q) = %v, want %v", n, got, want)
		}
	}
}
