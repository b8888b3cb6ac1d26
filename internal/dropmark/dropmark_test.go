package dropmark

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Any entry named as a marker counts, whatever its type; the rest do not;
// At and Among agree.
func TestMarkers(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b.marker"), nil, 0o644)
	os.Mkdir(filepath.Join(dir, "a.marker"), 0o755) // a folder still counts
	os.Symlink("nowhere", filepath.Join(dir, "c.marker"))
	os.WriteFile(filepath.Join(dir, "other.json"), nil, 0o644)
	markers := []string{"c.marker", "b.marker", "a.marker", "d.marker"}
	want := []string{"a.marker", "b.marker", "c.marker"}
	if got := At(dir, markers); !slices.Equal(got, want) {
		t.Errorf("At = %v, want %v", got, want)
	}
	top, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := Among(top, markers); !slices.Equal(got, want) {
		t.Errorf("Among = %v, want %v", got, want)
	}
	if got := At(dir, []string{"d.marker"}); len(got) != 0 {
		t.Errorf("At found %v", got)
	}
}
