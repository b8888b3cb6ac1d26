//go:build !linux

package main

import "log/slog"

// harden has no equivalent here: elsewhere a process's environment may
// still be visible to its user's other processes (ps on macOS and the
// BSDs), hence the README's advice to run scandrop as a dedicated user.
func harden(*slog.Logger) {}
