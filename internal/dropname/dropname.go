// Package dropname holds the rules about names in a watch folder that both
// the watcher and the vendors' drop readers apply: the one copy, below
// both (the watcher never imports vendors/).
package dropname

import (
	"io/fs"
	"strings"
)

// Ignored reports whether a name is hidden or temporary noise that watch
// folders skip, as candidates in inbox/ and as files inside a drop:
// ".*", "~*", "*.tmp", "*.part", "Thumbs.db", "desktop.ini" (any case but
// for the prefixes).
func Ignored(name string) bool {
	lower := strings.ToLower(name)
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "~") ||
		strings.HasSuffix(lower, ".tmp") || strings.HasSuffix(lower, ".part") ||
		lower == "thumbs.db" || lower == "desktop.ini"
}

// SpecialKind names the kind of an entry that is neither a folder, a
// regular file nor a symlink — "a named pipe (FIFO)", "a socket", "a
// character device", "a block device", else "a special file" — for the
// messages that refuse one (in inbox/, in a drop being moved); "" for a
// folder, a regular file or a symlink.
func SpecialKind(t fs.FileMode) string {
	switch {
	case t.IsDir() || t.IsRegular() || t&fs.ModeSymlink != 0:
		return ""
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeCharDevice != 0:
		return "a character device"
	case t&fs.ModeDevice != 0:
		return "a block device"
	}
	return "a special file"
}
