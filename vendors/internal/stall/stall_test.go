package stall

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestHostileSlowTrickle: a peer that moves a byte now and then — never
// idle long enough for the idle guard, never finishing — fails the
// transfer within about one window, both ways: a download whose answer
// trickles in, and an upload the server reads slowly.
func TestHostileSlowTrickle(t *testing.T) {
	defer func(m int64) { MinBytes = m }(MinBytes)
	MinBytes = 1 << 20
	const window = 300 * time.Millisecond
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/download": // a byte every 50ms, for ever
			for {
				if _, err := w.Write([]byte("x")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-time.After(50 * time.Millisecond):
				case <-r.Context().Done():
					return
				case <-done:
					return
				}
			}
		case "/upload": // reads 32 KiB every ms: each write moves, slowly
			buf := make([]byte, 32<<10)
			for {
				if _, err := io.ReadFull(r.Body, buf); err != nil {
					return
				}
				select {
				case <-time.After(time.Millisecond):
				case <-r.Context().Done():
					return
				case <-done:
					return
				}
			}
		}
	}))
	defer srv.Close()
	defer close(done)
	hc := Guard(&http.Client{}, window)

	start := time.Now()
	resp, err := hc.Get(srv.URL + "/download")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	var slow *TooSlowError
	if !errors.As(err, &slow) {
		t.Errorf("trickled download: %v, want a *TooSlowError", err)
	}
	if d := time.Since(start); d > 5*window {
		t.Errorf("trickled download: gave up after %s, want about %s", d, window)
	}

	// Tens of MB/s, below the (raised) minimum: the kernel's buffers
	// never fill so far that a write waits a whole window.
	MinBytes = 64 << 20
	start = time.Now()
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/upload", bytes.NewReader(make([]byte, 512<<20)))
	resp, err = hc.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	if !errors.As(err, &slow) {
		t.Errorf("slowly read upload: %v, want a *TooSlowError", err)
	}
	if d := time.Since(start); d > 10*window {
		t.Errorf("slowly read upload: gave up after %s, want about %s", d, window)
	}
}
