package realsee

import (
	"testing"

	"github.com/scandrop/scandrop/vendors"
)

// The upload host a file token names is a bare host[:port]: a path, query
// or user info would send the temporary keys elsewhere.
func TestStorageHostIsBare(t *testing.T) {
	for _, domain := range []string{"127.0.0.2:8443/x?y=1#", "oss.example.com@127.0.0.2", "oss.example.com/evil"} {
		_, err := storageOf(&fileToken{Bucket: "b", CustomScheme: "https", CustomDomain: domain})
		if err == nil || vendors.KindOf(err) != vendors.Rejected {
			t.Errorf("custom_domain %q: %v, want a Rejected error", domain, err)
		}
	}
	if st, err := storageOf(&fileToken{Bucket: "b", CustomScheme: "https", CustomDomain: "b.oss.example.com/"}); err != nil || st.Endpoint != "https://b.oss.example.com" {
		t.Errorf("a plain domain: %+v, %v", st, err)
	}
}
