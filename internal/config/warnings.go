package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"

	"github.com/scandrop/scandrop/vendors"
)

// Warning is a setting that works but exposes something: scandrop starts,
// and says so at start.
type Warning struct {
	Key     string // the key at fault, e.g. realsee.app_secret_file
	Problem string // what is exposed, to whom
	Fix     string // what to change
}

// Warnings lists the risky settings of a loaded configuration:
//
//   - a secret file (app_secret_file, secret_file, token_file) that its
//     group or other users may read (Unix only: Windows has ACLs);
//   - a vendor endpoint over plain http:// to a host other than this one;
//   - a signed webhook over plain http:// to a host other than this one;
//   - the HTTP listener off loopback without a token.
//
// Loopback hosts (127.0.0.0/8, ::1, localhost) are never a risk: traffic to
// them does not leave the machine. It reads the secret files' modes; a file
// it cannot stat was reported by Load already and is skipped.
func (c *Config) Warnings() []Warning {
	wr := &warner{}
	secretFile := wr.secretFile
	c.eachSection(func(prefix string, sec Section) { sec.warnings(prefix, wr) })
	for i, w := range c.Notify.Webhooks {
		p := fmt.Sprintf("notify.webhooks[%d]", i)
		secretFile(p+".secret_file", w.SecretFile)
		if host, ok := plainRemote(w.URL.Reveal()); ok && w.Secret != "" {
			wr.out = append(wr.out, Warning{Key: p + ".url",
				Problem: "a signed webhook over plain http:// to " + host + ": results and any token in the URL cross the network unencrypted, and a captured request can be replayed",
				Fix:     "use an https:// URL",
			})
		}
	}
	if h := c.HTTP; h != nil {
		secretFile("http.token_file", h.TokenFile)
		if host, _, err := net.SplitHostPort(h.Listen); err == nil && !vendors.IsLoopback(host) && h.Token == "" {
			where := host
			if host == "" || net.ParseIP(host).IsUnspecified() {
				where = "every interface"
			}
			wr.out = append(wr.out, Warning{Key: "http.listen",
				Problem: "the status listener on " + where + " answers anyone who reaches it, without authentication; /status shows folder paths, links and errors",
				Fix:     "set http.token_file (or http.token), or listen on 127.0.0.1",
			})
		}
	}
	return wr.out
}

// warner collects warnings; the vendor sections add theirs through it.
type warner struct{ out []Warning }

// secretFile warns of a secret file that others may read.
func (w *warner) secretFile(key, path string) {
	if path == "" || runtime.GOOS == "windows" {
		return
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	w.out = append(w.out, Warning{Key: key,
		Problem: fmt.Sprintf("%s can be read by users other than its owner (mode %04o)", path, fi.Mode().Perm()),
		Fix:     "chmod 600 " + path,
	})
}

// endpoint warns of a vendor endpoint over plain http to another host.
func (w *warner) endpoint(key, raw string) {
	if host, ok := plainRemote(raw); ok {
		w.out = append(w.out, Warning{Key: key,
			Problem: "plain http:// to " + host + ": the app key, signed requests and access tokens cross the network unencrypted",
			Fix:     "use the https:// endpoint",
		})
	}
}

// plainRemote reports whether raw is an http:// URL to a host other than
// this machine, and its host (never the rest, which may hold a token).
func plainRemote(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || !strings.EqualFold(u.Scheme, "http") || vendors.IsLoopback(u.Hostname()) {
		return "", false
	}
	return u.Hostname(), true
}
