// Package examples holds the bundled example drops, embedded so that
// `scandrop demo` runs from any folder, with no checkout beside it.
//
//	realsee/nave-2026-11-20  five small 2:1 panoramas and a manifest.json
//	aholo/chair              photos of an object and a recon.yaml
package examples

import "embed"

// FS holds realsee/<name>/ and aholo/<name>/ drop folders.
//
//go:embed realsee aholo
var FS embed.FS
