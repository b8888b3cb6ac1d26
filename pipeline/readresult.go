package pipeline

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ReadResultFile reads dir's result.json, at most MaxResultBytes: scandrop
// writes none larger, and a larger one (not ours) is not read into memory.
func ReadResultFile(dir string) ([]byte, error) {
	name := filepath.Join(dir, ResultFile)
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxResultBytes+1))
	if err == nil && int64(len(b)) > MaxResultBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, MaxResultBytes)
	}
	return b, err
}
