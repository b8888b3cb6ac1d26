//go:build tools

// Package tools pins the programs `make test` installs into .tools/.
package tools

import (
	_ "github.com/goreleaser/goreleaser/v2"
	_ "github.com/versity/versitygw/cmd/versitygw"
)
