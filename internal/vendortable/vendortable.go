// Package vendortable is the one list of the vendors scandrop speaks to.
// Each vendor is registered here once — its name, its drop marker, the
// client built from its configuration section, the client that only
// validates, and the emulator `scandrop demo` runs — and the daemon,
// `scandrop check`, `status` and `demo` read the table instead of naming
// vendors. docs/adding-a-vendor.md walks through adding one.
//
// The table lives apart from the vendors and from internal/config because
// it joins them: it imports every vendor package (which import neither the
// pipeline nor the watcher) and the configuration types (which import no
// vendor), and only cmd/scandrop imports it. The pipeline and the watcher
// get what they need from it as plain values (markers, vendors.Vendor), so
// they stay ignorant of which vendors exist.
package vendortable

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/vendors"
)

// Env is what a vendor client talks to: the real world in the daemon,
// the emulators in the demo and in tests.
type Env struct {
	HTTPClient *http.Client
	Clock      vendors.Clock
	Logger     *slog.Logger
}

// Fake is a vendor's emulator, running in this process.
type Fake struct {
	// Section points the vendor's client at the emulator, with the
	// emulator's credentials.
	Section config.Section
	// TrustPEM holds certificates the client must trust to reach it
	// (emulators that speak HTTPS, as their vendor does); may be nil.
	TrustPEM []byte
	// Close stops the emulator.
	Close func()
}

// Entry is one vendor.
type Entry struct {
	// Name is the vendor's short name: its configuration section's key
	// (config.Vendors), result.json's "vendor", and the folder of its
	// samples in the examples package.
	Name string
	// Title is the vendor's name for people ("Realsee").
	Title string
	// Marker is the entry at a drop folder's root that selects the vendor.
	Marker string
	// New builds a client for one account's section of this vendor (never
	// nil). Each call makes a client of its own, with its own token and
	// upload-credential caches: one per account.
	New func(sec config.Section, env Env) vendors.Vendor
	// Offline builds a client without credentials, enough for Open: it
	// validates drops and makes no network call.
	Offline func() vendors.Vendor
	// Demo starts the vendor's emulator for `scandrop demo`; tasks finish
	// after a few polls of pollEvery.
	Demo func(pollEvery time.Duration) Fake
	// ProbeCall names the one authenticated call the client's
	// CheckCredentials makes ("POST /auth/access_token"), for doctor.
	ProbeCall string
	// ClockSkew says why the vendor cares about this machine's clock, for
	// doctor's warning when the clocks disagree.
	ClockSkew string
}

// Lookup returns the entry of the vendor named name.
func Lookup(name string) (Entry, bool) {
	for _, e := range entries {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// entries is the table. Each vendor's entry lives in a file of this
// package named after it (realsee.go, aholo.go), which registers it at
// init; All sorts them.
var entries []Entry

// register adds a vendor; called from the init of each vendor's file.
func register(e Entry) { entries = append(entries, e) }

// All returns every vendor, by name.
func All() []Entry {
	out := slices.Clone(entries)
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Markers returns every vendor's marker, by marker → vendor name.
func Markers() map[string]string {
	m := map[string]string{}
	for _, e := range entries {
		m[e.Marker] = e.Name
	}
	return m
}

// MarkerNames returns every vendor's marker, in the order of All.
func MarkerNames() []string {
	var out []string
	for _, e := range All() {
		out = append(out, e.Marker)
	}
	return out
}

// Offline returns a credential-less client of every vendor, for
// validating drops offline.
func Offline() []vendors.Vendor {
	var out []vendors.Vendor
	for _, e := range All() {
		out = append(out, e.Offline())
	}
	return out
}

// Build returns the clients of the sections vs holds, with each one's
// waiting rules, by vendor name.
func Build(vs *config.Vendors, env Env) ([]vendors.Vendor, map[string]Waiting) {
	var out []vendors.Vendor
	waits := map[string]Waiting{}
	for _, e := range All() {
		sec := vs.Section(e.Name)
		if sec == nil {
			continue
		}
		out = append(out, e.New(sec, env))
		poll, timeout := sec.Waiting()
		waits[e.Name] = Waiting{Poll: poll, Timeout: timeout}
	}
	return out, waits
}

// Waiting is how a vendor's tasks are waited for.
type Waiting struct {
	Poll, Timeout time.Duration
}
