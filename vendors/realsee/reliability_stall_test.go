package realsee

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors/internal/stall"
)

// A connection that stops moving bytes fails the request after the stall
// timeout, whichever way it stopped; one that moves slowly does not.
func TestStallGuard(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/no-answer":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/answer-stops":
			w.Header().Set("Content-Length", "100")
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/stops-reading":
			io.CopyN(io.Discard, r.Body, 1<<10)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/slow":
			for i := 0; i < 8; i++ {
				w.Write([]byte("x"))
				w.(http.Flusher).Flush()
				time.Sleep(100 * time.Millisecond)
			}
		}
	}))
	defer srv.Close()
	defer close(release) // before Close, which waits for the handlers
	hc := stall.Guard(&http.Client{}, 300*time.Millisecond)

	for _, tc := range []struct {
		path string
		body []byte
	}{
		{"/no-answer", nil},
		{"/answer-stops", nil},
		{"/stops-reading", make([]byte, 64<<20)},
	} {
		start := time.Now()
		method := http.MethodGet
		if tc.body != nil {
			method = http.MethodPut
		}
		req, _ := http.NewRequest(method, srv.URL+tc.path, bytes.NewReader(tc.body))
		resp, err := hc.Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		// A stalled upload may end as the timeout of the write, or of the
		// read waiting beside it, which closes the connection under it.
		var ne net.Error
		if err == nil || (tc.body == nil && (!errors.As(err, &ne) || !ne.Timeout())) {
			t.Errorf("%s: err %v, want a timeout", tc.path, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: gave up after %s, want about 300ms", tc.path, d)
		}
	}

	// 8 bytes over 800ms: slow, but more than MinBytes (here 2) in every
	// 300ms window.
	defer func(m int64) { stall.MinBytes = m }(stall.MinBytes)
	stall.MinBytes = 2
	resp, err := hc.Get(srv.URL + "/slow")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err != nil {
		t.Errorf("an answer that keeps coming, slowly (800ms for 8 bytes): %v", err)
	}

	// Only plain transports are wrapped; a caller's own stays as it is.
	own := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) { return nil, errors.New("x") })}
	if stall.Guard(own, time.Second) != own {
		t.Error("a custom transport was wrapped")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
