//go:build !unix

package ops

import "os/exec"

// killGroup: elsewhere, the timeout kills the command itself.
func killGroup(cmd *exec.Cmd) {}
