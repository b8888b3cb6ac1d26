package vendors

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/scandrop/scandrop/internal/textsafe"
)

// Strings a vendor returns are checked here, at the vendor boundary, before
// scandrop writes them (result.json, webhooks, logs) or uses them (a file
// name, a request): a vendor's answer is outside scandrop's control, and a
// value that does not fit is refused (Kind Rejected, naming the field), never
// cut short into a success.

// MaxLinkBytes bounds a link a vendor returns (a VR link, an asset URL).
const MaxLinkBytes = 2 << 10

// MaxIDBytes bounds an id a vendor returns (a task code, a project id).
const MaxIDBytes = 128

// CheckLink reports whether s, the vendor's field named field, is a link
// scandrop may write and follow: an absolute https URL (http only to a
// loopback host, where nothing leaves the machine) of at most MaxLinkBytes,
// with a host, no user info and no spaces, control or invisible characters
// (the bidi overrides among them).
func CheckLink(field, s string) error {
	if len(s) > MaxLinkBytes {
		return E(Rejected, "", fmt.Sprintf("the vendor returned a link of %d bytes in %s (at most %d); a link that long is not a real one; ask the vendor", len(s), field, MaxLinkBytes))
	}
	if strings.ContainsRune(s, ' ') || textsafe.Escape(s) != s {
		return E(Rejected, "", fmt.Sprintf("the vendor returned a link with spaces, control or invisible characters in %s; ask the vendor", field))
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return E(Rejected, "", fmt.Sprintf("the vendor returned %s that is not an absolute URL; ask the vendor", field))
	}
	if u.User != nil {
		return E(Rejected, "", fmt.Sprintf("the vendor returned %s with user info in it; ask the vendor", field))
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && IsLoopback(u.Host):
	default:
		return E(Rejected, "", fmt.Sprintf("the vendor returned %s with scheme %q; only https links are accepted", field, strings.ToLower(u.Scheme)))
	}
	return nil
}

// CheckID reports whether s, the vendor's id named field, is safe to write
// and to use in a path or a query: 1 to MaxIDBytes bytes of
// [A-Za-z0-9._:-], and no "..".
func CheckID(field, s string) error {
	if len(s) > MaxIDBytes {
		return E(Rejected, "", fmt.Sprintf("the vendor returned a %s of %d bytes (at most %d); ask the vendor", field, len(s), MaxIDBytes))
	}
	bad := s == "" || strings.Contains(s, "..") || strings.ContainsFunc(s, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("._:-", r))
	})
	if bad {
		return E(Rejected, "", fmt.Sprintf("the vendor returned a %s %q with characters outside A-Z a-z 0-9 . _ : - ; ask the vendor", field, s))
	}
	return nil
}

// IsLoopback reports whether hostport ("host", "host:port", "[::1]:80")
// names this machine only: localhost, *.localhost (which resolve to
// loopback only, RFC 6761; a trailing dot allowed) or a loopback address.
// It is the one copy of this rule: the configuration's warnings use it too.
func IsLoopback(hostport string) bool {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// CheckCredentialEndpoint reports whether scheme://host may carry
// credentials: over https always, over plain http only to a loopback host.
// what names the endpoint in the message (e.g. "the upload endpoint").
func CheckCredentialEndpoint(what, scheme, host string) error {
	if strings.EqualFold(scheme, "https") || (strings.EqualFold(scheme, "http") && IsLoopback(host)) {
		return nil
	}
	return E(Rejected, "", fmt.Sprintf("%s is %s://%s: credentials are never sent over plain http to a host other than this machine; the vendor must hand out an https endpoint (ask the vendor to fix custom_scheme)", what, strings.ToLower(scheme), host))
}

// CheckHostPort refuses a host a vendor handed out unless it is a bare
// host or host:port: a path, query or fragment would move the requests
// elsewhere on the host ("h/evil?x=" sends them to /evil), and user info
// to another host ("a@b" is b), with the credentials they carry.
func CheckHostPort(what, hostport string) error {
	u, err := url.Parse("https://" + hostport)
	if hostport == "" || err != nil || u.Host != hostport || u.User != nil ||
		strings.ContainsAny(hostport, "@/?#\\ \t") || strings.HasSuffix(hostport, ":") {
		return E(Rejected, "", fmt.Sprintf("%s %q is not a bare host[:port]; the requests would go elsewhere; ask the vendor", what, textsafe.Clean(hostport, 256)))
	}
	return nil
}
