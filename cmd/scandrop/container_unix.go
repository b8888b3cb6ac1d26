//go:build unix

package main

import (
	"fmt"
	"os"
	"syscall"
)

// applyContainerEnv applies UMASK, PUID and PGID (container.go).
func applyContainerEnv(getenv func(string) string) error {
	uid, gid, umask, ok, err := containerIDs(getenv)
	if err != nil {
		return err
	}
	if umask >= 0 {
		syscall.Umask(umask)
	}
	if !ok {
		return nil
	}
	if os.Geteuid() != 0 {
		if os.Geteuid() == uid && os.Getegid() == gid {
			return nil // started as that user already (user: "PUID:PGID")
		}
		return usageError{fmt.Sprintf("PUID=%d PGID=%d: scandrop runs as %d:%d and cannot change user; start the container as root (user: \"0:0\") to let it switch, or as that user (user: \"%d:%d\")",
			uid, gid, os.Geteuid(), os.Getegid(), uid, gid)}
	}
	// Group first: once the user is not root, the group cannot change.
	// Go applies each to every thread of the process.
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return fmt.Errorf("PGID=%d: setgroups: %w", gid, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("PGID=%d: setgid: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("PUID=%d: setuid: %w", uid, err)
	}
	return nil
}
