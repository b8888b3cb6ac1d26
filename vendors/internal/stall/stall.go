// Package stall bounds how long a vendor connection may move nothing, for
// every vendor package alike.
package stall

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// DefaultTimeout bounds how long a connection may move nothing.
const DefaultTimeout = time.Minute

// Guard returns hc with connections that fail any read or write that moves
// nothing for d. A request to a vendor may rightly take many minutes (a
// part on a slow link, a PLY download), so no overall bound fits; without
// this, a peer that keeps the connection open and stops answering — a hung
// proxy, a NAT entry that died, a store that stopped reading — hangs the
// job for ever. The guard sits under the transport, so connection pooling
// is unchanged; a transport other than *http.Transport is left as it is,
// and so is everything when d <= 0.
func Guard(hc *http.Client, d time.Duration) *http.Client {
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	t, ok := rt.(*http.Transport)
	if !ok || d <= 0 {
		return hc
	}
	tr := t.Clone()
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: conn, idle: d}, nil
	}
	c := *hc
	c.Transport = &rateTransport{rt: tr, window: d}
	return &c
}

// MinBytes is the least a request's body, or an answer's, must move in
// each window of the stall timeout: less is a stall too. The idle guard
// below is reset by every byte, so a peer sending one byte every few
// seconds would pass it for ever; this bounds such a trickle to about one
// window. 64 KiB a minute is far below any link that can carry a scan. A
// variable so that tests can change it.
var MinBytes int64 = 64 << 10

// TooSlowError is a transfer that moved fewer than MinBytes in a window.
// It is a timeout, like the idle guard's.
type TooSlowError struct {
	Moved  int64
	Window time.Duration
}

func (e *TooSlowError) Error() string {
	return fmt.Sprintf("transfer stalled: %d bytes in %s, fewer than the %d a working link moves", e.Moved, e.Window, MinBytes)
}

// Timeout reports true: the transfer timed out.
func (e *TooSlowError) Timeout() bool { return true }

// rateTransport holds the bulk of a transfer to MinBytes per window: every
// request body (an upload), and the answer to a GET (a download). Other
// answers are not: a store rightly trickles spaces while it assembles a
// multipart upload (S3's CompleteMultipartUpload, a POST), and API calls
// are bounded as a whole (vendors.CallTimeout). Nor is an answer's header.
type rateTransport struct {
	rt     http.RoundTripper
	window time.Duration
}

func (t *rateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var sent *rateBody
	if req.Body != nil && req.Body != http.NoBody {
		r := req.Clone(req.Context()) // a RoundTripper must not change req
		sent = &rateBody{rc: req.Body, window: t.window}
		r.Body = sent
		req = r
	}
	resp, err := t.rt.RoundTrip(req)
	if err != nil && sent != nil {
		// The transport reports the closed connection; say why it closed.
		if slow := sent.tooSlow.Load(); slow != nil {
			err = fmt.Errorf("%w (%v)", slow, err)
		}
	}
	if req.Method == http.MethodGet && resp != nil && resp.Body != nil && resp.Body != http.NoBody {
		resp.Body = &rateBody{rc: resp.Body, window: t.window}
	}
	return resp, err
}

// CloseIdleConnections passes on to the transport (http.Client calls it).
func (t *rateTransport) CloseIdleConnections() {
	if c, ok := t.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// rateBody counts bytes per window, the first starting at the first Read.
// It checks when a Read returns; a Read that blocks is bounded by the idle
// guard, so a trickle is caught within a window and an idle timeout.
type rateBody struct {
	rc     io.ReadCloser
	window time.Duration
	start  time.Time
	moved  int64
	err    error
	// tooSlow is err when it is a *TooSlowError, for RoundTrip, which may
	// run in another goroutine than Read.
	tooSlow atomic.Pointer[TooSlowError]
}

func (b *rateBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	now := time.Now()
	if b.start.IsZero() {
		b.start = now
	}
	n, err := b.rc.Read(p)
	b.moved += int64(n)
	if err == nil {
		if now = time.Now(); now.Sub(b.start) >= b.window {
			if b.moved < MinBytes {
				slow := &TooSlowError{Moved: b.moved, Window: now.Sub(b.start).Round(time.Millisecond)}
				b.err = slow
				b.tooSlow.Store(slow)
				return n, b.err
			}
			b.start, b.moved = now, 0
		}
	}
	return n, err
}

func (b *rateBody) Close() error { return b.rc.Close() }

// idleConn is a connection whose reads and writes fail (with a timeout
// error) once no byte has moved for idle. A write also pushes back the
// deadline of a read already waiting, which is how an idle keep-alive
// connection waits for the answer to a new request.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	c.Conn.SetDeadline(time.Now().Add(c.idle))
	return c.Conn.Write(p)
}
