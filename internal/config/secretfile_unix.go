//go:build unix

package config

import (
	"os"
	"syscall"
)

// openSecretFile opens path for reading without blocking: opening a FIFO
// blocks until a writer comes, which would hang the start, doctor and the
// credential gate. ReadSecretFile refuses what is not a regular file, and
// reads of a regular file never block, so the flag need not be cleared.
func openSecretFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
