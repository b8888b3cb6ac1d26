package main

import (
	"log/slog"

	"golang.org/x/sys/unix"
)

// harden makes the daemon's /proc entries (environ, mem, fd…) readable by
// root only, as ssh-agent does: hooks run as scandrop's user, and without
// this `cat /proc/$PPID/environ` in a hook prints the secrets scandrop was
// started with. It also turns off core dumps, which would hold them too.
// Children get the flag back at exec, so hooks are unaffected.
func harden(log *slog.Logger) {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		log.Warn("could not protect the daemon's memory and environment from other processes of its user", "err", err)
	}
}
