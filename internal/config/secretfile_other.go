//go:build !unix

package config

import "os"

// openSecretFile opens path for reading. Windows has no FIFOs in the file
// system, so an open does not block there.
func openSecretFile(path string) (*os.File, error) { return os.Open(path) }
