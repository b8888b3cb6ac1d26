//go:build !unix

package notify

import "os/exec"

// killGroup: elsewhere, the timeout kills the command itself.
func killGroup(cmd *exec.Cmd) {}
