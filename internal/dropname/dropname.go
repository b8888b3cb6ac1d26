// Package dropname holds the rules about names in a watch folder that both
// the watcher and the vendors' drop readers apply: the one copy, below
// both (the watcher never imports vendors/).
package dropname

import "strings"

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
