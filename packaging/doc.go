// Package packaging holds what `make dist` packages scandrop with (the
// systemd unit and the .deb/.rpm maintainer scripts, read by .goreleaser.yaml)
// and TestDist, the test of the release. It has no code of its own.
package packaging
