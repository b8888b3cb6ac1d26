package realsee

import (
	"errors"
	"net"
	"net/url"
	"regexp"
	"strings"
)

var expectingRegion = regexp.MustCompile(`expecting '([a-z0-9-]+)'`)

// readdress corrects where the archive goes from the store's own answer to
// a first attempt, for stores that disagree with the file token: a region
// other than the token's (the store names the one it expects), or a host
// under which the virtual-hosted bucket name does not resolve (then the
// bucket goes in the path). It reports whether st changed.
func readdress(st *storage, err error) bool {
	if apiCode(err) == "AuthorizationHeaderMalformed" {
		if m := expectingRegion.FindStringSubmatch(err.Error()); m != nil && m[1] != st.Region {
			st.Region = m[1]
			return true
		}
	}
	var dns *net.DNSError
	if !st.PathStyle && errors.As(err, &dns) && dns.IsNotFound {
		u, perr := url.Parse(st.Endpoint)
		if perr != nil || !strings.HasPrefix(u.Host, st.Bucket+".") {
			return false
		}
		u.Host = strings.TrimPrefix(u.Host, st.Bucket+".")
		st.Endpoint, st.PathStyle = u.Scheme+"://"+u.Host, true
		return true
	}
	return false
}
