//go:build !unix

package pipeline

import "io/fs"

type fileKey struct{}

// keyOf: hard links are not told apart here; each is copied.
func keyOf(fs.FileInfo) (fileKey, bool) { return fileKey{}, false }
