package main

import (
	"fmt"
	"strconv"
)

// The NAS container convention (linuxserver.io images and the NAS UIs that
// follow them): PUID and PGID name the user and group a container's
// program runs as, UMASK the umask, so that what it writes on the share
// belongs to the share's user. scandrop's image has no shell to run an
// entrypoint script, so scandrop does it itself, first thing in main:
//
//   - UMASK (octal, e.g. 002) sets the umask, as any user;
//   - PUID (and PGID, default PUID): when started as root (user: "0:0"),
//     scandrop takes that group (alone: no supplementary groups) and user
//     before it does anything else, for all threads, and never gets root
//     back. The image's default user is 1000:1000: started as another
//     user, PUID must be that user (or unset), or scandrop refuses to start,
//     saying so, rather than run as the wrong user.
//
// Outside a container nobody sets PUID; the variables work the same there.

// containerIDs parses PUID, PGID and UMASK; ok is false when PUID and PGID
// are unset, umask is -1 when UMASK is.
func containerIDs(getenv func(string) string) (uid, gid, umask int, ok bool, err error) {
	umask = -1
	if s := getenv("UMASK"); s != "" {
		m, perr := strconv.ParseUint(s, 8, 32)
		if perr != nil || m > 0o777 {
			return 0, 0, 0, false, usageError{fmt.Sprintf("UMASK=%q: want an octal umask such as 002 or 022", s)}
		}
		umask = int(m)
	}
	puid, pgid := getenv("PUID"), getenv("PGID")
	if puid == "" && pgid == "" {
		return 0, 0, umask, false, nil
	}
	if puid == "" {
		return 0, 0, 0, false, usageError{"PGID is set but PUID is not: set both (the share owner's user and group ids)"}
	}
	if pgid == "" {
		pgid = puid
	}
	u, uerr := strconv.ParseUint(puid, 10, 31)
	g, gerr := strconv.ParseUint(pgid, 10, 31)
	if uerr != nil || gerr != nil {
		return 0, 0, 0, false, usageError{fmt.Sprintf("PUID=%q PGID=%q: want numeric ids (id -u, id -g of the share's owner)", puid, pgid)}
	}
	return int(u), int(g), umask, true, nil
}
