//go:build !unix

package pipeline

import "io/fs"

// deviceOf: no device numbers here; removeTree then relies on RemoveAll not
// following links.
func deviceOf(fs.FileInfo) (uint64, bool) { return 0, false }
