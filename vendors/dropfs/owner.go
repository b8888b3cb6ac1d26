package dropfs

// Files on the share keep their owner. A drop folder belongs to someone (the
// share's user, the NAS account the capture rig copies as); scandrop may run
// as another user (root, or a service account). What scandrop creates for a
// drop — result.json, its state, downloaded assets, done/ and failed/ —
// then gets the drop's owner and group, and the mode the process umask gives
// a new file, so that the people who use the share can read, move and delete
// it as their own.

// Adopt gives path, something scandrop just created in or for dropDir, the
// owner and group of dropDir (where they differ and the process may change
// them: a daemon that is not root cannot give files away, and then they stay
// its own) and the mode the umask gives a new file: 0666 (0777 for a
// directory or an executable) less the umask. Symbolic links are not followed.
// On systems without Unix owners it does nothing.
func Adopt(dropDir, path string) error { return adopt(dropDir, path) }

// AdoptOurs adopts path if this process owns it while dropDir belongs to
// another user: if scandrop made it, as itself. Anything else is the
// operator's and is left as it is.
func AdoptOurs(dropDir, path string) error { return adoptOurs(dropDir, path) }

// AdoptTree adopts every entry under root (root included) that this process
// owns while dropDir belongs to another user: what scandrop created there as
// itself. Entries that belong to anyone else are the operator's and are left
// as they are. When scandrop runs as dropDir's owner there is nothing to do
// and nothing is walked.
func AdoptTree(dropDir, root string) error { return adoptTree(dropDir, root) }
