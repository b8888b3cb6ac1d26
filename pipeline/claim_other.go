//go:build !unix

package pipeline

// folderID: no portable folder identity here; a journal that arrives in
// inbox/ is then never kept.
func folderID(string) (dev, ino uint64, ok bool) { return 0, 0, false }
