//go:build !linux

package packaging

import "io/fs"

func statOwner(fi fs.FileInfo) string { return "" }
