//go:build !unix

package main

// applyContainerEnv: Windows has no uids or umask; PUID, PGID and UMASK
// are refused if set, rather than silently ignored.
func applyContainerEnv(getenv func(string) string) error {
	for _, k := range []string{"PUID", "PGID", "UMASK"} {
		if getenv(k) != "" {
			return usageError{k + " is for Linux containers; this system has no user ids or umask"}
		}
	}
	return nil
}
