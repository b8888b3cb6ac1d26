//go:build !unix

package dropfs

import "os"

// Windows has no O_NOFOLLOW; Open's Lstat walk and SameFile check guard it.
func openNoFollow(name string) (*os.File, error) { return os.Open(name) }
