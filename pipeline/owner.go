package pipeline

import (
	"errors"
	"path/filepath"

	"github.com/scandrop/scandrop/vendors/dropfs"
)

// Files on the share keep their owner (vendors/dropfs.Adopt): what scandrop
// writes for a job, and the done/ and failed/ folders it makes, get the
// owner and group of the drop (of the watch root for done/ and failed/) and
// the mode of the umask, also when scandrop runs as root.

// adoptJob runs once the job's result is written: result.json gets the drop
// folder's owner and the umask's mode, and so does everything else scandrop
// made in the folder as another user (its state, downloaded assets).
func adoptJob(dir string) error {
	return errors.Join(
		dropfs.Adopt(dir, filepath.Join(dir, ResultFile)),
		dropfs.AdoptTree(dir, dir))
}

// adoptMoved runs once the job folder has been moved to to, in dest (done/
// or failed/ of root): dest and processing/, if scandrop made them, get the
// watch root's owner, and so does what a move across devices copied as
// scandrop's user (a rename keeps the drop's owners, and then nothing is
// scandrop's).
func adoptMoved(root, dest, to string) error {
	return errors.Join(
		dropfs.AdoptOurs(root, filepath.Join(root, Processing)),
		dropfs.AdoptOurs(root, dest),
		dropfs.AdoptTree(root, to))
}
