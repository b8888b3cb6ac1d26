//go:build !unix && !windows

package aholo

// freeBytes cannot tell free space here; the per-asset ceiling still holds.
func freeBytes(string) (int64, bool) { return 0, false }
