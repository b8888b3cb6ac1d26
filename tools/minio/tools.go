//go:build tools

// Package tools pins MinIO, which `make bench` installs into .tools/.
package tools

import _ "github.com/minio/minio"
