package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at build time: go build -ldflags "-X main.version=v1.2.3 -X main.commit=abc123
// -X main.date=2026-01-02T03:04:05Z" (make build; goreleaser sets all three).
var (
	version = "dev"
	commit  = ""
	date    = ""
)

func versionString() string {
	return fmt.Sprintf("scandrop %s (commit %s, built %s, %s, %s/%s)", version, commitString(), dateString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// dateString is when scandrop was built (goreleaser: the commit's date):
// -X main.date, else the commit time the go command recorded, else "unknown".
func dateString() string {
	if date != "" {
		return date
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" && s.Value != "" {
				return s.Value
			}
		}
	}
	return "unknown"
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
