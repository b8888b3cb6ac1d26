package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at build time: go build -ldflags "-X main.version=v1.2.3 -X main.commit=abc123".
var (
	version = "dev"
	commit  = ""
)

func versionString() string {
	return fmt.Sprintf("scandrop %s (commit %s, %s, %s/%s)", version, commitString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// commitString is the commit scandrop was built from: -X main.commit (make
// build), else what the go command recorded, else "unknown".
func commitString() string {
	c := commit
	if c == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					c = s.Value
				}
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	return c
}
