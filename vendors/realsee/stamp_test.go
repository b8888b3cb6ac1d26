package realsee

import (
	"testing"

	"github.com/scandrop/scandrop/vendors/dropfs"
)

// stampsOf stamps the files of entries as they are now, as validation does.
func stampsOf(t testing.TB, dir string, entries []zipEntry) map[string]dropfs.Stamp {
	t.Helper()
	m := map[string]dropfs.Stamp{}
	for _, e := range entries {
		fi, err := dropfs.Stat(dir, e.File)
		if err != nil {
			t.Fatal(err)
		}
		m[e.File] = dropfs.StampOf(fi)
	}
	return m
}
