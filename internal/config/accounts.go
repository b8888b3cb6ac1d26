package config

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Vendors are one account's vendor sections: the top level's (the default
// account) and each entry's of Accounts. A section left out is nil: that
// account has no such vendor.
//
// This struct is the configuration's one list of vendors: defaults, secret
// files, validation, secrets and warnings walk its fields (eachSection), so
// a new vendor is one field here and its section type in a file of its own
// (see docs/adding-a-vendor.md).
type Vendors struct {
	// Realsee: see the Realsee type.
	Realsee *Realsee `yaml:"realsee"`
	// Aholo: see the Aholo type.
	Aholo *Aholo `yaml:"aholo"`
}

// Section is one vendor's configuration section, the same type at the top
// level and in each account. Its unexported methods are its share of
// loading: defaults, secret files, validation, secrets and warnings, so
// that everything about a section lives beside its type.
type Section interface {
	// Waiting is how often the vendor's tasks are polled and how long they
	// are waited for.
	Waiting() (poll, timeout time.Duration)
	// defaults fills zero fields; def(key, zero) reports whether key (in
	// the section) is zero and was not set explicitly.
	defaults(def func(key string, zero bool) bool)
	// resolve normalizes values and reads secret files; prefix is the
	// section's key path with a trailing dot ("accounts[0].realsee.").
	resolve(d *decoder, prefix, base string)
	// validate reports every invalid value.
	validate(prefix string, ck *checker)
	// secrets adds each secret the section holds, by key.
	secrets(prefix string, add func(key string, v Secret))
	// warnings adds the section's risky settings.
	warnings(prefix string, w *warner)
	// Credentials names, for a person, the keys that make up the
	// account's credentials (prefix as for resolve: "accounts[acme].realsee."),
	// and the secret's file when it comes from one.
	Credentials(prefix string) (keys []string, secretFile string)
	// BaseURL is the endpoint the vendor's API is reached at.
	BaseURL() string
}

// Section returns the section of the vendor named name ("realsee"), or
// nil when the account has none (or no vendor has that name).
func (v *Vendors) Section(name string) Section {
	var out Section
	v.each(func(key string, s Section) {
		if key == name {
			out = s
		}
	})
	return out
}

// Set sets the section of the vendor named name to s, which must be of
// that vendor's section type (for code that builds a Config by hand, as
// the demo does).
func (v *Vendors) Set(name string, s Section) {
	rv := reflect.ValueOf(v).Elem()
	for i := range rv.NumField() {
		if key, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("yaml"), ","); key == name {
			rv.Field(i).Set(reflect.ValueOf(s))
			return
		}
	}
	panic("config: no vendor section " + name)
}

// Names returns the names of the sections this account has, in the order
// of the Vendors fields.
func (v *Vendors) Names() []string {
	var out []string
	v.each(func(key string, _ Section) { out = append(out, key) })
	return out
}

// VendorNames returns the key of every vendor section a configuration may
// hold ("realsee", "aholo"), present or not.
func VendorNames() []string {
	t := reflect.TypeFor[Vendors]()
	var out []string
	for i := range t.NumField() {
		key, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		out = append(out, key)
	}
	return out
}

// each calls fn for every section present, by its key.
func (v *Vendors) each(fn func(key string, s Section)) {
	rv := reflect.ValueOf(v).Elem()
	for i := range rv.NumField() {
		f := rv.Field(i)
		if f.IsNil() {
			continue
		}
		key, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("yaml"), ",")
		fn(key, f.Interface().(Section))
	}
}

// Account is a named set of vendor credentials, for the watches that name
// it (Watch.Account).
type Account struct {
	// Name identifies the account in watches, result.json ("account"),
	// status, metrics and hooks. Required; unique; 1 to 64 letters, digits,
	// '.', '_' or '-', starting with a letter or digit; not "default",
	// which names the top-level sections.
	Name string `yaml:"name"`

	// Vendors are the account's sections, each like its top-level
	// counterpart; at least one.
	Vendors `yaml:",inline"`
}

// DefaultAccount is the name that stands for the top-level sections where
// an account must be named (metrics labels); result.json leaves it out.
const DefaultAccount = "default"

var accountNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// AccountVendors returns the vendor sections of the account named name:
// the top-level ones for "" (or DefaultAccount), nil for an unknown name.
func (c *Config) AccountVendors(name string) *Vendors {
	if name == "" || name == DefaultAccount {
		return &c.Vendors
	}
	for i := range c.Accounts {
		if c.Accounts[i].Name == name {
			return &c.Accounts[i].Vendors
		}
	}
	return nil
}

// eachSection calls fn for every vendor section present, at the top level
// and in each account, with its key path prefix ("realsee.",
// "accounts[1].aholo.").
func (c *Config) eachSection(fn func(prefix string, s Section)) {
	c.Vendors.each(func(key string, s Section) { fn(key+".", s) })
	for i := range c.Accounts {
		c.Accounts[i].Vendors.each(func(key string, s Section) {
			fn(fmt.Sprintf("accounts[%d].%s.", i, key), s)
		})
	}
}

// validateAccounts checks account names, that every account holds a
// section, and that each watch's account exists and holds every vendor
// configured anywhere: a watch takes every vendor's drops, and a drop
// that could only fail for want of credentials is better refused at start.
func (c *Config) validateAccounts(ck *checker) {
	// names by exact spelling, for the watches' account: keys; folded by
	// lower case, for the reserved and duplicate checks: "Acme" and "acme"
	// would be one customer to a reader, two to scandrop.
	names, folded := map[string]int{}, map[string]int{}
	for i, a := range c.Accounts {
		p := fmt.Sprintf("accounts[%d]", i)
		switch first, dup := folded[strings.ToLower(a.Name)]; {
		case a.Name == "":
			ck.reportf(p+".name", "%s: name is required", p)
		case !accountNameRE.MatchString(a.Name):
			ck.reportf(p+".name", "%s.name: %q is not a valid account name: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", p, a.Name)
		case strings.EqualFold(a.Name, DefaultAccount):
			ck.reportf(p+".name", "%s.name: %q names the top-level sections; choose another name", p, a.Name)
		case dup:
			ck.reportf(p+".name", "%s.name: %q is already the name of accounts[%d] (%q; names are compared ignoring case)", p, a.Name, first, c.Accounts[first].Name)
		default:
			names[a.Name], folded[strings.ToLower(a.Name)] = i, i
		}
		if len(a.Vendors.Names()) == 0 {
			ck.reportf(p, "%s: account %q has no vendor section; add %s", p, a.Name, strings.Join(sectionsHint(), " or "))
		}
	}
	// Every vendor some account (or the top level) is configured for.
	used := c.Vendors.Names()
	for _, a := range c.Accounts {
		for _, n := range a.Vendors.Names() {
			if !slices.Contains(used, n) {
				used = append(used, n)
			}
		}
	}
	for i, w := range c.Watches {
		p := fmt.Sprintf("watches[%d]", i)
		who, vs := "the default account (the top-level sections)", &c.Vendors
		if w.Account != "" {
			i, ok := names[w.Account]
			if !ok {
				// An account of that name that is itself in error was
				// reported above.
				if !slices.ContainsFunc(c.Accounts, func(a Account) bool { return a.Name == w.Account }) {
					ck.reportf(p+".account", "%s.account: no account is named %q (accounts: %s)", p, w.Account, accountList(c.Accounts))
				}
				continue
			}
			who, vs = fmt.Sprintf("account %q (accounts[%d])", w.Account, i), &c.Accounts[i].Vendors
		}
		for _, v := range used {
			if vs.Section(v) == nil {
				ck.reportf(p+".account", "%s (%s): %s has no %s: section, but %s is configured elsewhere and this watch takes %s drops too; add a %s: section to %s", p, w.Dir, who, v, v, v, v, who)
			}
		}
	}
}

func sectionsHint() []string {
	var out []string
	for _, n := range VendorNames() {
		out = append(out, n+":")
	}
	return out
}

func accountList(as []Account) string {
	if len(as) == 0 {
		return "none"
	}
	var out []string
	for _, a := range as {
		out = append(out, a.Name)
	}
	return strings.Join(out, ", ")
}

// secretKey names a section's secret for a person: the file's key with
// the file, or the key of the value.
func secretKey(prefix, file string) string {
	if file != "" {
		return prefix + "app_secret_file (" + file + ")"
	}
	return prefix + "app_secret"
}
