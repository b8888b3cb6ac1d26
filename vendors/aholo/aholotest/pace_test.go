package aholotest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
)

// With StatusInterval set, a status poll of one token sooner than the
// interval after the last is refused as too frequent; one after it, or of
// another token, is answered.
func TestStatusIntervalRefusesEagerPolls(t *testing.T) {
	now := time.Now()
	c := newClient(t, aholotest.Options{Now: func() time.Time { return now }, StatusInterval: aholotest.StatusEvery})
	a, b := []byte("first file"), []byte("second file")
	ta, tb := c.token(), c.token()
	for tok, body := range map[string][]byte{ta: a, tb: b} {
		if e := c.ous("POST", "/ous/api/v2/single/upload", tok, nil, [][2]string{{"md5", sum(body)}}, body); e.C != "0" {
			t.Fatalf("upload: %+v", e)
		}
	}
	if e := c.ous("GET", "/ous/api/v2/upload/status", ta, nil, nil, nil); e.C != "0" {
		t.Fatalf("first poll: %+v", e)
	}
	now = now.Add(aholotest.StatusEvery - time.Millisecond)
	if e := c.ous("GET", "/ous/api/v2/upload/status", ta, nil, nil, nil); e.C == "0" || !strings.Contains(e.M, "too many requests") {
		t.Fatalf("a poll %v after the last: %+v, want a refusal", aholotest.StatusEvery-time.Millisecond, e)
	}
	if e := c.ous("GET", "/ous/api/v2/upload/status", tb, nil, nil, nil); e.C != "0" {
		t.Fatalf("another token's first poll: %+v", e)
	}
	now = now.Add(time.Millisecond)
	if e := c.ous("GET", "/ous/api/v2/upload/status", ta, nil, nil, nil); e.C != "0" {
		t.Fatalf("a poll %v after the last answered one: %+v", aholotest.StatusEvery, e)
	}
	if n := c.srv.Throttled(); n != 1 {
		t.Fatalf("Throttled() = %d, want 1", n)
	}
	if n := c.srv.MaxConcurrent("/ous/api/v2/upload/status"); n != 1 {
		t.Fatalf("MaxConcurrent(status) = %d, want 1 for polls one after another", n)
	}
}
