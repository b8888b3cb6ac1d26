package aholo

import "github.com/scandrop/scandrop/internal/diskfree"

// freeBytes is the space this process may still write on the file system
// holding dir; ok is false when it cannot be told.
func freeBytes(dir string) (free int64, ok bool) { return diskfree.Free(dir) }
