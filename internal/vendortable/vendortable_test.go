package vendortable

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/vendors"
)

// Every entry is whole and agrees with its vendor package and its
// configuration section: the same name, the same marker, a section key in
// config.Vendors, and one client per call (an account's own caches).
func TestEntries(t *testing.T) {
	names := config.VendorNames()
	if len(All()) != len(names) {
		t.Errorf("the table has %d vendors, config.Vendors %d sections (%v)", len(All()), len(names), names)
	}
	markers := map[string]bool{}
	for _, e := range All() {
		if e.New == nil || e.Offline == nil || e.Demo == nil || e.Marker == "" {
			t.Errorf("%s: incomplete entry", e.Name)
			continue
		}
		if markers[e.Marker] {
			t.Errorf("%s: marker %s is another vendor's", e.Name, e.Marker)
		}
		markers[e.Marker] = true
		v := e.Offline()
		if v.Name() != e.Name || v.Marker() != e.Marker {
			t.Errorf("%s: the client says it is %s (%s), the table %s (%s)", e.Name, v.Name(), v.Marker(), e.Name, e.Marker)
		}
		fake := e.Demo(0)
		var vs config.Vendors
		vs.Set(e.Name, fake.Section) // panics if config has no such section
		cfg := config.Default()
		cfg.Vendors = vs
		cfg.SetDefaults()
		a, _ := Build(&cfg.Vendors, Env{})
		b, _ := Build(&cfg.Vendors, Env{})
		fake.Close()
		if len(a) != 1 || a[0].Name() != e.Name {
			t.Fatalf("%s: Build made %v", e.Name, a)
		}
		if a[0] == b[0] {
			t.Errorf("%s: two Builds share one client", e.Name)
		}
	}
}

// The offline clients validate a drop with no network: a folder with a
// marker but nothing valid in it is invalid, not an error of another kind.
func TestOfflineValidates(t *testing.T) {
	for _, v := range Offline() {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, v.Marker()), []byte("{"), 0o644)
		_, err := v.Open(context.Background(), dir)
		if vendors.KindOf(err) != vendors.Invalid {
			t.Errorf("%s: Open of a broken drop: %v (kind %s), want invalid", v.Name(), err, vendors.KindOf(err))
		}
	}
}
