package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// offlineKeys are the top-level keys LoadOffline reads: what commands that
// only look at the watch folders need. The vendor sections, http and notify
// hold the secrets (${VAR}s, *_file files readable by the service account
// only) and are skipped.
var offlineKeys = map[string]bool{
	"watches":     true,
	"max_jobs":    true,
	"crash_limit": true,
	"state_dir":   true,
	"log":         true,
	"retention":   true,
}

// LoadOffline reads the file at path like Load, for the commands that only
// read and move folders in the watch dirs (status, retry), never calling a
// vendor: it resolves no secret. The keys of the vendor sections (realsee,
// aholo and the like), accounts, http and notify are recognised as keys but their
// values are not read — their ${VAR}s need not be set and their *_file
// files need not be readable — so those sections are nil or empty in the
// result. Every other key is read and validated as Load does, an unset
// ${VAR} in a watch dir included.
func LoadOffline(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return parseMode(data, path, os.LookupEnv, true)
}
