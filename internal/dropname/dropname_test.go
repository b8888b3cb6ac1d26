package dropname

import (
	"io/fs"
	"testing"
)

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

func TestSpecialKind(t *testing.T) {
	for mode, want := range map[fs.FileMode]string{
		0: "", fs.ModeDir: "", fs.ModeSymlink: "",
		fs.ModeNamedPipe: "a named pipe (FIFO)", fs.ModeSocket: "a socket",
		fs.ModeDevice | fs.ModeCharDevice: "a character device", fs.ModeDevice: "a block device",
		fs.ModeIrregular: "a special file",
	} {
		if got := SpecialKind(mode); got != want {
			t.Errorf("SpecialKind(%v) = %q, want %q", mode, got, want)
		}
	}
}
