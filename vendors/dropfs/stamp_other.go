//go:build !linux && !darwin

package dropfs

import "io/fs"

// sysStamp adds nothing here: size and modification time only. (Windows has
// a file index, but not in the FileInfo of a path's Lstat.)
func sysStamp(*Stamp, fs.FileInfo) {}
