//go:build !unix

package dropfs

func adopt(dropDir, path string) error     { return nil }
func adoptOurs(dropDir, path string) error { return nil }
func adoptTree(dropDir, root string) error { return nil }
