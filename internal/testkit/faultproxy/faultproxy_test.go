package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func backend(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Host", r.Host)
		io.WriteString(w, strings.Repeat("x", 1000)+" "+r.URL.Path+" "+strconv.FormatInt(n, 10))
	}))
	t.Cleanup(s.Close)
	return s, &hits
}

func TestFaults(t *testing.T) {
	s, hits := backend(t)
	p := New(s.URL)
	defer p.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	get := func(path string) (*http.Response, string, error) {
		resp, err := client.Get(p.URL + path)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}

	// Forwarded unchanged, Host kept.
	resp, body, err := get("/a")
	if err != nil || resp.StatusCode != 200 || !strings.HasSuffix(body, " /a 0") || resp.Header.Get("X-Host") != strings.TrimPrefix(p.URL, "http://") {
		t.Fatalf("pass: %v %v %q host %q", err, resp, body, resp.Header.Get("X-Host"))
	}

	// A burst of 502 on one path only.
	p.Add(Rule{Match: Path("/b"), Fault: Status, Status: 502, Times: 2})
	for i := 0; i < 2; i++ {
		if resp, body, _ := get("/b"); resp.StatusCode != 502 || !strings.Contains(body, "502") {
			t.Fatalf("burst %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if resp, _, _ := get("/b"); resp.StatusCode != 200 {
		t.Fatalf("after the burst: %d", resp.StatusCode)
	}

	// Reset: the client sees ECONNRESET, the backend nothing.
	before := hits.Load()
	p.Add(Rule{Match: Path("/c"), Fault: Reset, Times: 1})
	if _, _, err := get("/c"); err == nil || !errors.Is(err, syscall.ECONNRESET) && !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("reset: %v", err)
	}
	if hits.Load() != before {
		t.Fatal("a reset request reached the backend")
	}

	// Reset in the middle of a request body.
	p.Add(Rule{Match: Method("PUT"), Fault: Reset, After: 1 << 10, Times: 1})
	req, _ := http.NewRequest("PUT", p.URL+"/d", bytes.NewReader(make([]byte, 8<<20)))
	if _, err := client.Do(req); err == nil {
		t.Fatal("reset mid-body: no error")
	}

	// ResetAnswer: the backend did the work, the client got half an answer.
	before = hits.Load()
	p.Add(Rule{Match: Path("/e"), Fault: ResetAnswer, After: 100, Times: 1})
	if _, _, err := get("/e"); err == nil {
		t.Fatal("reset-answer: no error")
	}
	if hits.Load() != before+1 {
		t.Fatal("reset-answer did not reach the backend")
	}

	// Stall: the client's own timeout is what ends it.
	p.Add(Rule{Match: Path("/f"), Fault: Stall, Times: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, "GET", p.URL+"/f", nil)
	start := time.Now()
	if _, err := client.Do(req); err == nil || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("stall: %v after %v", err, time.Since(start))
	}

	// StallAnswer: headers and a few bytes, then nothing.
	p.Add(Rule{Match: Path("/g"), Fault: StallAnswer, After: 10, For: 200 * time.Millisecond, Times: 1})
	resp, err = client.Get(p.URL + "/g")
	if err != nil {
		t.Fatalf("stall-answer: headers: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || len(b) != 10 {
		t.Fatalf("stall-answer: read %d bytes, err %v", len(b), err)
	}

	// Delay: forwarded, late.
	p.Add(Rule{Match: Path("/h"), Fault: Delay, For: 200 * time.Millisecond, Times: 1})
	start = time.Now()
	if resp, body, err := get("/h"); err != nil || resp.StatusCode != 200 || !strings.HasSuffix(body, " /h 0") || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("delay: %v %v %q after %s", err, resp, body, time.Since(start))
	}

	st := p.Stats()
	if st.Faults[Status] != 2 || st.Faults[Reset] != 2 || st.Faults[Stall] != 1 || st.Faults[ResetAnswer] != 1 || st.Faults[StallAnswer] != 1 || st.Faults[Delay] != 1 {
		t.Fatalf("stats: %+v", st)
	}
}
